"""Reading a matrix block by block, giving a memory map's pages back as it goes.

A float32 table is the checkpoint file's own memory map (`checkpoint.read_rows`). The
pages a process has read from a map count in its resident memory until it unmaps them,
so a 768 MB table read once would cost 768 MB however small the blocks. Each block's
pages are handed back (madvise DONTNEED) once the next block is asked for: the data
stays in the page cache, and a later read maps it again for free.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator

import numpy as np


def row_blocks(matrix: np.ndarray, rows: int) -> Iterator[tuple[int, np.ndarray]]:
    """(start, a view of up to `rows` rows) per block, in order."""
    for start in range(0, matrix.shape[0], rows):
        yield start, matrix[start : start + rows]
        release_rows(matrix, start, start + rows)


def release_rows(matrix: np.ndarray, start: int, stop: int) -> None:
    """Give back the mapped pages of rows `start` to `stop` (a no-op unless `matrix` is a whole file map).

    Only an unmodified read-only map is released: its pages are the file's, so nothing is lost.
    """
    if not isinstance(matrix, np.memmap) or not isinstance(matrix.base, mmap.mmap) or matrix.mode != "r":
        return
    row_bytes = matrix.strides[0]
    # np.memmap maps from the allocation boundary below its offset.
    lead = matrix.offset % mmap.ALLOCATIONGRANULARITY
    begin = lead + start * row_bytes
    end = min(lead + min(stop, matrix.shape[0]) * row_bytes, len(matrix.base))
    first = begin - begin % mmap.PAGESIZE
    if end > first:
        matrix.base.madvise(mmap.MADV_DONTNEED, first, end - first)


def release_all(matrix: np.ndarray) -> None:
    """Give back every mapped page of `matrix` (after a random-access read such as a sample)."""
    release_rows(matrix, 0, matrix.shape[0])


# Rows read at once by `take_rows`.
TAKE_BLOCK_ROWS = 8192


def take_rows(matrix: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """A copy of `rows` (ascending indices) of `matrix`, read block by block.

    One fancy index would do, but on a memory map the kernel maps the pages around each
    one touched, so scattered rows would map nearly the whole file at once.
    """
    out = np.empty((len(rows), matrix.shape[1]), dtype=matrix.dtype)
    bounds = np.searchsorted(rows, np.arange(0, matrix.shape[0] + TAKE_BLOCK_ROWS, TAKE_BLOCK_ROWS))
    for (start, block), first, last in zip(row_blocks(matrix, TAKE_BLOCK_ROWS), bounds, bounds[1:], strict=False):
        if last > first:
            out[first:last] = block[rows[first:last] - start]
    return out
