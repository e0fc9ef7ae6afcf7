"""The light first view: the exact PCA coordinates as a tensor, and its coordinate-free bookmark."""

from __future__ import annotations

import numpy as np
import pytest

from projector_bundle.firstview import FIRST_VIEW_SUFFIX, first_view_bookmark, first_view_tensor
from projector_bundle.projections import EXACT_VIEW, compute_pca
from projector_bundle.tensors import TensorData


def test_first_view_holds_the_exact_coordinates_and_the_same_rows() -> None:
    matrix = np.random.default_rng(3).standard_normal((40, 64)).astype(np.float32)
    tensor = TensorData("m/word_embeddings", matrix, ("Word", "neighbors"), [[f"w{i}", "a b"] for i in range(40)])
    pca = compute_pca(matrix)
    light = first_view_tensor(tensor, pca)
    assert light.name == "m/word_embeddings" + FIRST_VIEW_SUFFIX
    assert light.matrix.dtype == np.float32 and light.matrix.shape == (40, 3)
    np.testing.assert_array_equal(light.matrix, pca.coords.astype(np.float32))
    assert (light.header, light.rows) == (tensor.header, tensor.rows)

    state = first_view_bookmark(pca, label_option="Word")
    assert state["projections"] == []
    assert state["dataSetDimensions"] == [40, 3]
    assert state[EXACT_VIEW] == {"variance": list(pca.variance), "spherize": False, "coordinates": "vectors"}
    assert len(pca.variance) == 10 and pca.spherized


def test_first_view_needs_a_pca_of_the_same_points() -> None:
    matrix = np.ones((5, 4), dtype=np.float32)
    tensor = TensorData("t", matrix, ("Word",), [["x"]] * 5)
    with pytest.raises(ValueError, match=r"first view of t: needs its PCA, got pca \(4, 3\)"):
        first_view_tensor(tensor, compute_pca(matrix[:4]))
