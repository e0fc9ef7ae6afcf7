"""`--sample`, `--dims` and the size advice, through the CLI on real bundles of the tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from support import TINY_VOCAB, leftovers, read_tensor_bytes, read_tensor_tsv, run_failing, snapshot

from projector_bundle import cli
from projector_bundle.points.projections import reduce_dimensions
from projector_bundle.points.reductions import sample_rows
from projector_bundle.projector.formats import CONFIG_JSON, DEFAULT_FILES, MANIFEST_JSON

POINTS, DIM = len(TINY_VOCAB), 8


def export(model: Path, out: Path, *flags: str) -> None:
    assert cli.main(["bundle", "--model", str(model), "--out", str(out), *flags]) == 0


def metadata(out: Path) -> tuple[list[str], list[list[str]]]:
    header, *rows = (line.split("\t") for line in (out / DEFAULT_FILES.metadata).read_text().splitlines())
    return header, rows


def column(out: Path, name: str) -> list[str]:
    header, rows = metadata(out)
    return [row[header.index(name)] for row in rows]


@pytest.fixture(scope="module")
def whole(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model's bundle without reductions, with neighbours, to compare against."""
    out = tmp_path_factory.mktemp("whole") / "site"
    export(tiny_model, out, "--neighbors", "3", "--quiet")
    return out


# --- --dims ---


def test_dims_ships_an_exact_pca_and_says_how_much_variance_it_keeps(
    tiny_model: Path, whole: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "site"
    export(tiny_model, out, "--dims", "3")
    original = read_tensor_bytes(whole / DEFAULT_FILES.bytes, DIM)
    expected = reduce_dimensions(original, 3)
    name = "tiny-bert/word_embeddings"
    assert f"export: --dims 3: {name} keeps {expected.variance_kept:.1%} of its variance in 3 of 8 dimensions" in (
        capsys.readouterr().err.splitlines()
    )
    config = json.loads((out / CONFIG_JSON).read_text())
    assert config["embeddings"][0]["tensorShape"] == [POINTS, 3]
    np.testing.assert_array_equal(read_tensor_bytes(out / DEFAULT_FILES.bytes, 3), expected.matrix)
    np.testing.assert_array_equal(read_tensor_tsv(out / DEFAULT_FILES.tsv), expected.matrix)
    entry = json.loads((out / MANIFEST_JSON).read_text())["tensors"][0]
    assert entry["shape"] == [POINTS, 3]
    assert entry["reduced"] == {"dims": {"dimension": 8, "variance_kept": round(expected.variance_kept, 6)}}
    assert 0 < expected.variance_kept < 1
    # The bookmark is the PCA of what the page loads: the reduced vectors.
    bookmark = json.loads((out / DEFAULT_FILES.bookmarks).read_text())[0]
    assert bookmark["dataSetDimensions"] == [POINTS, 3]


def test_neighbours_of_a_dims_run_are_those_of_the_full_vectors(tiny_model: Path, whole: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    export(tiny_model, out, "--neighbors", "3", "--dims", "2", "--quiet")
    assert column(out, "neighbors") == column(whole, "neighbors")
    # With only two dimensions the order of neighbours would differ: the test can tell.
    reduced = read_tensor_bytes(out / DEFAULT_FILES.bytes, 2)
    from projector_bundle.points.neighbors import nearest_neighbors

    words = column(whole, "Word")
    in_two_dims = [" ".join(words[j] for j in row) for row in nearest_neighbors(reduced, 3)]
    assert in_two_dims != column(whole, "neighbors")


# --- --sample ---


def test_sample_is_seeded_reproducible_and_keeps_labels_with_their_rows(
    tiny_model: Path, whole: Path, tmp_path: Path
) -> None:
    original = read_tensor_bytes(whole / DEFAULT_FILES.bytes, DIM)
    _, all_rows = metadata(whole)
    runs = {}
    for name, seed in [("a", "7"), ("b", "7"), ("c", "8")]:
        out = tmp_path / name / "site"  # the same name: the page and manifest show the command
        export(tiny_model, out, "--sample", "10", "--seed", seed, "--quiet")
        runs[name] = out
    assert snapshot(runs["a"]) == snapshot(runs["b"])
    rows = sample_rows(POINTS, 10, seed=7)
    assert len(set(rows.tolist())) == 10 and list(rows) == sorted(rows)
    np.testing.assert_array_equal(read_tensor_bytes(runs["a"] / DEFAULT_FILES.bytes, DIM), original[rows])
    header, sampled = metadata(runs["a"])
    assert [r[header.index("Token")] for r in sampled] == [TINY_VOCAB[i] for i in rows]
    # Every label column follows its row, not only the first.
    assert sampled == [all_rows[i][: len(header)] for i in rows]
    assert metadata(runs["c"])[1] != sampled
    entry = json.loads((runs["a"] / MANIFEST_JSON).read_text())["tensors"][0]
    assert entry["shape"] == [10, DIM]
    assert entry["reduced"] == {"sample": {"points": POINTS, "seed": 7}}


def test_sample_and_dims_together(tiny_model: Path, whole: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    export(tiny_model, out, "--sample", "12", "--dims", "4", "--quiet")
    rows = sample_rows(POINTS, 12, seed=0)
    original = read_tensor_bytes(whole / DEFAULT_FILES.bytes, DIM)
    expected = reduce_dimensions(original[rows], 4).matrix
    np.testing.assert_array_equal(read_tensor_bytes(out / DEFAULT_FILES.bytes, 4), expected)
    assert column(out, "Token") == [TINY_VOCAB[i] for i in rows]


# --- bad values: one line, nothing written ---


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--dims", "8"], "error: --dims 8: expected 2 to 7, fewer than the tensor's 8 dimensions\n"),
        (["--dims", "1"], "error: --dims 1: expected 2 to 7, fewer than the tensor's 8 dimensions\n"),
        (["--sample", "24"], "error: --sample 24: the tensor has only 24 points; expected fewer, got 24\n"),
        (["--sample", "1000"], "error: --sample 1000: the tensor has only 24 points; expected fewer, got 1,000\n"),
    ],
)
def test_values_the_data_rules_out_are_usage_errors(
    tiny_model: Path, previous: Path, flags: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(previous)
    err = run_failing(["bundle", "--model", str(tiny_model), "--out", str(previous), "--quiet", *flags], capsys, 2)
    assert err == expected
    assert snapshot(previous) == before
    assert leftovers(previous) == []


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--dims", "0"], "argument --dims: expected a positive integer, got 0"),
        (["--dims", "x"], "argument --dims: expected a positive integer, got 'x'"),
        (["--sample", "-3"], "argument --sample: expected a positive integer, got -3"),
        (["--seed", "-1"], "argument --seed: expected a whole number of 0 or more, got -1"),
    ],
)
def test_bad_numbers_are_refused_by_argparse(
    flags: list[str], expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["bundle", "--out", str(tmp_path / "site"), *flags])
    assert info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith(f"error: {expected}")
    assert not (tmp_path / "site").exists()


@pytest.mark.parametrize(
    ("k", "expected"),
    [
        ("24", "error: --neighbors 24: tensor tiny-bert/word_embeddings has 24 points, so each has at most "
               "23 others; expected fewer than 24, got 24\n"),
        ("101", "error: --neighbors 101: expected at most 100, got 101\n"),
    ],
)  # fmt: skip
def test_neighbours_that_cannot_be_met_are_one_error_line(
    tiny_model: Path, previous: Path, k: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(previous)
    args = ["bundle", "--model", str(tiny_model), "--out", str(previous), "--quiet", "--neighbors", k]
    assert run_failing(args, capsys, 2) == expected
    assert snapshot(previous) == before


# --- size advice ---


def test_size_advice_comes_before_the_files_and_its_way_out_works(
    tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "site"
    export(tiny_model, out, "--max-file-mb", "0.0012")
    err = capsys.readouterr().err.splitlines()
    advice = next(line for line in err if line.startswith("warning: tensor "))
    # Printed before the files are written, not with the warnings at the end.
    assert err.index(advice) < err.index(f"export: writing {out}")
    assert "vectors.tsv is 2,124 bytes, over the 1,200 bytes file limit" in advice
    assert "metadata.tsv" not in advice and "vectors.bytes" not in advice
    ways = advice.split("Ways out: ")[1].split(", ")
    # No --dims: fewer than 8 dimensions (MIN_DIMS) would fit, which is not worth a page.
    assert [way.split(" (")[0].split(" ")[0] for way in ways] == ["--limit", "--sample", "--no-tsv"]
    # Each way offered, taken alone, leaves nothing to advise.
    for way in ways:
        flags = way.split(" (")[0].split(" ")
        export(tiny_model, tmp_path / flags[0].strip("-"), "--max-file-mb", "0.0012", *flags, "--quiet")
        assert not [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning: tensor ")]


def test_take_rows_reads_a_memory_map_in_blocks_and_leaves_it_as_it_was(tmp_path: Path) -> None:
    from projector_bundle.points.blocks import TAKE_BLOCK_ROWS, take_rows

    points = 2 * TAKE_BLOCK_ROWS + 5
    x = np.random.default_rng(0).standard_normal((points, 3)).astype(np.float32)
    x.tofile(tmp_path / "x.f32")
    mapped = np.memmap(tmp_path / "x.f32", dtype=np.float32, mode="r", shape=(points, 3))
    rows = np.array([0, 1, TAKE_BLOCK_ROWS - 1, TAKE_BLOCK_ROWS, 2 * TAKE_BLOCK_ROWS + 4])
    np.testing.assert_array_equal(take_rows(mapped, rows), x[rows])
    np.testing.assert_array_equal(take_rows(mapped, sample_rows(points, 100, seed=3)), x[sample_rows(points, 100, 3)])
    np.testing.assert_array_equal(np.asarray(mapped), x)
