"""The pure parts of the beyond-the-exercise features: PCA, bookmarks, neighbours, sentences."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from projector_bundle import ExportError
from projector_bundle.context.contextual import check_layers, shorten
from projector_bundle.points.neighbors import nearest_neighbors, neighbor_cells
from projector_bundle.points.projections import (
    PCA,
    Projection,
    bookmark_state,
    check_dims,
    compute_pca,
    reduce_dimensions,
    round_coords,
)
from projector_bundle.points.tensors import file_stem, model_prefixes

RNG = np.random.default_rng(7)


def test_pca_matches_an_svd_up_to_sign() -> None:
    x = RNG.normal(size=(200, 12)) @ RNG.normal(size=(12, 12))
    projection = compute_pca(x.astype(np.float32))
    centred = x - x.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    expected = u[:, :3] * s[:3]
    for c in range(3):
        sign = np.sign(expected[:, c] @ projection.coords[:, c])
        np.testing.assert_allclose(projection.coords[:, c], sign * expected[:, c], rtol=1e-4, atol=1e-4)
    assert projection.kind == PCA
    assert projection.label.startswith("PCA of all 200 points (variance ")


def test_pca_of_wide_data_is_spherized_first_as_the_projector_does() -> None:
    x = RNG.normal(size=(80, 60)) * RNG.uniform(0.1, 5, size=(80, 1)) + 3.0
    projection = compute_pca(x)
    centred = x - x.mean(axis=0)
    sphere = centred / np.linalg.norm(centred, axis=1, keepdims=True)
    sphere -= sphere.mean(axis=0)
    u, s, _ = np.linalg.svd(sphere, full_matrices=False)
    for c in range(3):
        expected = u[:, c] * s[c]
        sign = np.sign(expected @ projection.coords[:, c])
        np.testing.assert_allclose(projection.coords[:, c], sign * expected, atol=1e-9)
    assert projection.label.startswith("PCA of all 80 spherized points")
    assert not compute_pca(x[:, :49]).label.startswith("PCA of all 80 spherized")


def test_pca_is_deterministic_and_pads_missing_components() -> None:
    x = RNG.normal(size=(2, 5)).astype(np.float32)
    first, second = compute_pca(x), compute_pca(x.copy())
    np.testing.assert_array_equal(first.coords, second.coords)
    assert first.coords.shape == (2, 3)
    assert (first.coords[:, 1:] == 0).all()  # two points span one axis
    assert compute_pca(x[:1]).coords.tolist() == [[0.0, 0.0, 0.0]]


def test_round_coords_to_a_ten_thousandth_of_the_largest_magnitude() -> None:
    coords = np.array([[0.123456789, -0.0000123, 2.5]])
    assert round_coords(coords).tolist() == [[0.1235, -0.0, 2.5]]
    assert round_coords(np.array([[1234.5678, 1.0]])).tolist() == [[1234.6, 1.0]]
    assert round_coords(np.zeros((2, 3))).tolist() == [[0.0] * 3] * 2


def test_bookmark_state_has_what_load_state_reads() -> None:
    coords = np.array([[1.0, 2.0, 3.0], [-1.0, -2.0, -3.0]])
    state = bookmark_state(Projection(PCA, coords, "PCA"), 8, label_option="Word", color_option="is subword")
    assert state["projections"] == [
        {"pca-0": 1.0, "pca-1": 2.0, "pca-2": 3.0},
        {"pca-0": -1.0, "pca-1": -2.0, "pca-2": -3.0},
    ]
    assert state["selectedProjection"] == "pca"
    assert state["pcaComponentDimensions"] == [0, 1, 2]
    assert state["dataSetDimensions"] == [2, 8]
    assert state["selectedLabelOption"] == "Word"
    assert state["selectedColorOptionName"] == "is subword"
    assert state["selectedPoints"] == []
    # An empty list here would become the projector's sample or filter.
    assert "shuffledDataIndices" not in state
    assert "filteredPoints" not in state
    umap = bookmark_state(Projection("umap", coords, "UMAP"), 8)
    assert umap["projections"][0] == {"umap-0": 1.0, "umap-1": 2.0, "umap-2": 3.0}
    assert umap["umapIs3d"] is True
    assert "selectedLabelOption" not in umap


def brute_force_neighbors(x: np.ndarray, k: int) -> list[list[int]]:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    unit = (x / np.where(norms == 0, 1, norms)).astype(np.float64)
    sims = unit @ unit.T
    result = []
    for i in range(len(x)):
        others = [j for j in range(len(x)) if j != i]
        result.append(sorted(others, key=lambda j: (-sims[i, j], j))[:k])
    return result


@settings(max_examples=40, deadline=None)
@given(
    x=arrays(np.float32, st.tuples(st.integers(2, 30), st.integers(1, 6)), elements=st.integers(-3, 3)),
    k=st.integers(1, 5),
    chunk=st.integers(1, 8),
)
def test_neighbors_match_brute_force_in_any_chunking(x: np.ndarray, k: int, chunk: int) -> None:
    got = nearest_neighbors(x, k, chunk_rows=chunk)
    expected = brute_force_neighbors(x, k)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    unit = x / np.where(norms == 0, 1, norms)
    assert got.shape == (len(x), min(k, len(x) - 1))
    for i, (row, want) in enumerate(zip(got.tolist(), expected, strict=True)):
        assert i not in row
        assert len(set(row)) == len(row)
        # Small integer vectors tie often, and float32 rounding may order equal
        # similarities either way: the similarities listed must be the same.
        np.testing.assert_allclose(unit[row] @ unit[i], unit[want] @ unit[i], atol=1e-6)


def test_neighbors_of_a_line_and_their_cells() -> None:
    x = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9], [-1, 0]], dtype=np.float32)
    indices = nearest_neighbors(x, 2)
    assert indices[:, 0].tolist() == [1, 0, 3, 2, 2]
    assert neighbor_cells(indices[:2], ["a", "b", "c", "d", "e"]) == ["b d", "a d"]
    assert nearest_neighbors(x[:1], 3).shape == (1, 0)


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("short", "short"),
        ("x" * 60, "x" * 60),
        ("word " * 20, "word word word word word word word word word word word…"),
        ("y" * 80, "y" * 59 + "…"),
    ],
)
def test_shorten(sentence: str, expected: str) -> None:
    assert shorten(sentence) == expected
    assert len(shorten(sentence)) <= 60


def test_check_layers() -> None:
    assert check_layers(None, 6, "m") == [6]
    assert check_layers([3, 0, 3], 6, "m") == [3, 0]
    with pytest.raises(ExportError) as info:
        check_layers([2, 7], 6, "m")
    assert str(info.value) == "--layer 7: m has layers 0 (the embedding output) to 6, got 7"


def test_names() -> None:
    assert model_prefixes(["a/bert", "/x/bert/", "sentence-transformers/all-MiniLM-L6-v2"]) == [
        "bert",
        "bert-2",
        "all-MiniLM-L6-v2",
    ]
    assert model_prefixes(["m", "x/m", "m-2"]) == ["m", "m-2", "m-2-2"]
    assert file_stem("all-MiniLM-L6-v2/contextual_layer6") == "all-MiniLM-L6-v2.contextual_layer6"
    assert file_stem("my model/word embeddings") == "my_model.word_embeddings"


def full_matrix_pca(matrix: np.ndarray, components: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """The formula `compute_pca` used before blocks: whole float64 copies of the matrix."""
    x = np.asarray(matrix, dtype=np.float64)
    if x.shape[1] >= 50:
        c = x - x.mean(axis=0)
        n = np.linalg.norm(c, axis=1, keepdims=True)
        x = c / np.where(n == 0, 1.0, n)
    centred = x - x.mean(axis=0)
    values, vectors = np.linalg.eigh(centred.T @ centred / (x.shape[0] - 1))
    order = np.argsort(values)[::-1][:components]
    axes = vectors[:, order]
    signs = np.sign(axes[np.abs(axes).argmax(axis=0), np.arange(components)])
    return centred @ (axes * signs), values[order].clip(min=0) / values.clip(min=0).sum()


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    points=st.integers(4, 300),
    dim=st.sampled_from([5, 49, 50, 64]),
    block=st.integers(1, 97),
    offset=st.floats(-100, 100),
)
def test_blocked_pca_matches_the_full_matrix_formula(
    seed: int, points: int, dim: int, block: int, offset: float
) -> None:
    rng = np.random.default_rng(seed)
    # Uneven scales so the top components are well separated, and an offset the centring must remove.
    x = (rng.standard_normal((points, dim)) * np.geomspace(10, 0.1, dim) + offset).astype(np.float32)
    x[rng.integers(points)] = offset  # a row that spherizes to zero
    projection = compute_pca(x, block_rows=block)
    coords, fractions = full_matrix_pca(x)
    np.testing.assert_allclose(projection.coords, coords, rtol=0, atol=1e-9 * max(1.0, np.abs(coords).max()))
    np.testing.assert_allclose(projection.variance[: len(fractions)], fractions, rtol=0, atol=1e-12)
    assert projection.label.endswith("(variance " + ", ".join(f"{v:.1%}" for v in fractions) + ")")


def test_pca_reads_a_memory_map_without_changing_it(tmp_path) -> None:
    x = RNG.normal(size=(1000, 64)).astype(np.float32)
    x.tofile(tmp_path / "m.bytes")
    mapped = np.memmap(tmp_path / "m.bytes", dtype=np.float32, mode="r", shape=x.shape)
    projection = compute_pca(mapped, block_rows=128)
    np.testing.assert_allclose(projection.coords, full_matrix_pca(x)[0], atol=1e-9)
    np.testing.assert_array_equal(np.asarray(mapped), x)
    wide = RNG.normal(size=(30, 60))  # float64 input is centred in block copies, never in place
    before = wide.copy()
    compute_pca(wide, block_rows=7)
    np.testing.assert_array_equal(wide, before)


def test_variance_fractions_are_data_and_pad_with_zeros() -> None:
    x = np.array([[0, 0], [1, 0], [2, 0], [3, 0.001]], dtype=np.float32)
    projection = compute_pca(x)
    assert len(projection.variance) == 3
    assert projection.variance[0] == pytest.approx(1.0, abs=1e-6)
    assert projection.variance[2] == 0.0
    assert projection.label == "PCA of all 4 points (variance 100.0%, 0.0%, 0.0%)"
    assert compute_pca(np.zeros((0, 4), np.float32)).coords.shape == (0, 3)


def test_reduce_dimensions_is_an_exact_pca_without_spherizing() -> None:
    x = (RNG.normal(size=(400, 20)) * np.geomspace(5, 0.01, 20) + 2).astype(np.float32)
    reduction = reduce_dimensions(x, 4, block_rows=33)
    assert reduction.matrix.dtype == np.float32
    assert reduction.matrix.shape == (400, 4)
    centred = x.astype(np.float64) - x.mean(axis=0, dtype=np.float64)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    expected = centred @ vt[:4].T
    for c in range(4):
        sign = np.sign(expected[:, c] @ reduction.matrix[:, c])
        np.testing.assert_allclose(reduction.matrix[:, c], sign * expected[:, c], atol=1e-4)
    assert reduction.variance_kept == pytest.approx(float((s[:4] ** 2).sum() / (s**2).sum()), abs=1e-9)
    # Pairwise distances in the kept subspace are the full ones, up to what the dropped axes carried.
    full = np.linalg.norm(centred[0] - centred[1])
    kept = np.linalg.norm(reduction.matrix[0].astype(np.float64) - reduction.matrix[1])
    assert kept <= full + 1e-4


@pytest.mark.parametrize("dims", [1, 20, 21, 0])
def test_dims_must_drop_a_dimension_and_keep_two(dims: int) -> None:
    with pytest.raises(ExportError) as info:
        reduce_dimensions(np.zeros((5, 20), np.float32), dims)
    assert str(info.value) == f"--dims {dims}: expected 2 to 19, fewer than the tensor's 20 dimensions"


def test_check_dims_passes_a_real_reduction() -> None:
    check_dims(2, 3)
    check_dims(64, 768)
