"""The pure parts of the beyond-the-exercise features: PCA, bookmarks, neighbours, sentences."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from projector_bundle import ExportError
from projector_bundle.contextual import check_layers, shorten
from projector_bundle.neighbors import nearest_neighbors, neighbor_cells
from projector_bundle.projections import PCA, Projection, bookmark_state, compute_pca, round_coords
from projector_bundle.tensors import file_stem, model_prefixes

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
