"""Nearest neighbours by cosine similarity, computed at export time in bounded memory."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

NEIGHBORS_HEADER = "neighbors"

# Rows compared at once: a block of similarities is CHUNK_ROWS x points float32
# (1024 x 30522 x 4 bytes = 125 MB at most for BERT's vocabulary).
CHUNK_ROWS = 1024


def nearest_neighbors(
    matrix: np.ndarray, k: int, chunk_rows: int = CHUNK_ROWS, progress: Callable[[int], None] | None = None
) -> np.ndarray:
    """For each row, the indices of its `k` most cosine-similar other rows, most similar first.

    A row is never its own neighbour; zero rows have similarity 0 to everything.
    Equal similarities are listed in index order. `progress` gets the rows done.
    """
    points = matrix.shape[0]
    k = min(k, points - 1)
    result = np.empty((points, max(k, 0)), dtype=np.int64)
    if k <= 0:
        return result
    x = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    unit = x / np.where(norms == 0, 1, norms)  # float32: the matrix products are the whole cost
    for start in range(0, points, chunk_rows):
        stop = min(start + chunk_rows, points)
        sims = unit[start:stop] @ unit.T
        sims[np.arange(stop - start), np.arange(start, stop)] = -np.inf
        # argpartition finds the top k unordered (partitioning `sims` itself spares a
        # negated copy of the block); a sort of (-sim, index) then orders them.
        top = np.argpartition(sims, points - k, axis=1)[:, points - k :]
        top_sims = np.take_along_axis(sims, top, axis=1)
        order = np.lexsort((top, -top_sims), axis=1)
        result[start:stop] = np.take_along_axis(top, order, axis=1)
        if progress is not None:
            progress(stop - start)
    return result


def neighbor_cells(indices: np.ndarray, labels: Sequence[str]) -> list[str]:
    """One metadata cell per row: its neighbours' labels, space-separated."""
    return [" ".join(labels[j] for j in row) for row in indices]
