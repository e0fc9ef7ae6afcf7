"""`--texts FILE [--text-column NAME]`: the texts to embed, with their other columns as metadata.

Read before any model loads, so a bad file fails at once. Empty texts are skipped and
counted; `--sample N` draws its rows here, before anything is embedded.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from projector_bundle import ExportError
from projector_bundle.context.contextual import shorten
from projector_bundle.inputs.tables import TEXT_COLUMN, TXT, Metadata, RawTable, read_table, table_format
from projector_bundle.points.reductions import check_sample, sample_rows

TEXTS_FLAG = "--texts"
# A label shows the start of its text; the search box searches the labels.
LABEL_CHARS = 80
# The full-text column is cut here (a 10 MB text would otherwise be a 10 MB cell on the page);
# the model sees the text whole, up to its own limit.
FULL_TEXT_CHARS = 2_000
FULL_SUFFIX = " (full)"
# Lines listed in a message; more are counted.
LISTED = 5


@dataclass(frozen=True)
class Texts:
    """The texts to embed, in file order, with each one's line and its row's other columns."""

    source: str
    column: str
    texts: list[str]
    lines: list[int]
    metadata: Metadata | None  # the other columns, typed; None when there are none
    empty_lines: tuple[int, ...] = ()  # rows skipped because their text was empty (the first LISTED)
    empty: int = 0
    rows_read: int = 0  # before --sample

    @cached_property
    def columns(self) -> Metadata:
        """The tensor's columns: the shortened texts (the label), the full texts where any was
        shortened (cut at FULL_TEXT_CHARS), then the file's other columns."""
        labels = tuple(shorten(text, LABEL_CHARS) for text in self.texts)
        if labels == tuple(self.texts):
            own = Metadata((self.column,), (labels,), (False,))
        else:
            full = tuple(shorten(text, FULL_TEXT_CHARS) for text in self.texts)
            own = Metadata((self.column, self.column + FULL_SUFFIX), (labels, full), (False, False))
        return own if self.metadata is None else own.joined(self.metadata)

    def warnings(self) -> list[str]:
        out = []
        if self.empty:
            were = "text was" if self.empty == 1 else "texts were"
            where = lines(self.empty_lines, self.empty)
            out.append(f"{TEXTS_FLAG} {self.source}: {self.empty:,} empty {were} skipped ({where})")
        cut = sum(len(text) > FULL_TEXT_CHARS for text in self.texts)
        if cut:
            out.append(
                f"{TEXTS_FLAG} {self.source}: {cut:,} {'text is' if cut == 1 else 'texts are'} longer than "
                f"{FULL_TEXT_CHARS:,} characters; the page shows {'its' if cut == 1 else 'their'} start "
                "(the model reads up to its own limit)"
            )
        return out


def lines(listed: Sequence[int], count: int) -> str:
    """`line 3` or `lines 3, 7, ...`."""
    shown = ", ".join(f"{n:,}" for n in listed[:LISTED]) + (", ..." if count > LISTED else "")
    return f"line{'s' if count > 1 else ''} {shown}"


def read_texts(
    source: str,
    column: str = TEXT_COLUMN,
    *,
    sample: int | None = None,
    seed: int = 0,
    stdin: io.BufferedIOBase | None = None,
) -> Texts:
    """The texts of `source` (a table, a text file, or "-"), empty ones skipped, then `sample` drawn."""
    table = read_table(source, TEXTS_FLAG, stdin)
    if table_format(source) == TXT and column != TEXT_COLUMN:
        raise ExportError(f"--text-column {column}: {source} is plain text, one text a line, with no columns")
    return select_texts(table, column, sample=sample, seed=seed)


def select_texts(table: RawTable, column: str, *, sample: int | None = None, seed: int = 0) -> Texts:
    """The text column of `table` as texts, the rest as metadata: empty texts skipped, `sample` drawn."""
    if column not in table.names:
        there = ", ".join(table.names)
        if column == TEXT_COLUMN:
            raise ExportError(
                f"{TEXTS_FLAG} {table.source}: no column {column} (its columns: {there}); "
                "name the one with the texts with --text-column"
            )
        raise ExportError(f"--text-column {column}: no such column in {table.source} (its columns: {there})")
    values = table.column(column, "--text-column")
    keep = [i for i, value in enumerate(values) if value is not None and str(value).strip()]
    empty = [table.lines[i] for i, value in enumerate(values) if value is None or not str(value).strip()]
    if not keep:
        raise ExportError(f"{TEXTS_FLAG} {table.source}: no texts, only empty ones ({len(empty):,} rows)")
    rows_read = len(keep)
    if sample is not None:
        check_sample(sample, len(keep))
        keep = [keep[i] for i in sample_rows(len(keep), sample, seed).tolist()]
    rest = table.without(column)
    metadata = Metadata.from_table(rest).take(keep) if rest.names else None
    return Texts(
        source=table.source,
        column=column,
        texts=[str(values[i]) for i in keep],
        lines=[table.lines[i] for i in keep],
        metadata=metadata,
        empty_lines=tuple(empty[:LISTED]),
        empty=len(empty),
        rows_read=rows_read,
    )
