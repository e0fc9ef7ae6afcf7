"""Words for messages: one exception on one line, counts with their nouns, sizes in readable units."""

from __future__ import annotations

from collections.abc import Collection

from projector_bundle.projector.formats import MIB


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (or its type, when it has none)."""
    return " ".join(str(exc).split()) or type(exc).__name__


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def describe_size(size: int) -> str:
    """Bytes as MiB, or as KiB where MiB would round to nothing (the unit of every size we print)."""
    return f"{size / MIB:,.1f} MiB" if size >= MIB / 10 else f"{size / 1024:,.1f} KiB"


def over_file_limit(name: str, size: int, limit: int) -> str:
    """The one wording for a file over a size limit."""
    return f"{name} is {_limit_size(size)}, over the {_limit_size(limit)} file limit"


def _limit_size(size: int) -> str:
    """A size for a limit's message: in bytes where KiB would round a file and a small limit alike."""
    return describe_size(size) if size >= 10_000 else f"{size:,} bytes"


def printable(text: str) -> str:
    """`text` as UTF-8 can hold it: the bytes of a non-UTF-8 file name (which Python keeps as
    lone surrogates) shown as `\\xff` escapes, so a page, a JSON file or a message can carry it."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that no file name decodes to
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def unclashed(base: str, taken: Collection[str], pattern: str) -> str:
    """`base`, or where it is taken the first `pattern.format(base, n)` for n = 2, 3, ... that is not."""
    name, number = base, 1
    while name in taken:
        number += 1
        name = pattern.format(base, number)
    return name
