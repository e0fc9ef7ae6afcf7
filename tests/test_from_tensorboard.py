"""`export.py from-tensorboard`: the exercise's SummaryWriter log -> our static bundle, exact to float32."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from support import read_tensor_bytes, read_tensor_tsv, run_failing, snapshot
from tensorboard.plugins import projector
from torch.utils.tensorboard import SummaryWriter

import projector_bundle as pb
from projector_bundle import cli
from projector_bundle.inputs.tensorboard import PROJECTOR_PBTXT
from projector_bundle.projector.formats import CONFIG_JSON, DEFAULT_FILES, MANIFEST_JSON
from projector_bundle.projector.validate import validate_bundle


def exercise_log(model: Path, logdir: Path) -> tuple[torch.Tensor, list[str]]:
    """The exercise: a BERT's word-embedding matrix, labelled by its vocabulary, logged with add_embedding."""
    from transformers import AutoModel, AutoTokenizer

    bert = AutoModel.from_pretrained(model)
    tokenizer = AutoTokenizer.from_pretrained(model)
    weights = bert.embeddings.word_embeddings.weight
    labels = [token for token, _ in sorted(tokenizer.vocab.items(), key=lambda item: item[1])]
    with SummaryWriter(logdir) as writer:
        writer.add_embedding(weights, metadata=labels, tag="bert")
    return weights.detach(), labels


def metadata_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_the_exercise_round_trips_exactly(tiny_model: Path, tmp_path: Path) -> None:
    weights, labels = exercise_log(tiny_model, tmp_path / "runs")
    out = tmp_path / "site"
    assert cli.main(["from-tensorboard", str(tmp_path / "runs"), "--out", str(out), "--quiet"]) == 0
    rows, dim = weights.shape
    vectors = read_tensor_bytes(out / DEFAULT_FILES.bytes, dim)
    assert vectors.shape == (rows, dim)
    assert np.array_equal(vectors, weights.numpy().astype(np.float32))  # bit for bit
    assert np.array_equal(read_tensor_tsv(out / DEFAULT_FILES.tsv), vectors)
    logged = tmp_path / "runs" / "00000" / "bert" / "metadata.tsv"
    assert metadata_lines(out / DEFAULT_FILES.metadata) == metadata_lines(logged) == labels
    config = json.loads((out / CONFIG_JSON).read_text())
    assert [(e["tensorName"], e["tensorShape"]) for e in config["embeddings"]] == [("bert:00000", [rows, dim])]
    bookmarks = json.loads((out / DEFAULT_FILES.bookmarks).read_text())
    assert len(bookmarks) == 1 and "exactView" in bookmarks[0]  # the exact PCA, as `bundle` ships it
    assert validate_bundle(out) == []


def test_every_embedding_with_its_header_sprite_and_bookmarks(tmp_path: Path) -> None:
    logdir = tmp_path / "runs"
    table = np.random.default_rng(1).standard_normal((12, 4)).astype(np.float32)
    rows = [[f"x{i}", i, "even" if i % 2 == 0 else "odd"] for i in range(12)]
    with SummaryWriter(logdir) as writer:
        writer.add_embedding(torch.from_numpy(table), metadata=rows, metadata_header=["name", "n", "parity"])
        writer.add_embedding(torch.ones(6, 3).cumsum(0), label_img=torch.rand(6, 3, 5, 7), tag="imgs", global_step=2)
    # A bookmark saved in TensorBoard, added to the config as tensorboard's own API writes it.
    states = [{"label": "saved in TensorBoard", "projections": [{"pca-0": float(i)} for i in range(12)]}]
    (logdir / "00000" / "default" / "bookmarks.json").write_text(json.dumps(states))
    tensor_line = 'tensor_path: "00000/default/tensors.tsv"'
    marks_line = 'bookmarks_path: "00000/default/bookmarks.json"'
    text = (logdir / PROJECTOR_PBTXT).read_text()
    (logdir / PROJECTOR_PBTXT).write_text(text.replace(tensor_line, f"{tensor_line}\n  {marks_line}"))
    site = pb.from_tensorboard(logdir, tmp_path / "site")
    out = site.out
    assert site.tensors == (("default:00000", 12, 4), ("imgs:00002", 6, 3))
    assert metadata_lines(out / DEFAULT_FILES.metadata) == ["name\tn\tparity"] + ["\t".join(map(str, r)) for r in rows]
    config = json.loads((out / CONFIG_JSON).read_text())
    second = config["embeddings"][1]
    assert second["sprite"] == {"imagePath": "imgs_00002.sprite.png", "singleImageDim": [7, 5]}
    logged_sprite = logdir / "00002" / "imgs" / "sprite.png"
    assert (out / "imgs_00002.sprite.png").read_bytes() == logged_sprite.read_bytes()
    assert "metadataPath" in second  # no metadata logged: the row number labels each point
    assert metadata_lines(out / second["metadataPath"]) == [str(i) for i in range(1, 7)]
    marks = json.loads((out / DEFAULT_FILES.bookmarks).read_text())
    assert [m.get("label") for m in marks][1:] == ["saved in TensorBoard"] and "exactView" in marks[0]
    assert marks[1] == states[0]
    manifest = json.loads((out / MANIFEST_JSON).read_text())
    assert manifest["tensors"][1]["files"]["sprite"] == "imgs_00002.sprite.png"
    assert validate_bundle(out) == []


def test_a_checkpoint_log_fails_and_the_previous_bundle_stays(
    previous: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = projector.ProjectorConfig()
    config.model_checkpoint_path = "model.ckpt-1000"
    info = config.embeddings.add()
    info.tensor_name = "embedding/word_embeddings"
    info.metadata_path = "metadata.tsv"
    projector.visualize_embeddings(str(tmp_path), config)
    before = snapshot(previous)
    err = run_failing(["from-tensorboard", str(tmp_path), "--out", str(previous), "--quiet"], capsys)
    assert err.splitlines() == [
        f"error: {tmp_path / PROJECTOR_PBTXT}: tensor embedding/word_embeddings is a variable of a TensorFlow "
        "checkpoint (it has no tensor_path); export.py reads tensors from files: log it with "
        "SummaryWriter.add_embedding, or save it as a tensors TSV and name that file in tensor_path"
    ]
    assert snapshot(previous) == before


def test_a_folder_that_is_no_log(previous: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(previous)
    err = run_failing(["from-tensorboard", str(tmp_path), "--out", str(previous), "--quiet"], capsys)
    assert err.splitlines() == [
        f"error: {tmp_path}: no {PROJECTOR_PBTXT} in it or below it; "
        "SummaryWriter.add_embedding writes one into its log folder"
    ]
    assert snapshot(previous) == before


def test_a_non_finite_logged_value_is_refused(
    previous: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mat = torch.zeros(3, 2)
    mat[1, 1] = float("nan")
    with SummaryWriter(tmp_path / "runs") as writer:
        writer.add_embedding(mat, metadata=["a", "b", "c"], tag="t")
    before = snapshot(previous)
    err = run_failing(["from-tensorboard", str(tmp_path / "runs"), "--out", str(previous), "--quiet"], capsys)
    assert err.splitlines() == [
        "error: tensor t:00000: row 2 holds NaN or infinity (or a value beyond float32); "
        "the projector cannot place such a point"
    ]
    assert snapshot(previous) == before


def test_what_reading_the_log_found_is_kept_and_printed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with SummaryWriter(tmp_path / "runs") as writer:
        writer.add_embedding(torch.eye(3), metadata=["a", "b\tc", "d"], tag="t")  # torch writes the tab as it is
    site = pb.from_tensorboard(tmp_path / "runs", tmp_path / "site")
    metadata = tmp_path / "runs" / "00000" / "t" / "metadata.tsv"
    expected = (
        f"{metadata} line 2: 2 cells, expected 1, as the first line has no tab; read as the projector reads it "
        "(extra cells dropped, missing ones empty)"
    )
    assert site.warnings == (expected,)
    assert capsys.readouterr().err == f"warning: {expected}\n"
    assert metadata_lines(site.out / DEFAULT_FILES.metadata) == ["a", "b", "d"]
