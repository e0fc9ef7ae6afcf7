"""Nearest neighbours by cosine similarity, computed at export time: exact, blocked, on every core."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from projector_bundle import UsageError
from projector_bundle.text import plural

NEIGHBORS_HEADER = "neighbors"

# The most neighbours a point may list: each one adds a label to every metadata row,
# and a hundred is already more than the projector's inspector shows usefully.
MAX_NEIGHBORS = 100

# Similarities held per block, in float32 values: a block of rows is compared with
# every point at once, so it has (BLOCK_VALUES / points) rows; 16M values = 64 MB
# per thread, whatever the number of points.
BLOCK_VALUES = 1 << 24
# Threads comparing blocks at once; numpy's matrix product and partition release the GIL.
MAX_THREADS = 8


def check_neighbor_count(k: int) -> None:
    """Refuse a `--neighbors` below 1 or above `MAX_NEIGHBORS`, before any work."""
    if k < 1:
        raise UsageError(f"--neighbors {k}: expected 1 or more")
    if k > MAX_NEIGHBORS:
        raise UsageError(f"--neighbors {k}: expected at most {MAX_NEIGHBORS}, got {k:,}")


def check_neighbors(k: int, points: int, tensor: str) -> None:
    """Refuse a `--neighbors` that cannot be met (K >= points) or is above `MAX_NEIGHBORS`."""
    check_neighbor_count(k)
    if k >= points:
        others = plural(points - 1, "other")
        raise UsageError(
            f"--neighbors {k}: tensor {tensor} has {points:,} points, so each has at most {others}; "
            f"expected fewer than {points:,}, got {k:,}"
        )


def block_rows_for(points: int) -> int:
    """Rows per block such that a block's similarities stay near `BLOCK_VALUES`."""
    return max(1, min(points, BLOCK_VALUES // max(points, 1)))


def nearest_neighbors(
    matrix: np.ndarray,
    k: int,
    chunk_rows: int | None = None,
    progress: Callable[[int], None] | None = None,
    *,
    threads: int | None = None,
) -> np.ndarray:
    """For each row, the indices of its `k` most cosine-similar other rows, most similar first.

    A row is never its own neighbour; zero rows have similarity 0 to everything.
    Equal similarities are listed in index order. `k` above points - 1 is cut to it
    (`check_neighbors` is where a user's K is refused). `progress` gets the rows done,
    in the calling thread. Memory: the float32 matrix (none if it already is one, a
    memory map included) and one block of similarities per thread.
    """
    points = matrix.shape[0]
    k = min(k, points - 1)
    result = np.empty((points, max(k, 0)), dtype=np.int64)
    if k <= 0:
        return result
    x = np.asarray(matrix, dtype=np.float32)
    # Dividing each block's dot products by both norms spares a normalised copy of the matrix.
    norms = np.linalg.norm(x, axis=1)
    norms[norms == 0] = 1
    rows = chunk_rows or block_rows_for(points)
    workers = threads or min(MAX_THREADS, _usable_cores())

    def compare(start: int) -> int:
        stop = min(start + rows, points)
        sims = x[start:stop] @ x.T
        sims /= norms[start:stop, None]
        sims /= norms[None, :]
        sims[np.arange(stop - start), np.arange(start, stop)] = -np.inf
        # argpartition finds the top k unordered (partitioning `sims` itself spares a
        # negated copy of the block); a sort of (-sim, index) then orders them.
        top = np.argpartition(sims, points - k, axis=1)[:, points - k :]
        top_sims = np.take_along_axis(sims, top, axis=1)
        order = np.lexsort((top, -top_sims), axis=1)
        result[start:stop] = np.take_along_axis(top, order, axis=1)
        return stop - start

    with ThreadPoolExecutor(workers) as pool:
        # At most one block waiting per thread, so memory stays bounded however many blocks.
        pending: deque[Future[int]] = deque()
        for start in range(0, points, rows):
            pending.append(pool.submit(compare, start))
            if len(pending) > workers:
                _report(pending.popleft().result(), progress)
        while pending:
            _report(pending.popleft().result(), progress)
    return result


def _report(done: int, progress: Callable[[int], None] | None) -> None:
    if progress is not None:
        progress(done)


def _usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def neighbor_cells(indices: np.ndarray, labels: Sequence[str], separator: str = " ") -> list[str]:
    """One metadata cell per row: its neighbours' labels, space-separated (or by `separator`)."""
    return [separator.join(labels[j] for j in row) for row in indices]
