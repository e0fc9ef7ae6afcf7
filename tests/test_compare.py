"""--compare: neighbour overlap, moved ranks, the aligned view and trust, against brute force and
against a constructed pair whose answer is known (a tiny model's rotated copy with swapped tokens)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from support import COMPARE_VOCAB, SWAPS, changed_copy, run_failing, save_tiny_bert, sentences_bundle, snapshot

from projector_bundle import ExportError, cli
from projector_bundle.points.compare import (
    BY_ROW,
    BY_TOKEN,
    NONE_LISTED,
    SpaceGroup,
    comparison_groups,
    drawn,
    fit_alignment,
    knn_recall,
    layout_frame,
    layout_neighbors,
    moved_ranks,
    neighbour_change,
    share_by_key,
    share_by_row,
)
from projector_bundle.points.projections import FRAME, compute_pca
from projector_bundle.projector.formats import CONFIG_JSON


def brute_knn(x: np.ndarray, k: int) -> np.ndarray:
    """Cosine neighbours by a full sort (ties: lower index first)."""
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    sims = unit @ unit.T
    np.fill_diagonal(sims, -np.inf)
    return np.array([np.lexsort((np.arange(len(x)), -row))[:k] for row in sims])


def brute_layout_knn(x: np.ndarray, k: int) -> np.ndarray:
    d = ((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=2)
    np.fill_diagonal(d, np.inf)
    return np.array([np.lexsort((np.arange(len(x)), row))[:k] for row in d])


# --- the pure parts against brute force ---


def test_neighbour_change_is_the_jaccard_of_the_two_sets() -> None:
    rng = np.random.default_rng(3)
    first = np.array([rng.permutation(40)[:6] for _ in range(50)])
    other = np.array([rng.permutation(40)[:6] for _ in range(50)])
    change = neighbour_change(first, other)
    for row in range(50):
        a, b = set(first[row].tolist()), set(other[row].tolist())
        assert change.overlap[row] == pytest.approx(len(a & b) / len(a | b))
        assert change.gained[row].tolist() == [j for j in other[row].tolist() if j not in a]
        assert change.lost[row].tolist() == [j for j in first[row].tolist() if j not in b]


@pytest.mark.parametrize(
    "coords",
    [
        np.random.default_rng(0).standard_normal((2000, 3)) * [10.0, 2.0, 0.5],  # a stretched cloud
        np.random.default_rng(1).integers(0, 6, (700, 3)).astype(float),  # a grid: many ties and duplicates
        np.vstack([np.random.default_rng(2).standard_normal((400, 3)) * 0.01, [[50.0, 50.0, 50.0]] * 3]),  # outliers
        np.random.default_rng(4).standard_normal((300, 2)),  # two dimensions
        np.random.default_rng(5).standard_normal((12, 3)),  # fewer points than cells
    ],
)
def test_layout_neighbors_match_brute_force(coords: np.ndarray) -> None:
    k = 10
    assert layout_neighbors(coords, k).tolist() == brute_layout_knn(coords, k).tolist()


def test_trust_is_the_recall_of_the_full_space_neighbours_in_the_picture() -> None:
    rng = np.random.default_rng(6)
    x = rng.standard_normal((400, 20)) * np.linspace(3, 0.1, 20)
    full = brute_knn(x, 10)
    pca = compute_pca(x).coords
    recall = knn_recall(full, layout_neighbors(drawn(pca), 10))
    picture = brute_layout_knn(drawn(pca), 10)
    expected = [len(set(a) & set(b)) / 10 for a, b in zip(full.tolist(), picture.tolist(), strict=True)]
    assert recall.tolist() == pytest.approx(expected)
    # A layout that is the space itself (three dimensions kept whole) keeps every neighbour.
    x3 = rng.standard_normal((300, 3))
    assert knn_recall(brute_knn(x3, 5), layout_neighbors(x3, 5)).min() < 1  # Euclidean is not cosine...
    same = x3 / np.linalg.norm(x3, axis=1, keepdims=True)  # ...but on the unit sphere they agree
    assert knn_recall(brute_knn(same, 5), layout_neighbors(same, 5)).tolist() == [1.0] * 300


def test_drawn_scales_each_axis_to_the_cube_as_the_projector_does() -> None:
    coords = np.array([[0.0, 10.0, 5.0], [2.0, 30.0, 5.0], [1.0, 20.0, 5.0]])
    assert drawn(coords).tolist() == [[-1.0, -1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    frame = layout_frame([coords, coords * 2])
    assert frame == ((0.0, 4.0), (10.0, 60.0), (5.0, 10.0))
    assert drawn(coords, frame)[:, 0].tolist() == [-1.0, 0.0, -0.5]


def test_moved_ranks_lowest_overlap_then_farthest() -> None:
    overlap = np.array([1.0, 0.2, 0.2, 0.5, 1.0])
    shift = np.array([0.9, 0.1, 0.3, 0.0, 0.0])
    assert moved_ranks(overlap, shift).tolist() == [4, 2, 1, 3, 5]


def test_procrustes_recovers_a_rotation_scale_and_shift_in_full_dimension() -> None:
    rng = np.random.default_rng(8)
    target = rng.standard_normal((500, 12))
    rotation, _ = np.linalg.qr(rng.standard_normal((12, 12)))
    source = (target @ rotation) * 3.0 + 7.0  # rotated, scaled, shifted
    alignment = fit_alignment(target, source)
    assert np.allclose(alignment.rotation, rotation.T, atol=1e-9)
    assert alignment.scale == pytest.approx(1 / 3)
    assert np.allclose(alignment.apply(source), target, atol=1e-4)


def test_shared_items_by_token_and_the_groups_compared() -> None:
    shared = share_by_key(["a", "b", None, "c", "b"], ["c", "x", "a", None])
    assert (shared.first.tolist(), shared.other.tolist(), shared.by) == ([0, 3], [2, 0], BY_TOKEN)
    names = ["m/word_embeddings", "m/contextual_layer0", "m/contextual_layer2", "m/contextual_paths"]
    assert comparison_groups(names, ["m"]) == [
        SpaceGroup("m/contextual_layer0", ("m/contextual_layer2",), BY_ROW)
    ]  # fmt: skip
    two = ["a/word_embeddings", "a/position_embeddings", "b/word_embeddings", "b/position_embeddings"]
    assert comparison_groups(two, ["a", "b"]) == [SpaceGroup("a/word_embeddings", ("b/word_embeddings",), BY_TOKEN)]
    assert comparison_groups(["a/word_embeddings"], ["a"]) == []
    # The same texts under several models, and one model's layers over texts (--texts, from own-data).
    assert comparison_groups(["a/texts", "b/texts"], ["a", "b"]) == [SpaceGroup("a/texts", ("b/texts",), BY_ROW)]
    layers = ["m/texts_layer0", "m/texts_layer6", "m/contextual_layer0", "m/contextual_layer6"]
    assert comparison_groups(layers, ["m"]) == [
        SpaceGroup("m/texts_layer0", ("m/texts_layer6",), BY_ROW),
        SpaceGroup("m/contextual_layer0", ("m/contextual_layer6",), BY_ROW),
    ]


def test_spaces_compared_by_row_must_hold_the_same_items() -> None:
    names = ("a/contextual_layer0", "b/contextual_layer0")
    assert share_by_row(["x", "y"], ["x", "y"], names).other.tolist() == [0, 1]
    with pytest.raises(ExportError) as error:
        share_by_row(["x", "y", "z"], ["x", "w", "z"], names)
    assert str(error.value) == (
        "--compare: point 2 is 'y' in a/contextual_layer0 but 'w' in b/contextual_layer0; "
        "spaces compared by row must hold the same items"
    )
    with pytest.raises(ExportError, match="b/contextual_layer0 has 1 point but a/contextual_layer0 has 2;"):
        share_by_row(["x", "y"], ["x"], names)


# --- a constructed pair: a rotated copy of a tiny model, where some tokens take others' vectors ---


@pytest.fixture(scope="module")
def wide_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_bert(tmp_path_factory.mktemp("wide") / "base", COMPARE_VOCAB)


def read_table(site: Path, index: int) -> tuple[dict, list[list[str]], list[str], list[dict]]:
    config = json.loads((site / CONFIG_JSON).read_text())["embeddings"][index]
    lines = (site / config["metadataPath"]).read_text(encoding="utf-8").splitlines()
    header, rows = lines[0].split("\t"), [line.split("\t") for line in lines[1:]]
    marks = json.loads((site / config["bookmarksPath"]).read_text())
    return config, rows, header, marks


def column(header: list[str], rows: list[list[str]], name: str) -> list[str]:
    return [row[header.index(name)] for row in rows]


def coords(state: dict) -> np.ndarray:
    return np.array([[p[f"pca-{c}"] for c in range(3)] for p in state["projections"]])


def test_a_rotated_copy_keeps_every_neighbourhood_and_aligns_onto_the_original(
    wide_model: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "rotated"
    changed_copy(wide_model, copy, swaps=[])
    site = tmp_path / "site"
    args = ["bundle", "--model", str(wide_model), "--model", str(copy), "--compare", "--out", str(site), "--quiet"]
    assert cli.main(args) == 0
    _, first_rows, first_header, first_marks = read_table(site, 0)
    config, rows, header, marks = read_table(site, 1)
    assert config["tensorName"] == "rotated/word_embeddings"
    assert set(column(header, rows, "kNN overlap")) == {"1.000"}  # every neighbourhood kept
    assert set(column(header, rows, "neighbors gained")) == {NONE_LISTED}
    # The aligned view opens first and lands on the original's PCA: every point in place.
    assert marks[0]["label"].startswith("rotated/word_embeddings aligned to base/word_embeddings")
    assert np.allclose(coords(marks[0]), coords(first_marks[0]), atol=1e-3 * np.abs(coords(first_marks[0])).max())
    assert marks[0][FRAME] == first_marks[0][FRAME]
    # Both pictures are the same, so they keep the same neighbours.
    assert column(header, rows, "trust aligned") == column(first_header, first_rows, "trust PCA")
    assert "trust PCA" in header  # the copy's own PCA too (its second bookmark)
    page = (site / "index.html").read_text(encoding="utf-8")
    assert "300 items shared (matched by token" in page
    assert 'class="mean-overlap">1.000<' in page


def test_tokens_that_take_other_tokens_vectors_rank_first_in_moved(wide_model: Path, tmp_path: Path) -> None:
    from projector_bundle.models.loader import read_word_embeddings, resolve_model
    from projector_bundle.points.compare import compare_tensors
    from projector_bundle.points.tensors import TensorData

    copy = tmp_path / "changed"
    rotation = changed_copy(wide_model, copy, swaps=SWAPS)
    site = tmp_path / "site"
    args = ["bundle", "--model", str(wide_model), "--model", str(copy), "--compare", "--out", str(site), "--quiet"]
    assert cli.main(args) == 0
    _, rows, header, _ = read_table(site, 1)
    words = column(header, rows, "Word")
    moved = dict(zip(words, map(int, column(header, rows, "moved")), strict=True))
    takers = {taker for taker, _ in SWAPS}
    assert {word for word, rank in moved.items() if rank <= len(SWAPS)} == takers
    page = (site / "index.html").read_text(encoding="utf-8")
    for taker in takers:  # each listed with a link that opens it in the changed model
        assert f'href="#tensor=changed/word_embeddings&amp;search={quote_link(taker)}"' in page
    # The alignment, from the real files, recovers the rotation: the swapped rows are trimmed from its second fit.
    tables = [read_word_embeddings(resolve_model(str(m)), None) for m in (wide_model, copy)]
    data = [
        TensorData(name, t.matrix, ("Word",), [[w] for w in COMPARE_VOCAB])
        for name, t in zip("ab", tables, strict=True)
    ]
    keys = {name: list(COMPARE_VOCAB) for name in "ab"}
    result = compare_tensors(data, [SpaceGroup("a", ("b",), BY_TOKEN)], keys, 10)
    assert np.abs(result.comparisons[0].alignment.rotation - rotation.T).max() < 1e-5


def quote_link(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="/")


def test_layers_are_compared_by_row(tiny_model: Path, tmp_path: Path) -> None:
    site = sentences_bundle(tiny_model, tmp_path, "--layer", "0,1", "--compare", "3", "--quiet")
    config = json.loads((site / CONFIG_JSON).read_text())["embeddings"]
    names = [e["tensorName"] for e in config]
    assert names[:2] == ["tiny-bert/word_embeddings", "tiny-bert/contextual_layer0"]
    _, rows, header, marks = read_table(site, names.index("tiny-bert/contextual_layer1"))
    assert header[-6:] == ["kNN overlap", "moved", "neighbors gained", "neighbors lost", "trust aligned", "trust PCA"]
    assert sorted(map(int, column(header, rows, "moved"))) == list(range(1, len(rows) + 1))
    assert FRAME in marks[0]
    _, _, layer0_header, _ = read_table(site, names.index("tiny-bert/contextual_layer0"))
    assert "kNN overlap" not in layer0_header and "trust PCA" in layer0_header
    assert "trust PCA" not in read_table(site, 0)[2]  # the word table is not in the comparison


def test_texts_at_two_layers_are_compared_by_row(tiny_model: Path, tmp_path: Path) -> None:
    texts = tmp_path / "texts.txt"
    texts.write_text("the bank of the river\nthe bank lends money\na bat flew out\nhe swung the bat\nspring rain\n")
    site = tmp_path / "site"
    args = ["bundle", "--model", str(tiny_model), "--texts", str(texts), "--layer", "0,1", "--compare", "2"]
    assert cli.main([*args, "--clusters", "none", "--out", str(site), "--quiet"]) == 0
    names = [e["tensorName"] for e in json.loads((site / CONFIG_JSON).read_text())["embeddings"]]
    later = [n for n in names if n.endswith("1")]
    assert len(later) == 1, names
    _, rows, header, _ = read_table(site, names.index(later[0]))
    assert len(rows) == 5 and "kNN overlap" in header
    assert sorted(map(int, column(header, rows, "moved"))) == [1, 2, 3, 4, 5]


# --- bad input ---


def test_compare_needs_two_spaces(previous: Path, tiny_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(previous)
    err = run_failing(["bundle", "--model", str(tiny_model), "--compare", "--out", str(previous)], capsys, code=2)
    assert err == (
        "error: --compare: needs two or more spaces over the same items: repeat --model (models sharing a "
        "vocabulary, or two checkpoints), or give --sentences or --texts with two or more --layer\n"
    )
    assert snapshot(previous) == before


def test_compare_with_dims_or_a_bad_k(previous: Path, tiny_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(previous)
    two = ["--model", str(tiny_model), "--model", str(tiny_model)]
    err = run_failing(["bundle", *two, "--compare", "--dims", "4", "--out", str(previous)], capsys, code=2)
    assert err == "error: --compare: not with --dims 4 (the aligned views are the full vectors' projections)\n"
    with pytest.raises(SystemExit) as exit_code:
        cli.main(["bundle", *two, "--compare", "0", "--out", str(previous)])
    assert exit_code.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == "export.py bundle: error: argument --compare: expected a positive integer, got 0"
    err = run_failing(["bundle", *two, "--compare", "101", "--out", str(previous)], capsys, code=2)
    assert err == "error: --compare 101: expected at most 100, got 101\n"
    assert snapshot(previous) == before


def test_models_that_share_too_few_tokens(previous: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = save_tiny_bert(tmp_path / "other", ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"abcdefghij"])
    first = save_tiny_bert(tmp_path / "first", ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"klmnopqrst"])
    before = snapshot(previous)
    args = ["bundle", "--model", str(first), "--model", str(other), "--compare", "--out", str(previous), "--quiet"]
    err = run_failing(args, capsys)
    assert err == (
        "error: --compare 10: other/word_embeddings and first/word_embeddings share 5 items; expected more than 10\n"
    )
    assert snapshot(previous) == before
