"""Vectors the user already has: `--vectors FILE [--metadata FILE]`, or a matrix handed in from Python.

`EmbeddingInput` is what both routes make: a name, a float32 matrix (points x dimensions)
and its typed `Metadata`. `--vectors` reads one from a file (`read_vectors`); a notebook
builds one with `EmbeddingInput.from_arrays(name, matrix, {"column": values, ...})`.
No model is loaded for these.

Files, by suffix:
  .npy               a 2-D array
  .npz[:NAME]        the array NAME (or the only array)
  .parquet[:COLUMN]  a list column (the other columns are metadata), or every column numeric
  .csv[:COLUMN]      the same: a column of JSON lists such as "[0.1, 0.2]", or numeric columns
                     (a first row that is not all numbers is the header)
  .tsv               as TensorBoard writes it: one vector a line, values separated by tabs, no header
float16, float32 and float64 values (and integers) are accepted and stored as float32.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from projector_bundle import ExportError
from projector_bundle.inputs.tables import (
    Metadata,
    RawTable,
    decode_text,
    import_parquet,
    parse_delimited,
    read_bytes,
    read_table,
)
from projector_bundle.points.tensors import SpriteImage

VECTORS_FLAG, METADATA_FLAG = "--vectors", "--metadata"
NPY, NPZ, PARQUET, CSV, TSV = ".npy", ".npz", ".parquet", ".csv", ".tsv"
VECTOR_SUFFIXES = (NPY, NPZ, PARQUET, CSV, TSV)
# Suffixes whose file can name the array or column to read after a colon.
NAMED = (NPZ, PARQUET, CSV)
# numpy kinds accepted as vectors: integers and floats (float16/32/64) become float32.
NUMBER_KINDS = "iuf"


@dataclass(frozen=True)
class EmbeddingInput:
    """A matrix the user brings and its metadata: the points of one tensor, no model needed."""

    name: str
    matrix: np.ndarray  # (points, dimensions) float32, C order, every value finite
    metadata: Metadata | None = None
    # What a TensorBoard log carries besides (`from-tensorboard`): its saved States, shipped after
    # the bundle's own bookmarks, and a sprite of thumbnails (also `add_embedding(label_img=...)`).
    # Both number the points, so such vectors cannot be sampled.
    bookmarks: tuple[Mapping[str, object], ...] = ()
    sprite: SpriteImage | None = None

    @classmethod
    def from_arrays(
        cls,
        name: str,
        matrix: object,
        metadata: Mapping[str, Sequence[object]] | Metadata | None = None,
        *,
        source: str | None = None,
    ) -> EmbeddingInput:
        """Check and convert: a 2-D array of numbers (stored float32, every value finite), and
        metadata columns with as many rows. `source` names the data in messages (default `name`)."""
        source = source or name
        vectors = as_float32(np.asarray(matrix), source)
        if metadata is not None and not isinstance(metadata, Metadata):
            metadata = Metadata.from_columns(metadata)
        if metadata is not None and metadata.rows != vectors.shape[0]:
            raise ExportError(
                f"{source}: the metadata has {metadata.rows:,} rows but the vectors have {vectors.shape[0]:,}"
            )
        return cls(name, vectors, metadata)


def as_float32(array: np.ndarray, source: str) -> np.ndarray:
    """`array` as a C-ordered float32 matrix, refused with a message when it cannot be one."""
    if array.dtype.kind not in NUMBER_KINDS:
        raise ExportError(f"{source}: expected float16, float32 or float64 values, got {array.dtype}")
    if array.ndim != 2:
        shape = "x".join(map(str, array.shape)) or "a scalar"
        raise ExportError(f"{source}: expected a 2-D array (points x dimensions), got shape {shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ExportError(f"{source}: no vectors (shape {array.shape[0]}x{array.shape[1]})")
    matrix = np.ascontiguousarray(array, dtype=np.float32)
    check_finite_rows(matrix, source)
    return matrix


def check_finite_rows(matrix: np.ndarray, source: str) -> None:
    """NaN or infinity anywhere is an error naming the first row that holds one (rows from 1).
    float64 values beyond float32's range become infinity here, and are named the same way."""
    bad = ~np.isfinite(matrix).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        more = f" ({len(rows):,} rows in all)" if len(rows) > 1 else ""
        raise ExportError(
            f"{source}: row {rows[0] + 1:,} holds NaN or infinity (or a value beyond float32){more}; "
            "the projector cannot place such a point"
        )


def split_spec(spec: str) -> tuple[str, str | None]:
    """`file.npz:name` -> (file.npz, name); a colon is read as the separator only after a suffix that takes a name."""
    head, colon, tail = spec.rpartition(":")
    if colon and Path(head).suffix.lower() in NAMED and tail:
        return head, tail
    return spec, None


def read_vectors(spec: str, metadata: str | None = None) -> EmbeddingInput:
    """`--vectors SPEC [--metadata FILE]`: the matrix, and its metadata (the file's own other
    columns for Parquet and CSV with a list column, unless `--metadata` gives them)."""
    path, name = split_spec(spec)
    suffix = Path(path).suffix.lower()
    if suffix not in VECTOR_SUFFIXES:
        raise ExportError(f"{VECTORS_FLAG} {spec}: unknown format; expected {', '.join(VECTOR_SUFFIXES)}")
    if name is not None and suffix not in NAMED:
        raise ExportError(f"{VECTORS_FLAG} {spec}: only {', '.join(NAMED)} files name an array or column")
    source = f"{VECTORS_FLAG} {spec}"
    if suffix == NPY:
        matrix, own = load_numpy(path, spec), None
    elif suffix == NPZ:
        matrix, own = load_npz(path, spec, name), None
    elif suffix == PARQUET:
        matrix, own = load_parquet(path, spec, name)
    elif suffix == CSV:
        matrix, own = load_csv(path, spec, name)
    else:
        matrix, own = load_tsv(path, spec), None
    table = read_table(metadata, METADATA_FLAG) if metadata is not None else own
    vectors = as_float32(matrix, source)
    meta = Metadata.from_table(table) if table is not None and table.names else None
    if meta is not None and meta.rows != vectors.shape[0]:
        raise ExportError(
            f"{METADATA_FLAG} {metadata}: has {meta.rows:,} rows but {VECTORS_FLAG} {spec} has {vectors.shape[0]:,}"
        )
    stem = Path(path).stem
    return EmbeddingInput(f"{stem}/{name}" if name else stem, vectors, meta)


def _open_error(spec: str, exc: OSError) -> ExportError:
    if isinstance(exc, FileNotFoundError):
        return ExportError(f"{VECTORS_FLAG} {spec}: no such file")
    if isinstance(exc, IsADirectoryError):
        return ExportError(f"{VECTORS_FLAG} {spec}: is a folder, not a file")
    return ExportError(f"{VECTORS_FLAG} {spec}: cannot read it: {exc.strerror or exc}")


def load_numpy(path: str, spec: str) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except OSError as exc:
        raise _open_error(spec, exc) from None
    except ValueError as exc:  # a pickled object array, or not an .npy file at all
        raise ExportError(f"{VECTORS_FLAG} {spec}: not a numeric .npy array ({exc})") from None
    if not isinstance(array, np.ndarray):
        raise ExportError(f"{VECTORS_FLAG} {spec}: not an .npy array")
    return array


def load_npz(path: str, spec: str, name: str | None) -> np.ndarray:
    try:
        archive = np.load(path, allow_pickle=False)
    except OSError as exc:
        raise _open_error(spec, exc) from None
    except ValueError as exc:
        raise ExportError(f"{VECTORS_FLAG} {spec}: not an .npz archive ({exc})") from None
    with archive:
        names = list(archive.files)
        if not names:
            raise ExportError(f"{VECTORS_FLAG} {spec}: the archive holds no arrays")
        if name is None and len(names) > 1:
            raise ExportError(
                f"{VECTORS_FLAG} {spec}: the archive holds {len(names)} arrays ({', '.join(names)}); "
                f"name one as {path}:NAME"
            )
        chosen = name or names[0]
        if chosen not in names:
            raise ExportError(f"{VECTORS_FLAG} {spec}: no array {chosen!r} (it holds {', '.join(names)})")
        try:
            return np.asarray(archive[chosen])
        except ValueError as exc:
            raise ExportError(f"{VECTORS_FLAG} {spec}: not a numeric array ({exc})") from None


def load_parquet(path: str, spec: str, name: str | None) -> tuple[np.ndarray, RawTable | None]:
    """A list column (named, or the only one) and the other columns as metadata; else every column as a dimension."""
    import pyarrow as pa
    import pyarrow.compute as pc

    parquet = import_parquet(spec, VECTORS_FLAG)
    try:
        table = parquet.read_table(path)
    except OSError as exc:
        raise _open_error(spec, exc) from None
    except ValueError as exc:
        raise ExportError(f"{VECTORS_FLAG} {spec}: not a readable Parquet file ({exc})") from None
    if table.num_rows == 0:
        raise ExportError(f"{VECTORS_FLAG} {spec}: the file is empty")
    names = list(table.column_names)
    lists = [n for n in names if pa.types.is_list(table[n].type) or pa.types.is_large_list(table[n].type)]
    lists += [n for n in names if pa.types.is_fixed_size_list(table[n].type)]
    chosen = _choose_column(spec, path, names, lists, name)
    if chosen is None:
        return _numeric_columns(spec, {n: table[n].to_numpy(zero_copy_only=False) for n in names}), None
    column = table[chosen].combine_chunks()
    if column.null_count:
        row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0]) + 1
        raise ExportError(f"{VECTORS_FLAG} {spec}: row {row:,} of column {chosen} has no vector")
    lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False)
    _check_widths(spec, lengths, chosen)
    values = column.flatten().to_numpy(zero_copy_only=False)
    matrix = np.asarray(values).reshape(len(lengths), int(lengths[0]))
    rest = [n for n in names if n != chosen]
    own = RawTable(spec, tuple(rest), tuple(table[n].to_pylist() for n in rest), list(range(1, table.num_rows + 1)))
    return matrix, own


def _choose_column(spec: str, path: str, names: list[str], lists: list[str], name: str | None) -> str | None:
    """The list column that holds the vectors: `name`, else the only one; None when there is none."""
    if name is not None:
        if name not in names:
            raise ExportError(f"{VECTORS_FLAG} {spec}: no column {name!r} (its columns: {', '.join(names)})")
        return name
    if len(lists) > 1:
        raise ExportError(
            f"{VECTORS_FLAG} {spec}: {len(lists)} columns hold lists ({', '.join(lists)}); name one as {path}:COLUMN"
        )
    return lists[0] if lists else None


def _check_widths(spec: str, lengths: np.ndarray, column: str) -> None:
    """Every vector as long as the first: a ragged file is an error naming the first odd row."""
    odd = np.flatnonzero(lengths != lengths[0])
    if odd.size:
        row = int(odd[0])
        raise ExportError(
            f"{VECTORS_FLAG} {spec}: row {row + 1:,} of column {column} has {int(lengths[row]):,} values "
            f"but row 1 has {int(lengths[0]):,}"
        )
    if lengths[0] == 0:
        raise ExportError(f"{VECTORS_FLAG} {spec}: the vectors of column {column} are empty")


def _numeric_columns(spec: str, columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """Every column a dimension: each must hold numbers."""
    for name, values in columns.items():
        if values.dtype.kind not in NUMBER_KINDS:
            raise ExportError(
                f"{VECTORS_FLAG} {spec}: column {name} holds {values.dtype} values; expected a list column "
                "of vectors or only numeric columns (give other columns with --metadata)"
            )
    return np.column_stack(list(columns.values()))


def load_csv(path: str, spec: str, name: str | None) -> tuple[np.ndarray, RawTable | None]:
    """A column of JSON lists (named, or the only one) with the others as metadata; else numeric columns."""
    text = decode_text(read_bytes(path, VECTORS_FLAG), spec, VECTORS_FLAG)
    first = text.split("\n", 1)[0]
    if _all_numbers(first.split(",")):  # no header: every row a vector
        return _parse_rows(text, spec, ","), None
    table = parse_delimited(text, spec, VECTORS_FLAG, ",")
    lists = [
        n for n, col in zip(table.names, table.columns, strict=True) if col and str(col[0]).lstrip().startswith("[")
    ]
    chosen = _choose_column(spec, path, list(table.names), lists, name)
    if chosen is None:
        arrays = {
            n: _column_numbers(spec, n, col, table.lines) for n, col in zip(table.names, table.columns, strict=True)
        }
        return np.column_stack(list(arrays.values())), None
    vectors = [
        _json_vector(spec, chosen, cell, line)
        for cell, line in zip(table.column(chosen, VECTORS_FLAG), table.lines, strict=True)
    ]
    lengths = np.array([len(v) for v in vectors])
    _check_widths(spec, lengths, chosen)
    return np.array(vectors, dtype=np.float64), table.without(chosen)


def _all_numbers(cells: Sequence[str]) -> bool:
    try:
        [float(c) for c in cells]
    except ValueError:
        return False
    return True


def _column_numbers(spec: str, name: str, cells: Sequence[object], lines: Sequence[int]) -> np.ndarray:
    try:
        return np.array([float(str(c)) for c in cells], dtype=np.float64)
    except ValueError:
        line = next(line for c, line in zip(cells, lines, strict=True) if not _all_numbers([str(c)]))
        raise ExportError(
            f"{VECTORS_FLAG} {spec}: line {line:,}, column {name} is not a number; expected a list column "
            "of vectors or only numeric columns (give other columns with --metadata)"
        ) from None


def _json_vector(spec: str, column: str, cell: object, line: int) -> list[float]:
    try:
        value = json.loads(str(cell))
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, list) or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        raise ExportError(f"{VECTORS_FLAG} {spec}: line {line:,}, column {column} is not a list of numbers")
    return value


def load_tsv(path: str, spec: str) -> np.ndarray:
    """TensorBoard's vectors TSV: a vector a line, tab-separated, no header; blank lines skipped."""
    return _parse_rows(decode_text(read_bytes(path, VECTORS_FLAG), spec, VECTORS_FLAG), spec, "\t")


def _parse_rows(text: str, spec: str, delimiter: str) -> np.ndarray:
    """Rows of numbers, one a line: a row of another width, or a cell that is no number, is named by its line."""
    numbered = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    widths = np.array([line.count(delimiter) + 1 for _, line in numbered])
    odd = np.flatnonzero(widths != widths[0])
    if odd.size:
        odd_line = numbered[int(odd[0])][0]
        raise ExportError(
            f"{VECTORS_FLAG} {spec}: line {odd_line:,} has {int(widths[odd[0]]):,} values but line "
            f"{numbered[0][0]:,} has {int(widths[0]):,}"
        )
    try:
        return np.loadtxt(io.StringIO("\n".join(line for _, line in numbered)), delimiter=delimiter, ndmin=2)
    except ValueError:
        for number, line in numbered:
            if not _all_numbers(line.split(delimiter)):
                raise ExportError(
                    f"{VECTORS_FLAG} {spec}: line {number:,} holds a value that is not a number"
                ) from None
        raise
