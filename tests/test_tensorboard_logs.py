"""TensorBoard projector logs, written by the real torch SummaryWriter and tensorboard's projector API, read back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from tensorboard.plugins import projector
from torch.utils.tensorboard import SummaryWriter

from projector_bundle import ExportError
from projector_bundle.inputs.tensorboard import PROJECTOR_PBTXT, read_tensorboard_log

WORDS = ["hello", "world", "and", "welcome", "to", "the", "projector", "[CLS]"]


def vectors(rows: int, dim: int, seed: int = 0) -> torch.Tensor:
    # Values with every bit of float32 in use, so a reader that rounds anywhere fails.
    return torch.from_numpy(np.random.default_rng(seed).standard_normal((rows, dim)).astype(np.float32) * 3)


def test_the_exercise_log_reads_back_exactly(tmp_path: Path) -> None:
    mat = vectors(len(WORDS), 5)
    with SummaryWriter(tmp_path) as writer:
        writer.add_embedding(mat, metadata=WORDS, tag="words")
    log = read_tensorboard_log(tmp_path)
    (embedding,) = log.embeddings
    assert embedding.name == "words:00000"
    assert embedding.matrix.dtype == np.float32
    assert np.array_equal(embedding.matrix, mat.numpy())
    assert embedding.rows == [[w] for w in WORDS]
    assert (embedding.bookmarks, embedding.sprite, log.warnings) == ([], None, ())


def test_every_embedding_with_header_sprite_and_steps(tmp_path: Path) -> None:
    first, second, third = vectors(4, 3, 1), vectors(6, 2, 2), vectors(3, 7, 3)
    table = [["a", 1, True], ["b", 2, False], ["c", 3, True], ["d", 4, False]]
    with SummaryWriter(tmp_path) as writer:
        writer.add_embedding(first, metadata=table, metadata_header=["name", "n", "flag"], tag="table")
        writer.add_embedding(second, label_img=torch.rand(6, 3, 8, 10), global_step=3)
        writer.add_embedding(third, metadata=["x", "y", "z"], tag="table", global_step=7)
    log = read_tensorboard_log(tmp_path)
    names = [e.name for e in log.embeddings]
    assert names == ["table:00000", "default:00003", "table:00007"]
    by_name = {e.name: e for e in log.embeddings}
    assert by_name["table:00000"].header == ("name", "n", "flag")
    assert by_name["table:00000"].rows == [[str(c) for c in row] for row in table]
    sprited = by_name["default:00003"]
    assert sprited.rows is None and sprited.header == ()
    assert sprited.sprite is not None
    assert sprited.sprite.single_image_dim == (10, 8)  # [width, height] of (N, C, H=8, W=10) images
    assert sprited.sprite.image.is_file()
    assert sprited.sprite.image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for embedding, mat in zip(log.embeddings, (first, second, third), strict=True):
        assert np.array_equal(embedding.matrix, mat.numpy())


def test_runs_in_sub_folders_are_named_by_their_folder(tmp_path: Path) -> None:
    for run, seed in (("b-run", 1), ("a-run", 2)):
        with SummaryWriter(tmp_path / run) as writer:
            writer.add_embedding(vectors(3, 4, seed), metadata=["p", "q", "r"], tag="emb")
    log = read_tensorboard_log(tmp_path)
    assert [e.name for e in log.embeddings] == ["a-run/emb:00000", "b-run/emb:00000"]
    assert np.array_equal(log.embeddings[0].matrix, vectors(3, 4, 2).numpy())
    # A run's own folder, or its config file, reads as a log of one run.
    assert [e.name for e in read_tensorboard_log(tmp_path / "a-run").embeddings] == ["emb:00000"]
    assert [e.name for e in read_tensorboard_log(tmp_path / "a-run" / PROJECTOR_PBTXT).embeddings] == ["emb:00000"]


def write_config(folder: Path, *entries: dict[str, object]) -> None:
    """A config written by tensorboard's own projector API (`visualize_embeddings`)."""
    config = projector.ProjectorConfig()
    for entry in entries:
        info = config.embeddings.add()
        for key, value in entry.items():
            if key == "tensor_shape":
                info.tensor_shape.extend(value)  # type: ignore[arg-type]
            else:
                setattr(info, key, value)
    projector.visualize_embeddings(str(folder), config)


def test_bookmarks_binary_tensors_and_a_metadata_header(tmp_path: Path) -> None:
    matrix = vectors(3, 4).numpy()
    (tmp_path / "vectors.bytes").write_bytes(matrix.astype("<f4").tobytes())
    (tmp_path / "labels.tsv").write_text("word\tcount\r\nx\t1\r\n\r\ny\t2\r\nz\t3\r\n")
    states = [{"label": "mine", "projections": [{"pca-0": 0.1}] * 3}]
    (tmp_path / "marks.json").write_text(json.dumps(states))
    write_config(
        tmp_path,
        {
            "tensor_name": "mine:0",
            "tensor_path": "vectors.bytes",
            "tensor_shape": [3, 4],
            "metadata_path": "labels.tsv",
            "bookmarks_path": "marks.json",
        },
    )
    (embedding,) = read_tensorboard_log(tmp_path).embeddings
    assert embedding.name == "mine"  # a variable's ":0" dropped, as the plugin drops it
    assert np.array_equal(embedding.matrix, matrix)
    assert (embedding.header, embedding.rows) == (("word", "count"), [["x", "1"], ["y", "2"], ["z", "3"]])
    assert embedding.bookmarks == states


def test_rows_with_stray_tabs_read_as_the_projector_reads_them(tmp_path: Path) -> None:
    """torch writes labels as they are: a tab in one adds a cell, which the projector drops;
    a row short of the header's columns shows empty cells."""
    with SummaryWriter(tmp_path) as writer:
        writer.add_embedding(vectors(3, 2), metadata=["a", "b\tc", "d"], tag="t")
    log = read_tensorboard_log(tmp_path)
    assert log.embeddings[0].rows == [["a"], ["b"], ["d"]]
    metadata = tmp_path / "00000" / "t" / "metadata.tsv"
    assert log.warnings == (
        f"{metadata} line 2: 2 cells, expected 1, as the first line has no tab; read as the projector reads it "
        "(extra cells dropped, missing ones empty)",
    )
    (tmp_path / "short.tsv").write_text("1\t2\n3\t4\n")
    (tmp_path / "short.metadata.tsv").write_text("name\tcount\nx\t1\ny\n")
    write_config(tmp_path, {"tensor_name": "s", "tensor_path": "short.tsv", "metadata_path": "short.metadata.tsv"})
    log = read_tensorboard_log(tmp_path)
    assert log.embeddings[0].rows == [["x", "1"], ["y", ""]]
    assert log.warnings[0].startswith(f"{tmp_path / 'short.metadata.tsv'} line 3: 1 cell, expected 2 as in the header")


# --- what cannot be read: one message naming the file and what is wrong ---


def error_of(logdir: Path) -> str:
    with pytest.raises(ExportError) as caught:
        read_tensorboard_log(logdir)
    return str(caught.value)


def test_a_checkpoint_tensor_names_what_is_needed(tmp_path: Path) -> None:
    write_config(tmp_path, {"tensor_name": "embedding/weights", "metadata_path": "m.tsv"})
    assert error_of(tmp_path) == (
        f"{tmp_path / PROJECTOR_PBTXT}: tensor embedding/weights is a variable of a TensorFlow checkpoint (it has "
        "no tensor_path); export.py reads tensors from files: log it with SummaryWriter.add_embedding, or save it "
        "as a tensors TSV and name that file in tensor_path"
    )


def test_a_folder_without_a_config(tmp_path: Path) -> None:
    with SummaryWriter(tmp_path) as writer:
        writer.add_scalar("loss", 1.0)
    assert error_of(tmp_path) == (
        f"{tmp_path}: no {PROJECTOR_PBTXT} in it or below it; "
        "SummaryWriter.add_embedding writes one into its log folder"
    )
    assert error_of(tmp_path / "missing") == f"{tmp_path / 'missing'}: no such folder"


@pytest.mark.parametrize(
    ("tensor", "metadata", "problem"),
    [
        ("1\t2\n3\t4\n", "a\nb\nc\n", "{metadata}: 3 rows, but tensor t has 2 points"),
        ("1\t2\n", "n\tm\nb\t1\nc\t2\n", "{metadata}: 2 rows after the header, but tensor t has 1 point"),
        ("1\t2\n3\n", "a\nb\n", "{tensor} line 2: 1 value, expected 2 as on line 1"),
        ("1\t2\n3\tx4\n", "a\nb\n", "{tensor}: line 2: 'x4' is not a number"),
        ("1\t2\n3 5\t4\n", "a\nb\n", "{tensor}: line 2: '3 5' is not a number"),
        ("\n\n", "a\n", "{tensor}: no vectors in it"),
    ],
)
def test_files_that_do_not_agree(tmp_path: Path, tensor: str, metadata: str, problem: str) -> None:
    (tmp_path / "t.tsv").write_text(tensor)
    (tmp_path / "m.tsv").write_text(metadata)
    write_config(tmp_path, {"tensor_name": "t", "tensor_path": "t.tsv", "metadata_path": "m.tsv"})
    assert error_of(tmp_path) == problem.format(tensor=tmp_path / "t.tsv", metadata=tmp_path / "m.tsv")


def test_paths_outside_the_config_folder_are_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.tsv").write_text("1\t2\n")
    run = tmp_path / "run"
    run.mkdir()
    write_config(run, {"tensor_name": "t", "tensor_path": "../secret.tsv"})
    assert error_of(run) == (
        f"{run / PROJECTOR_PBTXT}: tensor_path '../secret.tsv' resolves outside the config's folder {run}"
    )


def test_binary_tensor_of_the_wrong_size(tmp_path: Path) -> None:
    (tmp_path / "v.bytes").write_bytes(b"\xff" * 20)
    write_config(tmp_path, {"tensor_name": "t", "tensor_path": "v.bytes", "tensor_shape": [2, 3]})
    assert error_of(tmp_path) == f"{tmp_path / 'v.bytes'}: 20 bytes, but tensor_shape 2 x 3 needs 24"


def test_a_config_that_is_not_a_text_protobuf(tmp_path: Path) -> None:
    (tmp_path / PROJECTOR_PBTXT).write_text("embeddings { tensor_nam: 'x' }\n")
    message = error_of(tmp_path)
    assert message.startswith(f"{tmp_path / PROJECTOR_PBTXT}: not a projector config (")
    assert "tensor_nam" in message
