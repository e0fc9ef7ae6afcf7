"""Writers for the files of one tensor (vectors, metadata) and for JSON; `bundle` decides what goes where."""

from __future__ import annotations

import hashlib
import itertools
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Final, Literal

import numpy as np
import orjson

from projector_bundle.output.manifest import WrittenFile
from projector_bundle.points.blocks import release_rows, row_blocks, take_rows
from projector_bundle.projector.cells import escape_cell
from projector_bundle.projector.formats import PROJECTOR_CHUNK_BYTES, SEQ_NEXT

# Values per chunk of the TSV writer: memory stays bounded (about 12 bytes of text per
# value, a few chunks in flight) whatever the vocabulary size.
TSV_CHUNK_VALUES = 1 << 18


# Bytes gathered before one write and one hash update: few system calls, bounded memory.
WRITE_CHUNK_BYTES = 1 << 20


def write_chunks(path: Path, chunks: Iterable[bytes | memoryview]) -> WrittenFile:
    """Write `chunks` to a new file in order, hashing them on the way, so nothing is read back."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "wb") as out:
        for chunk in chunks:
            out.write(chunk)
            digest.update(chunk)
            size += memoryview(chunk).nbytes
    return WrittenFile(size, digest.hexdigest())


def write_metadata(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> WrittenFile:
    """A metadata TSV; the header row is written only when there are two or more columns,
    because the projector takes a first line with a tab as the header and one without as data.
    `SEQ_NEXT` cells (point indices or empty) are written raw: escaped, an empty one would
    read as NaN, not as the null that ends its path. `rows` may be a generator: it is
    consumed once, a megabyte of text at a time."""
    return write_chunks(path, metadata_chunks(header, rows))


def metadata_chunks(header: Sequence[str], rows: Iterable[Sequence[str]]) -> Iterator[bytes]:
    """The metadata file's bytes, about `WRITE_CHUNK_BYTES` at a time."""
    lines = [header] if len(header) > 1 else []
    raw = {index for index, column in enumerate(header) if column == SEQ_NEXT}
    position = 0
    pending: list[bytes] = []
    pending_bytes = 0
    for row in itertools.chain(lines, rows):
        cells = (c if i in raw else escape_cell(c) for i, c in enumerate(row)) if raw else map(escape_cell, row)
        line = ("\t".join(cells) + "\n").encode("utf-8")
        if position % PROJECTOR_CHUNK_BYTES + len(line) > PROJECTOR_CHUNK_BYTES:  # the line meets a boundary
            line = b"\n" * boundary_padding(position, line) + line
        pending.append(line)
        position += len(line)
        pending_bytes += len(line)
        if pending_bytes >= WRITE_CHUNK_BYTES:
            yield b"".join(pending)
            pending, pending_bytes = [], 0
    if pending:
        yield b"".join(pending)


def boundary_padding(position: int, line: bytes) -> int:
    """How many blank lines to write before `line` (UTF-8, starting at byte `position`) so
    that no chunk boundary of the projector's reader falls inside one of its characters.
    The projector skips blank lines, so the padding costs no row."""
    boundary = (position // PROJECTOR_CHUNK_BYTES + 1) * PROJECTOR_CHUNK_BYTES
    for pad in range(4):  # a UTF-8 character has at most 3 continuation bytes
        offset = boundary - position - pad
        if offset <= 0 or offset >= len(line) or line[offset] & 0xC0 != 0x80:
            return pad
    raise ValueError("not UTF-8")  # unreachable for encoded text


def write_tensor_bytes(path: Path, matrix: np.ndarray) -> WrittenFile:
    """Raw little-endian float32, row-major: what the projector reads from a `.bytes` path.
    Written in blocks, so a memory-mapped matrix is never copied whole."""
    step = max(1, WRITE_CHUNK_BYTES // (4 * max(matrix.shape[1], 1)))
    blocks = (np.ascontiguousarray(rows, dtype="<f4") for _, rows in row_blocks(matrix, step))
    return write_chunks(path, (block.data.cast("B") for block in blocks))


# Nine significant digits are enough for any float32 to parse back to itself.
EXACT_TSV_DIGITS = 9
# How the vectors TSV writes a value: EXACT (the shortest decimal that reads back to the
# same float32) or N significant digits (`--tsv-digits`, `%.Ng`).
EXACT: Final = "exact"
TsvDigits = int | Literal["exact"]


def write_tensor_tsv(
    path: Path, matrix: np.ndarray, progress: Callable[[int], None] | None = None, *, digits: TsvDigits = EXACT
) -> WrittenFile:
    """One row per vector, tab-separated, no header; `progress` gets the rows written.

    With `digits=EXACT` every value is the shortest decimal that round-trips through
    float64 to float32 (how the projector parses it), formatted in C on every core;
    fewer significant digits make a smaller file (`--tsv-digits`) at the cost of exactness.
    """

    def texts() -> Iterator[bytes | memoryview]:
        for rows, text in format_tsv_chunks(matrix, digits):
            yield text
            if progress is not None:
                progress(rows)

    return write_chunks(path, texts())


def format_tsv_chunks(matrix: np.ndarray, digits: TsvDigits = EXACT) -> Iterator[tuple[int, bytes | memoryview]]:
    """(rows, text) per chunk, in order; exact chunks format in parallel threads.

    A text is valid until the next chunk is asked for: its buffer is then reused.
    """
    from projector_bundle.output.tsvfloat import buffer_bytes, format_rows, load_library

    rows, dim = matrix.shape
    step = max(1, TSV_CHUNK_VALUES // max(dim, 1))
    if digits != EXACT or load_library() is None:  # --tsv-digits, or no C compiler: exact but slow
        for _, chunk in row_blocks(matrix, step):
            yield len(chunk), format_rows_python(chunk, digits if isinstance(digits, int) else EXACT_TSV_DIGITS)
        return
    workers = usable_cores()
    free: list[np.ndarray] = []  # buffers whose text the consumer is done with
    with ThreadPoolExecutor(workers) as pool:
        pending: deque[tuple[int, np.ndarray, Future[memoryview | None]]] = deque()

        def submit(start: int) -> None:
            buffer = free.pop() if free else np.empty(buffer_bytes(step * dim), dtype=np.uint8)
            pending.append((start, buffer, pool.submit(format_rows, matrix[start : start + step], buffer)))

        def done() -> Iterator[tuple[int, bytes | memoryview]]:
            # A chunk's mapped pages are given back once it is formatted, not when the next is read.
            start, buffer, future = pending.popleft()
            text = future.result()
            assert text is not None  # load_library() succeeded above
            release_rows(matrix, start, start + step)
            yield min(step, rows - start), text
            free.append(buffer)  # the consumer has asked for the next chunk

        for start in range(0, rows, step):
            submit(start)
            if len(pending) > workers:
                yield from done()
        while pending:
            yield from done()


def usable_cores() -> int:
    try:
        return max(1, min(len(os.sched_getaffinity(0)), 8))
    except AttributeError:  # not on Linux
        return max(1, min(os.cpu_count() or 1, 8))


# JavaScript's Number() reads "Infinity", not Python's "inf".
_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def format_rows_python(matrix: np.ndarray, digits: int = EXACT_TSV_DIGITS) -> bytes:
    """`%.{digits}g` text: the fallback without a C compiler (nine digits round-trip any
    float32, in more bytes than the C path's), and the path of `--tsv-digits`."""
    with np.errstate(invalid="ignore"):  # signalling NaNs stay NaN
        values = matrix.astype(np.float64)
    if np.isfinite(values).all():
        line = "\t".join([f"%.{digits}g"] * matrix.shape[1]) + "\n"
        text = "".join(line % tuple(row) for row in values.tolist())
    else:
        cells = ((f"{v:.{digits}g}" for v in row) for row in values.tolist())
        text = "".join("\t".join(_NON_FINITE.get(c, c) for c in row) + "\n" for row in cells)
    return text.encode("ascii")


# Rows formatted to estimate a file's size before it is written (`--max-file-mb` advice).
ESTIMATE_ROWS = 1000


def spread_rows(points: int, count: int = ESTIMATE_ROWS) -> np.ndarray:
    """Up to `count` row indices spread evenly over `points` rows, first and last included."""
    rows = np.linspace(0, points - 1, min(points, count)).astype(np.int64)
    # Ascending already, so dropping repeats needs no np.unique (which imports numpy.ma: 8 ms a run).
    return rows[np.diff(rows, prepend=-1) > 0]


def estimate_tsv_bytes_per_value(matrix: np.ndarray, digits: TsvDigits = EXACT) -> float:
    """The vectors TSV's bytes per value, from formatting rows spread over the matrix as the writer would."""
    sample = take_rows(matrix, spread_rows(len(matrix)))
    size = sum(memoryview(text).nbytes for _, text in format_tsv_chunks(sample, digits))
    return size / max(sample.size, 1)


def estimate_metadata_bytes(header: Sequence[str], rows: Sequence[Sequence[str]]) -> int:
    """The metadata file's size, from encoding rows spread over it as the writer would."""
    picked = spread_rows(len(rows)).tolist()
    if not picked:
        return sum(len(chunk) for chunk in metadata_chunks(header, []))
    size = sum(len(chunk) for chunk in metadata_chunks(header, [rows[i] for i in picked]))
    return size * len(rows) // len(picked)


def write_json(path: Path, value: object, *, indent: bool = True) -> WrittenFile:
    """Indented for files people read; compact for the megabytes of per-point bookmarks."""
    option = orjson.OPT_INDENT_2 if indent else 0
    return write_chunks(path, [orjson.dumps(value, option=option) + b"\n"])
