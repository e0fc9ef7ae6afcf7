"""The light first view: the exact PCA coordinates as a tensor, and its coordinate-free bookmark."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from projector_bundle import cli
from projector_bundle.points.projections import EXACT_VIEW, compute_pca
from projector_bundle.points.tensors import Tensor, TensorData
from projector_bundle.projector.firstview import (
    FIRST_VIEW_STEM,
    FIRST_VIEW_SUFFIX,
    add_first_view,
    first_view_bookmark,
    first_view_tensor,
)
from projector_bundle.projector.formats import CONFIG_JSON, DEFAULT_FILES, TensorFiles


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


def test_add_first_view_puts_the_light_tensor_first_sharing_the_metadata() -> None:
    matrix = np.random.default_rng(5).standard_normal((30, 16)).astype(np.float32)
    full = Tensor("m/word_embeddings", matrix, ("Word",), [[f"w{i}"] for i in range(30)], DEFAULT_FILES)
    pca = compute_pca(matrix)
    light, same = add_first_view([full], [pca])
    assert same is full
    assert light.files == TensorFiles(stem=FIRST_VIEW_STEM, metadata=DEFAULT_FILES.metadata)
    assert light.matrix.shape == (30, 3) and len(light.bookmarks) == 1
    # Nothing to lighten: a 3-D first tensor, or no PCA shipped.
    flat = Tensor("t", matrix[:, :3], ("Word",), full.rows, DEFAULT_FILES)
    assert add_first_view([flat], [compute_pca(matrix[:, :3])]) == [flat]
    assert add_first_view([full], []) == [full]


def test_the_cli_picks_the_light_view_for_published_bundles(tiny_model: Path, tmp_path: Path) -> None:
    def names(*flags: str) -> list[str]:
        out = tmp_path / "-".join(flags or ("plain",))
        assert cli.main(["bundle", "--model", str(tiny_model), "--out", str(out), "--quiet", *flags]) == 0
        return [e["tensorName"] for e in json.loads((out / CONFIG_JSON).read_text())["embeddings"]]

    word = "tiny-bert/word_embeddings"
    assert names() == [word]
    assert names("--base-url", "https://example.org/x/") == [word + FIRST_VIEW_SUFFIX, word]
    assert names("--base-url", "https://example.org/x/", "--first-view", "full") == [word]
    assert names("--first-view", "light") == [word + FIRST_VIEW_SUFFIX, word]
    assert names("--base-url", "https://example.org/x/", "--projections", "none") == [word]


def test_a_light_view_needs_the_pca(tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["bundle", "--model", str(tiny_model), "--out", str(tmp_path / "s"), "--first-view", "light"]
    assert cli.main([*args, "--projections", "none"]) == 2
    assert capsys.readouterr().err == "error: --first-view light: needs the PCA bookmark (--projections pca)\n"
    assert not (tmp_path / "s").exists()
