"""The Python API: what a notebook holds -> the same bundle the CLI writes, through the same pipeline."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas
import polars
import pytest
import torch
from support import read_tensor_bytes, snapshot

import projector_bundle as pb
from projector_bundle import ExportError, cli
from projector_bundle.projector.formats import CONFIG_JSON, DEFAULT_FILES, MANIFEST_JSON, PAGE_HTML
from projector_bundle.projector.validate import validate_bundle

WORDS = ["river", "bank", "money", "water", "loan", "shore"]
COUNTS = [3, 10, 7, 5, 2, 1]


def matrix(rows: int = len(WORDS), dim: int = 5, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((rows, dim)).astype(np.float32)


def written_metadata(out: Path, name: str = DEFAULT_FILES.metadata) -> list[str]:
    return (out / name).read_text(encoding="utf-8").splitlines()


def test_a_bundle_has_the_files_the_cli_writes(tmp_path: Path) -> None:
    """`Bundle.add_embedding` and `export.py bundle --vectors --metadata` meet in the same pipeline route."""
    mat = matrix()
    np.save(tmp_path / "words.npy", mat)
    with open(tmp_path / "words.csv", "w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows([["word", "count"], *zip(WORDS, COUNTS, strict=True)])
    by_cli = tmp_path / "cli"
    args = ["bundle", "--vectors", str(tmp_path / "words.npy"), "--metadata", str(tmp_path / "words.csv")]
    assert cli.main([*args, "--out", str(by_cli), "--quiet"]) == 0

    bundle = pb.Bundle(tmp_path / "api")
    bundle.add_embedding(mat, metadata={"word": WORDS, "count": COUNTS}, tag="words")
    site = bundle.write()
    assert site.tensors == (("words", len(WORDS), 5),)
    cli_files, api_files = snapshot(by_cli), snapshot(site.out)
    assert sorted(cli_files) == sorted(api_files)
    for name in set(cli_files) - {PAGE_HTML, MANIFEST_JSON}:  # the page and manifest name the command
        assert api_files[name] == cli_files[name], name
    assert np.array_equal(read_tensor_bytes(site.out / DEFAULT_FILES.bytes, 5), mat)
    assert written_metadata(site.out) == ["word\tcount", *(f"{w}\t{c}" for w, c in zip(WORDS, COUNTS, strict=True))]
    manifest = json.loads((site.out / MANIFEST_JSON).read_text())
    assert manifest["command"] == "projector_bundle.Bundle(...).write()"
    assert validate_bundle(site.out) == []
    assert site.warnings == ()


def test_warnings_are_printed_and_kept(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = pb.Bundle(tmp_path / "site", neighbors=3)
    bundle.add_embedding(matrix(), metadata=WORDS, tag="a")
    bundle.add_embedding(matrix(3, 5, seed=2), metadata=WORDS[:3], tag="b")  # fewer points than K + 1
    site = bundle.write()
    expected = "--neighbors 3: tensor b has 3 points; its column lists the other 2"
    assert site.warnings == (expected,)
    assert capsys.readouterr().err == f"warning: {expected}\n"


@pytest.mark.parametrize(
    "mat",
    [
        pytest.param(lambda m: m.astype(np.float64), id="numpy float64"),
        pytest.param(lambda m: torch.from_numpy(m).requires_grad_(), id="torch with grad"),
        pytest.param(lambda m: m.tolist(), id="nested lists"),
    ],
)
def test_matrices_in_the_forms_a_notebook_holds(mat, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    expected = matrix()
    bundle = pb.Bundle(tmp_path / "site")
    bundle.add_embedding(mat(expected), metadata=WORDS)
    site = bundle.write()
    assert np.array_equal(read_tensor_bytes(site.out / DEFAULT_FILES.bytes, 5), expected)


def test_a_bfloat16_tensor_is_widened(tmp_path: Path) -> None:
    mat = torch.from_numpy(matrix()).to(torch.bfloat16)
    bundle = pb.Bundle(tmp_path / "site")
    bundle.add_embedding(mat, metadata=WORDS)
    vectors = read_tensor_bytes(bundle.write().out / DEFAULT_FILES.bytes, 5)
    assert np.array_equal(vectors, mat.float().numpy())


LABELLED = ["word\tcount", *(f"{w}\t{c}" for w, c in zip(WORDS, COUNTS, strict=True))]


@pytest.mark.parametrize(
    ("metadata", "header", "expected"),
    [
        pytest.param(WORDS, None, WORDS, id="labels"),
        pytest.param(np.array(WORDS), None, WORDS, id="numpy labels"),
        pytest.param(torch.tensor(COUNTS), None, [str(c) for c in COUNTS], id="torch labels"),
        pytest.param([[w, c] for w, c in zip(WORDS, COUNTS, strict=True)], ["word", "count"], LABELLED, id="rows"),
        pytest.param({"word": WORDS, "count": np.array(COUNTS)}, None, LABELLED, id="dict"),
        pytest.param(pandas.DataFrame({"word": WORDS, "count": COUNTS}), None, LABELLED, id="pandas"),
        pytest.param(polars.DataFrame({"word": WORDS, "count": COUNTS}), None, LABELLED, id="polars"),
    ],
)
def test_metadata_in_the_forms_a_notebook_holds(
    metadata: object, header: list[str] | None, expected: list[str], tmp_path: Path
) -> None:
    bundle = pb.Bundle(tmp_path / "site")
    bundle.add_embedding(matrix(), metadata=metadata, metadata_header=header)
    assert written_metadata(bundle.write().out) == expected


def test_gaps_in_a_data_frame_stay_gaps(tmp_path: Path) -> None:
    frame = pandas.DataFrame({"word": WORDS, "score": [0.5, None, 1.5, float("nan"), 2.0, 3.0]})
    bundle = pb.Bundle(tmp_path / "site")
    bundle.add_embedding(matrix(), metadata=frame)
    # Empty cells: the projector reads them as null and keeps the column numeric (a colour gradient).
    assert written_metadata(bundle.write().out)[1:5] == ["river\t0.5", "bank\t", "money\t1.5", "water\t"]


def test_tags_and_steps_name_the_tensors(tmp_path: Path) -> None:
    bundle = pb.Bundle(tmp_path / "site")
    bundle.add_embedding(matrix(), metadata=WORDS)
    bundle.add_embedding(matrix(seed=1), metadata=WORDS, tag="words", global_step=42)
    site = bundle.write()
    assert [name for name, _, _ in site.tensors] == ["default", "words:00042"]
    config = json.loads((site.out / CONFIG_JSON).read_text())
    assert [e["tensorName"] for e in config["embeddings"]] == ["default", "words:00042"]


def api_error(call) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ExportError) as caught:
        call()
    return str(caught.value)


def test_mistakes_are_named(tmp_path: Path) -> None:
    bundle = pb.Bundle(tmp_path / "site")
    assert api_error(bundle.write) == f"{tmp_path / 'site'}: nothing to write; add_embedding() first"
    bundle.add_embedding(matrix(), metadata=WORDS, tag="w")
    assert api_error(lambda: bundle.add_embedding(matrix(), tag="w")) == (
        "add_embedding(tag='w'): this bundle has a tensor of that name; pass another tag"
    )
    assert api_error(lambda: bundle.add_embedding(matrix(), metadata_header=["a"], tag="x")) == (
        "metadata_header: given without metadata"
    )
    assert api_error(lambda: bundle.add_embedding(matrix(), metadata=[["a", 1]] * 6, tag="x")) == (
        "metadata: rows of several cells need metadata_header, the names of their columns"
    )
    assert api_error(lambda: bundle.add_embedding(matrix(), metadata=[["a", 1]] * 6, metadata_header=["a"])) == (
        "metadata row 0: 2 cells, but metadata_header names 1 columns"
    )
    assert api_error(lambda: bundle.add_embedding(matrix(), metadata=WORDS[:4], tag="x")) == (
        "add_embedding(tag='x'): the metadata has 4 rows but the vectors have 6"
    )
    nan = matrix()
    nan[2, 3] = np.nan
    assert api_error(lambda: bundle.add_embedding(nan, tag="x")) == (
        "add_embedding(tag='x'): row 3 holds NaN or infinity (or a value beyond float32); "
        "the projector cannot place such a point"
    )
    assert api_error(lambda: bundle.add_embedding(np.zeros(6), tag="x")) == (
        "add_embedding(tag='x'): expected a 2-D array (points x dimensions), got shape 6"
    )


def test_a_failed_write_leaves_the_last_good_bundle(tmp_path: Path) -> None:
    out = tmp_path / "site"
    good = pb.Bundle(out)
    good.add_embedding(matrix(), metadata=WORDS)
    good.write()
    before = snapshot(out)
    bad = pb.Bundle(out, neighbors=10)  # more neighbours than the tensor has other points
    bad.add_embedding(matrix(seed=3), metadata=WORDS)
    message = api_error(bad.write)
    assert message.startswith("--neighbors 10:"), message
    assert snapshot(out) == before
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("keep me")
    elsewhere = pb.Bundle(foreign)
    elsewhere.add_embedding(matrix(), metadata=WORDS)
    # The CLI's message: its flags are the API's keywords (force=True).
    assert api_error(elsewhere.write) == (
        f"--out {foreign}: the folder is not empty and has no manifest.json from export.py; "
        "pass --force to write the bundle into it (files of the same names are replaced, the others kept)"
    )
    assert (foreign / "mine.txt").read_text() == "keep me"


def test_from_model_is_export_bundle(tiny_model: Path, tmp_path: Path) -> None:
    site = pb.from_model(str(tiny_model), tmp_path / "api", limit=12, labels=["word", "subword"])
    by_cli = tmp_path / "cli"
    args = ["bundle", "--model", str(tiny_model), "--limit", "12", "--labels", "word,subword", "--out", str(by_cli)]
    assert cli.main([*args, "--quiet"]) == 0
    assert site.tensors == (("tiny-bert/word_embeddings", 12, 8),)
    for name in (DEFAULT_FILES.bytes, DEFAULT_FILES.metadata, DEFAULT_FILES.bookmarks, CONFIG_JSON):
        assert (site.out / name).read_bytes() == (by_cli / name).read_bytes(), name


def test_from_texts_is_export_bundle_texts(tiny_model: Path, tmp_path: Path) -> None:
    texts = ["the river bank", "hello world", "the bank account"]
    site = pb.from_texts(texts, str(tiny_model), tmp_path / "api", metadata={"topic": ["nature", "greeting", "money"]})
    table = tmp_path / "texts.csv"
    with open(table, "w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows([["text", "topic"], *zip(texts, ["nature", "greeting", "money"], strict=True)])
    by_cli = tmp_path / "cli"
    args = ["bundle", "--model", str(tiny_model), "--texts", str(table), "--out", str(by_cli), "--quiet"]
    assert cli.main(args) == 0
    assert site.tensors == (("tiny-bert/texts", 3, 8),)
    for name in (DEFAULT_FILES.bytes, DEFAULT_FILES.metadata, CONFIG_JSON):
        assert (site.out / name).read_bytes() == (by_cli / name).read_bytes(), name
    assert written_metadata(site.out) == [
        "text\ttopic",
        *(f"{t}\t{c}" for t, c in zip(texts, ["nature", "greeting", "money"], strict=True)),
    ]


@pytest.mark.packaged
def test_model_folder_is_the_packaged_model_offline() -> None:
    folder = pb.model_folder()
    assert (folder / "config.json").is_file()
    assert pb.model_folder("sentence-transformers/all-MiniLM-L6-v2") == folder
