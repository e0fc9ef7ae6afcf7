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
    return f"{size / MB:.1f} MB" if size >= MB / 10 else f"{size / 1000:.1f} kB"
