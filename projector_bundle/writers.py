"""Writers for the bundle's files: the only module besides `bundle` that touches disk."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import orjson

# Values per chunk of the TSV writer: memory stays bounded (about 12 bytes of text per
# value, a few chunks in flight) whatever the vocabulary size.
TSV_CHUNK_VALUES = 1 << 18

# The projector splits metadata rows on raw "\n" and fields on raw "\t", with no
# quoting, and skips lines that are blank after trimming; so control characters
# become their visible Unicode "control pictures" (U+2400 + code), and an empty
# or whitespace-only cell is spelled out as code points.
_CONTROL_PICTURES = {code: 0x2400 + code for code in range(0x20)} | {0x7F: 0x2421}


def escape_cell(text: str) -> str:
    """A metadata cell that keeps its row and stays visible in the projector."""
    if text == "":
        return "[empty]"
    if text.isspace():
        return "".join(f"[U+{ord(ch):04X}]" for ch in text)
    if text.isprintable():  # the common case: no control character to replace (a fast check)
        return text
    return text.translate(_CONTROL_PICTURES)


def write_metadata(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """A metadata TSV; the header row is written only when there are two or more columns,
    because the projector takes a first line with a tab as the header and one without as data."""
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        if len(header) > 1:
            out.write("\t".join(escape_cell(h) for h in header) + "\n")
        for row in rows:
            out.write("\t".join(escape_cell(cell) for cell in row) + "\n")


def write_tensor_bytes(path: Path, matrix: np.ndarray) -> None:
    """Raw little-endian float32, row-major: what the projector reads from a `.bytes` path."""
    np.ascontiguousarray(matrix, dtype="<f4").tofile(path)


def write_tensor_tsv(path: Path, matrix: np.ndarray, progress: Callable[[int], None] | None = None) -> None:
    """One row per vector, tab-separated, no header; every value parses back to the same float32.

    Values are the shortest decimals that round-trip through float64 to float32 (how the
    projector parses them), formatted in C on every core; `progress` gets the rows written.
    """
    with open(path, "wb") as out:
        for rows, text in format_tsv_chunks(matrix):
            out.write(text)
            if progress is not None:
                progress(rows)


def format_tsv_chunks(matrix: np.ndarray) -> Iterator[tuple[int, bytes | memoryview]]:
    """(rows, text) per chunk, in order; a few chunks format in parallel threads."""
    from .tsvfloat import format_rows, load_library

    rows, dim = matrix.shape
    step = max(1, TSV_CHUNK_VALUES // max(dim, 1))
    chunks = (matrix[start : start + step] for start in range(0, rows, step))
    if load_library() is None:  # no C compiler: exact but slow
        yield from ((len(chunk), format_rows_python(chunk)) for chunk in chunks)
        return
    workers = usable_cores()
    with ThreadPoolExecutor(workers) as pool:
        pending: deque = deque()
        for chunk in chunks:
            pending.append((len(chunk), pool.submit(format_rows, chunk)))
            if len(pending) > workers:
                count, future = pending.popleft()
                yield count, future.result()
        while pending:
            count, future = pending.popleft()
            yield count, future.result()


def usable_cores() -> int:
    try:
        return max(1, min(len(os.sched_getaffinity(0)), 8))
    except AttributeError:  # not on Linux
        return max(1, min(os.cpu_count() or 1, 8))


# JavaScript's Number() reads "Infinity", not Python's "inf".
_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def format_rows_python(matrix: np.ndarray) -> bytes:
    """The fallback: `%.9g` has enough digits for any float32 to round-trip (longer than the C path's)."""
    with np.errstate(invalid="ignore"):  # signalling NaNs stay NaN
        values = matrix.astype(np.float64)
    if np.isfinite(values).all():
        line = "\t".join(["%.9g"] * matrix.shape[1]) + "\n"
        text = "".join(line % tuple(row) for row in values.tolist())
    else:
        cells = ((f"{v:.9g}" for v in row) for row in values.tolist())
        text = "".join("\t".join(_NON_FINITE.get(c, c) for c in row) + "\n" for row in cells)
    return text.encode("ascii")


def write_json(path: Path, value: object) -> None:
    path.write_bytes(orjson.dumps(value, option=orjson.OPT_INDENT_2) + b"\n")


def read_tensor_tsv(path: Path) -> np.ndarray:
    """Read a vectors TSV back (for tests and `validate`)."""
    return np.loadtxt(path, dtype=np.float32, delimiter="\t", ndmin=2)


def read_tensor_bytes(path: Path, dim: int) -> np.ndarray:
    return np.fromfile(path, dtype="<f4").reshape(-1, dim)
