"""Words for messages: one exception on one line, counts with their nouns, sizes in readable units."""

from __future__ import annotations

from projector_bundle.projector.formats import MB


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (or its type, when it has none)."""
    return " ".join(str(exc).split()) or type(exc).__name__


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def describe_size(size: int) -> str:
    """Bytes as MB, or as kB where MB would round to nothing."""
    return f"{size / MB:,.1f} MB" if size >= MB / 10 else f"{size / 1000:,.1f} kB"


def printable(text: str) -> str:
    """`text` as UTF-8 can hold it: the bytes of a non-UTF-8 file name (which Python keeps as
    lone surrogates) shown as `\\xff` escapes, so a page, a JSON file or a message can carry it."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that no file name decodes to
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
