"""Tables the user brings: CSV, TSV, JSON Lines, Parquet or plain text, read into typed columns.

`read_table` reads a file into raw values, a column per field in file order, each row
with the line (or row) it came from for messages; `Metadata` turns columns of values
into cells typed as the projector will read them: a column whose every present value
is a number stays numeric (its gaps written empty, so "Color by" gives a gradient),
anything else is text (escaped when written, by `projector.cells`). Row order is kept.

`Metadata.from_columns` is the in-memory door: a dict of column name -> values
(a notebook's lists or arrays) becomes the same typed metadata.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from projector_bundle import ExportError
from projector_bundle.files import file_kind, unreadable_input
from projector_bundle.projector.cells import MISSING
from projector_bundle.projector.formats import MIB
from projector_bundle.text import describe_size, unclashed

STDIN = "-"
# Table formats by file suffix; anything else is read as plain text, one value a line.
CSV, TSV, JSONL, PARQUET, TXT = "csv", "tsv", "jsonl", "parquet", "txt"
SUFFIXES = {".csv": CSV, ".tsv": TSV, ".tab": TSV, ".jsonl": JSONL, ".ndjson": JSONL, ".parquet": PARQUET}
FORMATS_HELP = ".txt, .csv, .tsv, .jsonl, .ndjson or .parquet"
# The one column of a plain-text file.
TEXT_COLUMN = "text"
# A table is read whole (its texts and columns are kept for the metadata): a bound, so a device
# or a runaway pipe is one error line, not a MemoryError.
MAX_TABLE_BYTES = 4096 * MIB
# The Python package that reads Parquet files.
PARQUET_PACKAGE = "pyarrow"

# A decimal number as a CSV cell writes it; JavaScript's Number() reads the same value.
# Hexadecimal, "Infinity" and other spellings JavaScript accepts are left as text.
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_BOM = "\ufeff"
# csv refuses fields over 131,072 characters by default; a long text is read whole here
# and cut later, where the cut is counted and reported.
_FIELD_LIMIT = 1 << 30


@dataclass(frozen=True)
class RawTable:
    """A file's rows as read: column names in file order, values per column, and each row's
    line number in the file (its row number for Parquet) for messages."""

    source: str
    names: tuple[str, ...]
    columns: tuple[list[object], ...]
    lines: list[int]

    @property
    def rows(self) -> int:
        return len(self.lines)

    def column(self, name: str, flag: str) -> list[object]:
        """The values of column `name`; a missing one is an error listing the columns there are."""
        if name not in self.names:
            there = ", ".join(self.names)
            raise ExportError(f"{flag} {name}: no such column in {self.source} (its columns: {there})")
        return self.columns[self.names.index(name)]

    def without(self, name: str) -> RawTable:
        """The table less one column."""
        keep = [i for i, n in enumerate(self.names) if n != name]
        return RawTable(
            self.source, tuple(self.names[i] for i in keep), tuple(self.columns[i] for i in keep), self.lines
        )


@dataclass(frozen=True)
class Metadata:
    """Metadata columns as the projector reads them: a header, and per column its cells
    (text, or numbers as JavaScript reads them with `MISSING` for a gap) and whether it is numeric."""

    header: tuple[str, ...]
    columns: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...]

    @property
    def rows(self) -> int:
        return len(self.columns[0]) if self.columns else 0

    def row_cells(self) -> list[list[str]]:
        """The cells a row at a time, as a tensor's metadata rows."""
        return [list(row) for row in zip(*self.columns, strict=True)]

    def joined(self, other: Metadata) -> Metadata:
        """These columns, then `other`'s (as many rows); a repeated name gets ` (2)`."""
        header = unique_names([*self.header, *other.header])
        return Metadata(tuple(header), self.columns + other.columns, self.numeric + other.numeric)

    def take(self, indices: Sequence[int]) -> Metadata:
        """The rows `indices`, in that order."""
        columns = tuple(tuple(cells[i] for i in indices) for cells in self.columns)
        return Metadata(self.header, columns, self.numeric)

    @classmethod
    def from_columns(cls, columns: Mapping[str, Sequence[object]]) -> Metadata:
        """Typed metadata from column name -> values (str, int, float, bool, None; a numpy
        array's values too): every column must have the same number of rows."""
        lengths = {name: len(values) for name, values in columns.items()}
        if len(set(lengths.values())) > 1:
            counts = ", ".join(f"{name!r} has {n:,}" for name, n in lengths.items())
            raise ExportError(f"metadata columns differ in length: {counts}")
        typed = [typed_column(list(values)) for values in columns.values()]
        names = unique_names(list(columns))
        return cls(tuple(names), tuple(cells for cells, _ in typed), tuple(numeric for _, numeric in typed))

    @classmethod
    def from_table(cls, table: RawTable) -> Metadata:
        return cls.from_columns(dict(zip(table.names, table.columns, strict=True)))


def typed_column(values: Sequence[object]) -> tuple[tuple[str, ...], bool]:
    """A column's cells and whether the projector will read it as numbers.

    Numeric when every present value is a number: an int or float, or text spelling a
    decimal number (as a CSV gives them). None, NaN and empty text are gaps. Anything
    else makes the column text; true/false stay words, so a flag colours by category.
    """
    present = [v for v in values if not _is_gap(v)]
    numeric = bool(present) and all(_is_number(v) for v in present)
    if numeric:
        return tuple(MISSING if _is_gap(v) else _number_cell(v) for v in values), True
    return tuple(_text_cell(v) for v in values), False


def _is_gap(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and not value.strip()


def _is_number(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, str):
        return _DECIMAL.fullmatch(value.strip()) is not None
    return isinstance(value, int | float) or _numpy_number(value)


def _numpy_number(value: object) -> bool:
    kind = getattr(getattr(value, "dtype", None), "kind", None)
    return kind in ("i", "u", "f")


def _number_cell(value: object) -> str:
    if isinstance(value, str):
        return value.strip()
    number = value.item() if hasattr(value, "item") else value  # a numpy scalar
    if isinstance(number, float):
        if math.isinf(number):
            return "Infinity" if number > 0 else "-Infinity"
        return repr(number)
    return str(number)


def _text_cell(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # a numpy scalar
        return _text_cell(value.item())
    return str(value)


def unique_names(names: Sequence[str]) -> list[str]:
    """Column names as headers: an empty one becomes `column N`, a repeated one gets ` (2)`."""
    out: list[str] = []
    for index, name in enumerate(names, 1):
        out.append(unclashed(str(name).strip() or f"column {index}", out, "{} ({})"))
    return out


def table_format(source: str) -> str:
    """The format of `source` by its suffix (stdin and unknown suffixes are plain text)."""
    return SUFFIXES.get(Path(source).suffix.lower(), TXT) if source != STDIN else TXT


def read_table(source: str, flag: str, stdin: io.BufferedIOBase | None = None) -> RawTable:
    """The rows of `source` (a file, or "-" for standard input as plain text), by its format."""
    kind = table_format(source)
    if kind == PARQUET:
        return read_parquet(source, flag)
    data = read_bytes(source, flag, stdin)
    text = decode_text(data, source, flag)
    if kind == JSONL:
        return parse_jsonl(text, source, flag)
    if kind in (CSV, TSV):
        return parse_delimited(text, source, flag, "," if kind == CSV else "\t")
    return parse_lines(text, source)


def read_bytes(source: str, flag: str, stdin: io.BufferedIOBase | None = None) -> bytes:
    """A file's bytes (or standard input's, or a pipe's), at most `MAX_TABLE_BYTES` of them; a missing,
    empty, unreadable or oversized one, or a device, is an error."""
    if source == STDIN:
        import sys

        data = (stdin or sys.stdin.buffer).read(MAX_TABLE_BYTES + 1)
    else:
        try:
            mode = os.stat(source).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode) or stat.S_ISDIR(mode)):
                raise ExportError(f"{flag} {source}: is {file_kind(mode)}, not a file")
            with open(source, "rb") as file:
                data = file.read(MAX_TABLE_BYTES + 1)
        except OSError as exc:
            raise unreadable_input(flag, source, exc) from None
    if len(data) > MAX_TABLE_BYTES:
        raise ExportError(
            f"{flag} {source}: more than {describe_size(MAX_TABLE_BYTES)}, the most a table is read into memory; "
            "split it, or sample its rows beforehand"
        )
    if not data.strip():
        raise ExportError(f"{flag} {source}: the file is empty")
    return data


def decode_text(data: bytes, source: str, flag: str) -> str:
    """UTF-8 text; a NUL byte or invalid UTF-8 is an error naming its line and byte offset."""
    nul = data.find(b"\0")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise ExportError(
            f"{flag} {source}: not text (a NUL byte on line {line:,}, byte offset {nul:,}); expected UTF-8 text"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ExportError(
            f"{flag} {source}: not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line:,}, "
            f"byte offset {exc.start:,})"
        ) from None
    return text.removeprefix(_BOM)


def parse_lines(text: str, source: str) -> RawTable:
    """Plain text: one value a line in column `text`, blank lines kept (as empty values) so
    they can be counted where empty texts are skipped."""
    lines = text.splitlines()
    values: list[object] = [line.strip() for line in lines]
    return RawTable(source, (TEXT_COLUMN,), (values,), list(range(1, len(lines) + 1)))


def parse_delimited(text: str, source: str, flag: str, delimiter: str) -> RawTable:
    """CSV or TSV with a header row; a malformed row (a stray quote, a wrong field count) is
    an error naming its line. Blank lines are skipped."""
    csv.field_size_limit(_FIELD_LIMIT)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    records: list[list[str]] = []
    lines: list[int] = []
    start = 1
    try:
        for record in reader:
            if record:
                records.append(record)
                lines.append(start)
            start = reader.line_num + 1
    except csv.Error as exc:
        raise ExportError(f"{flag} {source}: line {reader.line_num:,} is malformed ({exc})") from None
    if not records:
        raise ExportError(f"{flag} {source}: the file is empty")
    header, rows, lines = records[0], records[1:], lines[1:]
    width = len(header)
    for record, line in zip(rows, lines, strict=True):
        if len(record) != width:
            raise ExportError(f"{flag} {source}: line {line:,} has {len(record)} fields but the header has {width}")
    columns: tuple[list[object], ...] = tuple([record[i] for record in rows] for i in range(width))
    return RawTable(source, tuple(unique_names(header)), columns, lines)


def parse_jsonl(text: str, source: str, flag: str) -> RawTable:
    """JSON Lines: one object a line; columns in the order their keys first appear, a key
    missing from a row is a gap. Blank lines are skipped."""
    rows: list[dict[str, object]] = []
    lines: list[int] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ExportError(f"{flag} {source}: line {number:,} is not JSON ({exc.msg}, column {exc.colno})") from None
        if not isinstance(value, dict):
            raise ExportError(f"{flag} {source}: line {number:,} is a JSON {type(value).__name__}, expected an object")
        rows.append(value)
        lines.append(number)
    if not rows:
        raise ExportError(f"{flag} {source}: the file is empty")
    names = list(dict.fromkeys(key for row in rows for key in row))
    columns = tuple([row.get(name) for row in rows] for name in names)
    return RawTable(source, tuple(names), columns, lines)


def read_parquet(source: str, flag: str) -> RawTable:
    """A Parquet file, read row group by row group into columns."""
    parquet = import_parquet(source, flag)
    path = Path(source)
    if not path.is_file():
        raise ExportError(f"{flag} {source}: {'is a folder, not a file' if path.is_dir() else 'no such file'}")
    try:
        file = parquet.ParquetFile(path)
        names = tuple(file.schema_arrow.names)
        columns: tuple[list[object], ...] = tuple([] for _ in names)
        for group in range(file.num_row_groups):
            batch = file.read_row_group(group)
            for values, column in zip(columns, batch.columns, strict=True):
                values += column.to_pylist()
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise ExportError(f"{flag} {source}: not a readable Parquet file ({exc})") from None
    rows = len(columns[0]) if columns else 0
    if rows == 0:
        raise ExportError(f"{flag} {source}: the file is empty")
    return RawTable(source, tuple(unique_names(names)), columns, list(range(1, rows + 1)))


def import_parquet(source: str, flag: str):  # type: ignore[no-untyped-def]
    """pyarrow.parquet, or an error naming the package to install."""
    try:
        import pyarrow.parquet as parquet
    except ImportError:
        raise ExportError(
            f"{flag} {source}: reading Parquet needs the {PARQUET_PACKAGE} package (pip install {PARQUET_PACKAGE})"
        ) from None
    return parquet
