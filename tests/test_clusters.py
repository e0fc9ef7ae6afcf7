"""`--clusters`: named groups found in the full space, shaped for the projector's palette;
the column, the bookmarks, the page's list, and every bad value."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score
from support import TOPIC_WORDS, read_bundle, run_failing, snapshot, topic_data, write_vectors

from projector_bundle import UsageError, cli
from projector_bundle.pipeline import BundleOptions, build_bundle
from projector_bundle.points.clusters import (
    CLUSTER_HEADER,
    CLUSTER_KEY,
    FINE_HEADER,
    MAX_FINE,
    MAX_NAMED,
    MIN_POINTS,
    REST,
    cluster_points,
)
from projector_bundle.projector.colouring import MAX_CATEGORIES, is_colourable, is_js_number

NAME = re.compile(r"\w+( \w+)*")


# Four topics, each a tight blob around its own direction, with words of its own in every text.
def test_auto_finds_the_topics_and_names_them_by_their_words() -> None:
    matrix, topics, texts = topic_data()
    found = cluster_points(matrix, texts, texts)
    assert found is not None
    assert adjusted_rand_score(topics, found.named) == pytest.approx(1.0)
    assert len(found.names) == len(TOPIC_WORDS)
    for name, rows in ((n, np.flatnonzero(found.named == i)) for i, n in enumerate(found.names)):
        words = set(TOPIC_WORDS[topics[rows[0]]])
        assert set(name.split()) <= words, name  # keywords of its own topic, no stop word, no number


@pytest.mark.parametrize("count", [2, 3, 7, MAX_NAMED])
def test_a_number_asks_for_that_many_clusters(count: int) -> None:
    matrix, _, texts = topic_data()
    found = cluster_points(matrix, texts, count=count)
    assert found is not None and len(found.names) == count
    assert sorted(set(found.named.tolist())) == list(range(count))
    assert sum(found.sizes()) == len(matrix)
    assert found.sizes() == sorted(found.sizes(), reverse=True)


def test_the_columns_fit_the_palette_and_the_colour_limit() -> None:
    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(3000, 16)).astype(np.float32)
    matrix[:5] = 0  # zero vectors have no direction: the rest
    labels = [f"w{i}" for i in range(len(matrix))]
    found = cluster_points(matrix, labels, count="auto")
    assert found is not None
    cells, fine = found.cells(), found.fine_cells()
    assert cells[:5] == [REST] * 5 and fine[:5] == [REST] * 5
    assert len(set(cells) - {REST}) <= MAX_NAMED and len(set(fine) - {REST}) <= MAX_FINE
    assert len(set(fine)) <= MAX_CATEGORIES and is_colourable(cells) and is_colourable(fine)
    assert found.has_fine


def test_names_are_distinct_words_never_a_number() -> None:
    rng = np.random.default_rng(1)
    matrix = rng.normal(size=(400, 8)).astype(np.float32)
    labels = [str(1900 + i % 50) for i in range(len(matrix))]  # every label a number
    found = cluster_points(matrix, labels, count=10)
    assert found is not None
    for names in (found.names, found.fine_names):
        assert len(set(names)) == len(names)
        assert all(NAME.fullmatch(n) and not is_js_number(n) for n in names), names


def test_seeded_and_deterministic() -> None:
    matrix, _, texts = topic_data(seed=5)
    noisy = matrix + np.random.default_rng(2).normal(size=matrix.shape).astype(np.float32) * 3
    runs = [cluster_points(noisy, texts, texts, seed=4) for _ in range(2)]
    assert runs[0] is not None and runs[1] is not None
    np.testing.assert_array_equal(runs[0].named, runs[1].named)
    np.testing.assert_array_equal(runs[0].fine, runs[1].fine)
    assert runs[0].names == runs[1].names and runs[0].fine_names == runs[1].fine_names


def test_too_few_points_give_no_clusters() -> None:
    matrix, _, texts = topic_data()
    assert cluster_points(matrix[: MIN_POINTS - 1], texts[: MIN_POINTS - 1]) is None
    assert cluster_points(matrix[:MIN_POINTS], texts[:MIN_POINTS]) is not None
    assert cluster_points(matrix, texts, count="none") is None


# --- through the CLI ---


def test_vectors_are_clustered_by_default_with_bookmarks_and_a_legend(tmp_path: Path) -> None:
    out = tmp_path / "site"
    assert cli.main(["bundle", "--out", str(out), "--quiet", *write_vectors(tmp_path)]) == 0
    header, rows, marks = read_bundle(out)
    assert header[-2:] == [CLUSTER_HEADER, FINE_HEADER]
    column = [row[header.index(CLUSTER_HEADER)] for row in rows]
    topics = [row[header.index("topic_id")] for row in rows]
    assert adjusted_rand_score(topics, column) == pytest.approx(1.0)
    clusters = [m for m in marks if CLUSTER_KEY in m]
    assert len(clusters) == len(TOPIC_WORDS)
    for mark in clusters:
        members = {i for i, c in enumerate(column) if c == mark[CLUSTER_KEY]}
        assert set(mark["selectedPoints"]) == members
        assert mark["selectedColorOptionName"] == CLUSTER_HEADER and mark["projections"] == []
        assert mark["label"] == f"Cluster: {mark[CLUSTER_KEY]} ({len(members)} points)"
    assert marks[0]["selectedColorOptionName"] == "topic_id"  # the user's own categories stay the default colouring
    page = (out / "index.html").read_text(encoding="utf-8")
    first = marks.index(clusters[0]) + 1
    assert f"#tensor=v&amp;bookmark={first}" in page and clusters[0][CLUSTER_KEY] in page


def test_none_leaves_the_columns_alone(tmp_path: Path) -> None:
    out = tmp_path / "site"
    assert cli.main(["bundle", "--out", str(out), "--quiet", "--clusters", "none", *write_vectors(tmp_path)]) == 0
    header, _, marks = read_bundle(out)
    assert CLUSTER_HEADER not in header and not any(CLUSTER_KEY in m for m in marks)
    assert 'class="cluster-list"' not in (out / "index.html").read_text(encoding="utf-8")


def test_a_tensor_too_small_gets_no_column_and_no_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "site"
    args = ["bundle", "--out", str(out), "--clusters", "3", *write_vectors(tmp_path, rows=MIN_POINTS - 1)]
    assert cli.main(args) == 0
    err = capsys.readouterr().err
    assert (
        f"warning: --clusters 3: tensor v has {MIN_POINTS - 1} points, too few to cluster (at least {MIN_POINTS}); "
        "it gets no Cluster column" in err
    )
    assert CLUSTER_HEADER not in read_bundle(out)[0]


def test_word_table_on_request(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    assert cli.main(["bundle", "--model", str(tiny_model), "--out", str(out), "--quiet", "--clusters", "2"]) == 0
    header, rows, marks = read_bundle(out)
    column = [row[header.index(CLUSTER_HEADER)] for row in rows]
    named = set(column) - {REST}  # [PAD]'s row is zero: no direction, so the rest
    assert len(named) == 2 and all(NAME.fullmatch(c) for c in named), named
    assert sum(CLUSTER_KEY in m for m in marks) == 2


@pytest.mark.parametrize("value", ["two", "", "Auto", "3.5"])
def test_values_that_are_not_a_choice_are_usage_errors(
    value: str, previous: Path, capsys: pytest.CaptureFixture[str], tiny_model: Path
) -> None:
    before = snapshot(previous)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["bundle", "--model", str(tiny_model), "--out", str(previous), f"--clusters={value}"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.splitlines()[-1] == (
        f"export.py bundle: error: argument --clusters: expected auto, none or a number of clusters, got {value!r}"
    )
    assert snapshot(previous) == before


@pytest.mark.parametrize("value", [1, 11, 0, -3])
def test_counts_outside_the_palette_are_usage_errors(
    value: int, previous: Path, capsys: pytest.CaptureFixture[str], tiny_model: Path
) -> None:
    before = snapshot(previous)
    err = run_failing(["bundle", "--model", str(tiny_model), "--out", str(previous), f"--clusters={value}"], capsys, 2)
    assert err == (
        f"error: --clusters {value}: expected 2 to 10 (the projector has 10 colours for categories), got {value}\n"
    )
    assert snapshot(previous) == before
    with pytest.raises(UsageError, match=f"^--clusters {value}: expected 2 to 10"):
        build_bundle(BundleOptions(out=previous, clusters=value))
