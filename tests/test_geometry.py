"""Per-layer geometry: known answers on hand-built vectors, the exact pair means against
brute force, MEV against numpy's SVD, and the page section rendered as the page is."""

from __future__ import annotations

import itertools
import json
import math
import re
from pathlib import Path

import jinja2
import numpy as np
import pytest

from projector_bundle.context.geometry import (
    NO_WORDS,
    ONE_SENTENCE,
    GeometryView,
    LayerGeometry,
    explained_by_first,
    format_value,
    geometry_document,
    geometry_views,
    group_occurrences,
    measure_chart,
    measure_layer,
    measure_layers,
    sentence_blocks,
    unit_rows,
)

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def measure(matrix: list[list[float]] | np.ndarray, sentences: list[int], tokens: list[str]) -> LayerGeometry:
    return measure_layer(0, np.asarray(matrix, dtype=np.float32), group_occurrences(sentences, tokens))


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return 0.0 if na == 0 or nb == 0 else float(a @ b / (na * nb))


# --- known answers ---


def test_identical_vectors_give_one_everywhere() -> None:
    result = measure([[1, 2, 3]] * 6, [1, 1, 2, 2, 3, 3], ["a", "b", "a", "b", "a", "b"])
    assert (result.points, result.sentences, result.words) == (6, 3, 2)
    assert result.anisotropy == pytest.approx(1)
    assert result.self_similarity == pytest.approx(1)
    assert result.intra_sentence == pytest.approx(1)
    assert result.mev == pytest.approx(1)
    assert result.self_similarity_adjusted == pytest.approx(0)
    assert result.intra_sentence_adjusted == pytest.approx(0)


def test_orthogonal_pairs_give_zero() -> None:
    # "a" in two sentences along two orthogonal axes, equally long: no similarity, and half the
    # variance on each axis (MEV, unlike a cosine, feels the lengths: [1, 0] and [0, 3] give 0.9).
    result = measure([[2, 0], [0, 2]], [1, 2], ["a", "a"])
    assert result.anisotropy == pytest.approx(0)
    assert result.self_similarity == pytest.approx(0)
    assert result.mev == pytest.approx(0.5)
    assert result.intra_sentence == pytest.approx(1)  # each sentence is one token, its own mean


def test_opposite_vectors_give_minus_one() -> None:
    result = measure([[2, 0], [-1, 0]], [1, 2], ["a", "a"])
    assert result.anisotropy == pytest.approx(-1)
    assert result.self_similarity == pytest.approx(-1)
    assert result.mev == pytest.approx(1)  # both on one line: a static vector explains them


def test_a_word_in_only_one_sentence_is_skipped() -> None:
    # "a" twice but only in sentence 1 (its pair is same-sentence); "b" in sentences 1 and 2.
    e1, e2, e3 = np.eye(3)
    result = measure([e1, -e1, e2, e2 + e3], [1, 1, 1, 2], ["a", "a", "b", "b"])
    assert result.words == 1
    assert result.self_similarity == pytest.approx(cosine(e2, e2 + e3))  # only "b" counts
    assert result.mev == pytest.approx(explained_by_first(np.stack([e2, e2 + e3])))


def test_same_sentence_pairs_do_not_count() -> None:
    # "a" twice in sentence 1 (identical) and once in sentence 2 (orthogonal): the cross pairs are both 0.
    result = measure([[1, 0], [1, 0], [0, 1]], [1, 1, 2], ["a", "a", "a"])
    assert result.self_similarity == pytest.approx(0)
    assert result.anisotropy == pytest.approx(0)


def test_no_word_in_two_sentences_is_not_applicable() -> None:
    result = measure([[1, 0], [0, 1], [1, 1]], [1, 2, 2], ["a", "b", "c"])
    assert result.words == 0
    assert result.self_similarity is None and result.mev is None and result.self_similarity_adjusted is None
    assert result.anisotropy is not None and result.intra_sentence is not None
    assert format_value(result, "self_similarity") == NO_WORDS == "n/a (no word occurs in two sentences)"
    assert format_value(result, "mev") == NO_WORDS
    assert format_value(result, "self_similarity_adjusted") == NO_WORDS
    (record,) = geometry_document({"m": [result]})["models"][0]["layers"]
    assert record["self_similarity"] is None and record["mev"] is None and record["words"] == 0


def test_one_sentence_has_no_anisotropy() -> None:
    result = measure([[1, 0], [0, 1]], [4, 4], ["a", "a"])
    assert (result.sentences, result.words) == (1, 0)
    assert result.anisotropy is None and result.intra_sentence_adjusted is None
    assert result.intra_sentence == pytest.approx(math.cos(math.pi / 4))
    assert format_value(result, "anisotropy") == ONE_SENTENCE
    assert format_value(result, "intra_sentence_adjusted") == ONE_SENTENCE


def test_no_points() -> None:
    result = measure_layer(3, np.zeros((0, 4), dtype=np.float32), group_occurrences([], []))
    assert result == LayerGeometry(3, 0, 0, 0, None, None, None, None)


def test_zero_vectors_give_numbers_not_nan() -> None:
    result = measure([[0, 0], [0, 0], [1, 0], [0, 0]], [1, 2, 2, 3], ["a", "a", "b", "b"])
    values = [result.anisotropy, result.self_similarity, result.intra_sentence, result.mev]
    assert all(v is not None and math.isfinite(v) for v in values)
    assert result.mev == pytest.approx((0 + 1) / 2)  # all-zero "a" explains nothing; "b" is one vector
    assert not np.isnan(unit_rows(np.zeros((2, 3)))).any()


def test_intra_sentence_uses_the_raw_mean_vector() -> None:
    # The mean of [3, 0] and [0, 1] is [1.5, 0.5], not the mean of the unit vectors.
    result = measure([[3, 0], [0, 1]], [1, 1], ["a", "b"])
    mean = np.array([1.5, 0.5])
    expected = (cosine(np.array([3, 0]), mean) + cosine(np.array([0, 1]), mean)) / 2
    assert result.intra_sentence == pytest.approx(expected)


# --- exact sums against brute force ---


def random_layer(seed: int, points: int = 60, dim: int = 7) -> tuple[np.ndarray, list[int], list[str]]:
    """Random vectors (a shared offset makes them anisotropic), sentences and a small vocabulary."""
    rng = np.random.default_rng(seed)
    matrix = (rng.normal(size=(points, dim)) + rng.normal(size=dim)).astype(np.float32)
    matrix[rng.integers(points)] = 0  # one zero vector, as a padding row might be
    sentences = sorted(rng.integers(1, 9, size=points).tolist())
    tokens = [f"w{t}" for t in rng.integers(0, 12, size=points)]
    return matrix, sentences, tokens


def brute_force(matrix: np.ndarray, sentences: list[int], tokens: list[str]) -> dict[str, float | None]:
    """Every measure by its definition, one pair at a time, in float64."""
    matrix = matrix.astype(np.float64)
    n = len(tokens)
    cross = [(i, j) for i, j in itertools.combinations(range(n), 2) if sentences[i] != sentences[j]]
    anisotropy = np.mean([cosine(matrix[i], matrix[j]) for i, j in cross])
    words = {}
    for word in dict.fromkeys(tokens):
        rows = [i for i in range(n) if tokens[i] == word]
        pairs = [(i, j) for i, j in itertools.combinations(rows, 2) if sentences[i] != sentences[j]]
        if pairs:
            words[word] = (np.mean([cosine(matrix[i], matrix[j]) for i, j in pairs]), rows)
    intra = []
    for s in dict.fromkeys(sentences):
        rows = [i for i in range(n) if sentences[i] == s]
        mean = matrix[rows].mean(axis=0)
        intra.append(np.mean([cosine(matrix[i], mean) for i in rows]))
    mevs = []
    for _, rows in words.values():
        sigma = np.linalg.svd(matrix[rows], compute_uv=False)
        mevs.append(sigma[0] ** 2 / (sigma**2).sum() if (sigma**2).sum() > 0 else 0.0)
    return {
        "anisotropy": float(anisotropy),
        "self_similarity": float(np.mean([m for m, _ in words.values()])),
        "intra_sentence": float(np.mean(intra)),
        "mev": float(np.mean(mevs)),
        "words": len(words),
    }


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_exact_means_match_brute_force(seed: int) -> None:
    matrix, sentences, tokens = random_layer(seed)
    result = measure(matrix, sentences, tokens)
    expected = brute_force(matrix, sentences, tokens)
    assert result.words == expected["words"] > 0
    for key in ("anisotropy", "self_similarity", "intra_sentence", "mev"):
        assert getattr(result, key) == pytest.approx(expected[key], abs=1e-9), key


@pytest.mark.parametrize("block_rows", [1, 4, 17])
def test_blocks_of_shuffled_rows_give_the_same_means(block_rows: int) -> None:
    """Rows in any order, measured a few sentences at a time, as a large corpus is."""
    matrix, sentences, tokens = random_layer(7, points=90)
    shuffle = np.random.default_rng(8).permutation(len(tokens))
    matrix = matrix[shuffle]
    sentences, tokens = [sentences[i] for i in shuffle], [tokens[i] for i in shuffle]
    result = measure_layer(0, matrix, group_occurrences(sentences, tokens), block_rows=block_rows)
    expected = brute_force(matrix, sentences, tokens)
    assert result.words == expected["words"] > 0
    for key in ("anisotropy", "self_similarity", "intra_sentence", "mev"):
        assert getattr(result, key) == pytest.approx(expected[key], abs=1e-9), key


def test_sentence_blocks_never_split_a_sentence() -> None:
    sentences = np.array([2, 0, 1, 1, 1, 0, 2, 3, 3, 1])
    blocks = list(sentence_blocks(sentences, block_rows=3))
    assert sorted(np.concatenate(blocks).tolist()) == list(range(10))
    seen: set[int] = set()
    for block in blocks:
        inside = set(sentences[block].tolist())
        assert not inside & seen  # each sentence lies in one block
        seen |= inside


@pytest.mark.parametrize("shape", [(3, 10), (10, 3), (5, 5)])
def test_explained_by_first_matches_svd(shape: tuple[int, int]) -> None:
    matrix = np.random.default_rng(sum(shape)).normal(size=shape) + 0.5
    sigma = np.linalg.svd(matrix, compute_uv=False)
    assert explained_by_first(matrix) == pytest.approx(sigma[0] ** 2 / (sigma**2).sum(), abs=1e-12)


def test_every_layer_measured_over_the_same_occurrences() -> None:
    matrix, sentences, tokens = random_layer(5)
    results = measure_layers({0: matrix, 4: matrix * 2, 2: -matrix}, sentences, tokens)
    assert [r.layer for r in results] == [0, 4, 2]
    # Cosines ignore scale: doubling every vector changes nothing.
    assert results[1].anisotropy == pytest.approx(results[0].anisotropy)
    assert results[1].mev == pytest.approx(results[0].mev)
    assert results[2].self_similarity == pytest.approx(results[0].self_similarity)


def test_mismatched_rows_are_refused() -> None:
    with pytest.raises(ValueError, match="layer 2: 3 rows but 2 occurrences"):
        measure_layer(2, np.zeros((3, 2)), group_occurrences([1, 2], ["a", "b"]))


def test_the_document_is_json_with_every_measure() -> None:
    matrix, sentences, tokens = random_layer(6)
    document = geometry_document({"tiny": measure_layers({0: matrix, 1: matrix + 1}, sentences, tokens)})
    parsed = json.loads(json.dumps(document, allow_nan=False))
    (model,) = parsed["models"]
    assert model["model"] == "tiny"
    assert [layer["layer"] for layer in model["layers"]] == [0, 1]
    assert set(model["layers"][0]) == {"layer", "points", "sentences", "words"} | set(parsed["measures"])
    first = model["layers"][0]
    assert first["self_similarity_adjusted"] == pytest.approx(first["self_similarity"] - first["anisotropy"])
    assert "Ethayarajh (2019)" in parsed["source"]


# --- the page ---


def sample_views(model: str = "tiny-bert") -> list[GeometryView]:
    matrix, sentences, tokens = random_layer(7)
    layers = {0: matrix, 1: matrix + 1, 2: matrix * np.float32(-1)}
    return geometry_views({model: measure_layers(layers, sentences, tokens)})


def render(views: list[GeometryView]) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )
    page = env.from_string(
        '{% from "geometry.html.j2" import geometry_style, geometry_section %}'
        "<head>{{ geometry_style() }}</head><header>{{ geometry_section(geometry) }}</header>"
    )
    return page.render(geometry=views)


def test_the_section_renders_a_table_and_four_charts() -> None:
    views = sample_views()
    html = render(views)
    assert html.count('<details id="layer-geometry">') == 1
    assert html.count("<svg ") == 4
    assert html.count("<polyline ") == 6  # self-similarity and intra-sentence also draw their adjusted values
    rows = re.findall(r"<tr><td>(.*?)</td></tr>", html)
    assert len(rows) == 3
    assert [row.split("</td><td>") for row in rows] == [list(row) for row in views[0].rows]
    text = " ".join(html.split())
    assert (
        "The projector&rsquo;s own neighbour search centres and normalises data of 50 or more dimensions, "
        "while these measures use the raw vectors." in text
    )
    assert "How Contextual are Contextualized Word Representations?" in text


def test_the_section_says_not_applicable_instead_of_a_chart() -> None:
    result = measure([[1, 0], [0, 1]], [1, 2], ["a", "b"])
    html = render(geometry_views({"m": [result, LayerGeometry(**{**result.__dict__, "layer": 1})]}))
    assert html.count(f'<p class="missing">{NO_WORDS}</p>') == 2  # the self-similarity and MEV charts
    assert html.count("<svg ") == 2
    assert html.count(f"<td>{NO_WORDS}</td>") == 2 * 3  # self-similarity, adjusted and MEV, per layer


def test_model_names_are_escaped() -> None:
    html = render(sample_views("<script>alert(1)</script>"))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_chart_coordinates_follow_the_values() -> None:
    results = [
        LayerGeometry(layer, 10, 2, 1, anisotropy, 0.5, 0.5, 0.5)
        for layer, anisotropy in ((0, -0.25), (3, 0.0), (6, 0.75))
    ]
    chart = measure_chart(results, "Anisotropy", [("anisotropy", "anisotropy")])
    assert [t.label for t in chart.y_ticks] == ["-0.3", "0.0", "0.8"]
    assert [t.at for t in chart.y_ticks] == [chart.bottom, round(chart.bottom - 3 / 11 * 120, 1), chart.top]
    assert [t.label for t in chart.x_ticks] == ["0", "3", "6"]
    (series,) = chart.series
    xs = [d.x for d in series.dots]
    ys = [d.y for d in series.dots]
    assert xs == [chart.left, (chart.left + chart.right) / 2, chart.right]
    assert ys[2] < ys[1] < ys[0]  # larger values are higher up
    assert chart.top <= min(ys) and max(ys) <= chart.bottom
    assert series.points == " ".join(f"{x},{y}" for x, y in zip(xs, ys, strict=True))
    assert [d.title for d in series.dots] == ["layer 0: -0.250", "layer 3: 0.000", "layer 6: 0.750"]


def test_a_round_maximum_is_not_widened() -> None:
    chart = measure_chart([LayerGeometry(0, 10, 2, 1, 0.7, 0.5, 0.5, 0.5)], "Anisotropy", [("anisotropy", "a")])
    assert [t.label for t in chart.y_ticks] == ["0.0", "0.7"]


def test_a_single_layer_is_one_dot_in_the_middle() -> None:
    chart = measure_chart([LayerGeometry(6, 10, 2, 1, 0.3, 0.5, 0.5, 0.5)], "Anisotropy", [("anisotropy", "a")])
    (dot,) = chart.series[0].dots
    assert dot.x == (chart.left + chart.right) / 2
