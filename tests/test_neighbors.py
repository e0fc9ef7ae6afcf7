"""Exact nearest neighbours in blocks and threads, and the refusal of a K that cannot be met."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from projector_bundle import ExportError
from projector_bundle.points.neighbors import MAX_NEIGHBORS, block_rows_for, check_neighbors, nearest_neighbors


def similarities(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    unit = x / np.where(norms == 0, 1, norms)
    return unit @ unit.T


@settings(max_examples=40, deadline=None)
@given(
    x=arrays(np.float32, st.tuples(st.integers(2, 40), st.integers(1, 6)), elements=st.integers(-3, 3)),
    k=st.integers(1, 6),
    rows=st.integers(1, 9),
    threads=st.integers(1, 4),
)
def test_any_blocking_and_threading_lists_the_same_similarities(x: np.ndarray, k: int, rows: int, threads: int) -> None:
    got = nearest_neighbors(x, k, chunk_rows=rows, threads=threads)
    sims = similarities(x)
    k = min(k, len(x) - 1)
    assert got.shape == (len(x), k)
    for i, row in enumerate(got.tolist()):
        assert i not in row
        assert len(set(row)) == k
        others = np.delete(sims[i], i)
        want = np.sort(others)[::-1][:k]
        # Ties may be ordered either way after float32 rounding; the similarities may not.
        np.testing.assert_allclose(sims[i, row], want, atol=1e-6)


def test_random_vectors_agree_with_a_float64_search_exactly() -> None:
    x = np.random.default_rng(3).standard_normal((700, 16)).astype(np.float32)
    sims = similarities(x)
    np.fill_diagonal(sims, -np.inf)
    expected = np.argsort(-sims, axis=1, kind="stable")[:, :10]
    for rows, threads in [(None, None), (64, 3), (1, 1), (700, 2)]:
        np.testing.assert_array_equal(nearest_neighbors(x, 10, chunk_rows=rows, threads=threads), expected)


def test_a_memory_map_is_searched_in_place_and_progress_counts_every_row(tmp_path: Path) -> None:
    x = np.random.default_rng(4).standard_normal((300, 8)).astype(np.float32)
    x.tofile(tmp_path / "m.bytes")
    mapped = np.memmap(tmp_path / "m.bytes", dtype=np.float32, mode="r", shape=(300, 8))
    done: list[int] = []
    got = nearest_neighbors(mapped, 5, chunk_rows=32, progress=done.append, threads=2)
    np.testing.assert_array_equal(got, nearest_neighbors(x, 5))
    assert sum(done) == 300
    assert len(done) == 10  # one call per block, from the calling thread


def test_block_rows_bound_the_similarities_held() -> None:
    assert block_rows_for(30_522) == 549
    assert block_rows_for(250_002) == 67
    assert block_rows_for(10) == 10
    assert block_rows_for(100_000_000) == 1


@pytest.mark.parametrize(
    ("k", "points", "expected"),
    [
        (0, 10, "--neighbors 0: expected 1 or more"),
        (MAX_NEIGHBORS + 1, 10**6, f"--neighbors {MAX_NEIGHBORS + 1}: expected at most {MAX_NEIGHBORS}, got 101"),
        (100_000, 10**6, f"--neighbors 100000: expected at most {MAX_NEIGHBORS}, got 100,000"),
        (
            10,
            10,
            "--neighbors 10: tensor words has 10 points, so each has at most 9 others; expected fewer than 10, got 10",
        ),
        (
            50,
            2,
            "--neighbors 50: tensor words has 2 points, so each has at most 1 other; expected fewer than 2, got 50",
        ),
    ],
)
def test_a_k_that_cannot_be_met_is_refused(k: int, points: int, expected: str) -> None:
    with pytest.raises(ExportError) as info:
        check_neighbors(k, points, "words")
    assert str(info.value) == expected


def test_a_k_that_can_be_met_passes() -> None:
    check_neighbors(9, 10, "words")
    check_neighbors(MAX_NEIGHBORS, 30_522, "words")
