"""The CLI end to end on a tiny real BERT: files, shapes, labels, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file
from support import TINY_VOCAB, leftovers, read_tensor_bytes, read_tensor_tsv, run_failing, save_tiny_bert, snapshot

from projector_bundle import cli
from projector_bundle.projector.formats import (
    CONFIG_JSON,
    DEFAULT_FILES,
    MANIFEST_JSON,
    PAGE_HTML,
    PROJECTOR_JS,
    PROJECTOR_NOTICE,
)


def model_weights(folder: Path) -> np.ndarray:
    return load_file(folder / "model.safetensors")["embeddings.word_embeddings.weight"]


def test_bundle_writes_every_file(tiny_bundle: Path) -> None:
    names = {p.name for p in tiny_bundle.iterdir()}
    assert {DEFAULT_FILES.tsv, DEFAULT_FILES.bytes, DEFAULT_FILES.metadata, CONFIG_JSON, PAGE_HTML} <= names
    assert {PROJECTOR_JS, PROJECTOR_NOTICE} <= names
    assert "Apache License" in (tiny_bundle / PROJECTOR_NOTICE).read_text()


def test_tensor_files_hold_the_model_matrix_exactly(tiny_bundle: Path, tiny_model: Path) -> None:
    expected = model_weights(tiny_model)
    np.testing.assert_array_equal(read_tensor_bytes(tiny_bundle / DEFAULT_FILES.bytes, expected.shape[1]), expected)
    np.testing.assert_array_equal(read_tensor_tsv(tiny_bundle / DEFAULT_FILES.tsv), expected)


def test_metadata_rows_equal_tensor_rows(tiny_bundle: Path) -> None:
    lines = (tiny_bundle / DEFAULT_FILES.metadata).read_text(encoding="utf-8").splitlines()
    header, rows = lines[0].split("\t"), [line.split("\t") for line in lines[1:]]
    assert header == ["Word", "Length", "# vowels", "is number", "is preposition", "is subword", "is special", "Token"]
    assert [row[-1] for row in rows] == TINY_VOCAB
    assert rows[TINY_VOCAB.index("into")] == ["▁into", "4", "2", "false", "true", "false", "false", "into"]
    assert rows[TINY_VOCAB.index("##w")] == ["w", "1", "0", "false", "false", "true", "false", "##w"]
    assert rows[TINY_VOCAB.index("[unused1]")][-2] == "true"


def test_config_points_at_the_bytes(tiny_bundle: Path, tiny_model: Path) -> None:
    config = json.loads((tiny_bundle / CONFIG_JSON).read_text())
    (embedding,) = config["embeddings"]
    assert embedding == {
        "tensorName": "tiny-bert/word_embeddings",
        "tensorShape": [len(TINY_VOCAB), 8],
        "tensorPath": "vectors.bytes",
        "metadataPath": "metadata.tsv",
        "bookmarksPath": "vectors.bookmarks.json",
    }


def test_limit_takes_the_first_rows(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    assert cli.main(["bundle", "--model", str(tiny_model), "--out", str(out), "--limit", "5", "--quiet"]) == 0
    assert read_tensor_bytes(out / DEFAULT_FILES.bytes, 8).shape == (5, 8)
    assert len((out / DEFAULT_FILES.metadata).read_text().splitlines()) == 1 + 5


def test_labels_pick_columns_and_a_single_column_has_no_header(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    args = ["bundle", "--model", str(tiny_model), "--out", str(out), "--labels", "token", "--quiet"]
    assert cli.main(args) == 0
    assert (out / DEFAULT_FILES.metadata).read_text(encoding="utf-8").splitlines() == TINY_VOCAB


def test_rows_without_a_token_keep_a_placeholder(tmp_path: Path) -> None:
    # The tokenizer strips vocabulary lines: two whitespace lines both become "",
    # so the first one's id has no token any more. Its row must stay.
    vocab = [*TINY_VOCAB[:7], " ", "\u3000", "hello", "world"]
    model = save_tiny_bert(tmp_path / "gappy", vocab=vocab)
    out = tmp_path / "site"
    assert cli.main(["bundle", "--model", str(model), "--out", str(out), "--labels", "token", "--quiet"]) == 0
    words = (out / DEFAULT_FILES.metadata).read_text(encoding="utf-8").splitlines()
    assert len(words) == len(vocab)
    assert words[7:] == ["[id 7]", "[empty]", "hello", "world"]


def test_tokenize_prints_ids_and_decoded_text(tiny_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["tokenize", "--model", str(tiny_model), "Hellow world and welcome"]) == 0
    lines = capsys.readouterr().out.splitlines()
    pieces = [("[CLS]", "[CLS]"), ("hello", "▁hello"), ("##w", "w"), ("world", "▁world"), ("and", "▁and")]
    pieces += [("welcome", "▁welcome"), ("[SEP]", "[SEP]")]
    # id, the readable piece (▁ starts a word, ## is gone), the vocabulary's own spelling
    assert lines[:-1] == [f"{TINY_VOCAB.index(raw)}\t{readable}\t{raw}" for raw, readable in pieces]
    assert lines[-1] == "decoded: [CLS] hellow world and welcome [SEP]"


def test_inspect_reports_shapes(tiny_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["inspect", "--model", str(tiny_model)]) == 0
    facts = dict(line.split(":", 1) for line in capsys.readouterr().out.splitlines())
    assert facts["vocabulary size"].strip() == str(len(TINY_VOCAB))
    assert facts["hidden size"].strip() == "8"
    assert facts["word-embedding weights"].strip() == str(len(TINY_VOCAB) * 8)
    assert facts["position embeddings"].strip() == "32 x 8"
    assert facts["token-type embeddings"].strip() == "2 x 8"


# --- bad input: one line on stderr, the right exit code, the previous bundle intact ---


def test_unknown_model(previous: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(previous)
    err = run_failing(["bundle", "--model", "no-such-org/no-such-model", "--out", str(previous)], capsys)
    assert err.splitlines()[-1] == (
        "error: --model no-such-org/no-such-model: not a local folder, not in the Hugging Face cache, "
        "and huggingface.co cannot be reached"
    )
    assert snapshot(previous) == before


def test_missing_folder(previous: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope" / "model"
    err = run_failing(["bundle", "--model", str(missing), "--out", str(previous)], capsys)
    assert err.splitlines()[-1] == f"error: --model {missing}: no such folder"


def test_folder_without_weights(
    previous: Path, tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "no-weights"
    folder.mkdir()
    for name in ("config.json", "vocab.txt", "tokenizer_config.json"):
        (folder / name).write_bytes((tiny_model / name).read_bytes())
    before = snapshot(previous)
    err = run_failing(["bundle", "--model", str(folder), "--out", str(previous)], capsys)
    assert err.splitlines()[-1] == (
        f"error: --model {folder}: no weights in the folder (expected one of model.safetensors, "
        "model.safetensors.index.json, pytorch_model.bin, pytorch_model.bin.index.json)"
    )
    assert snapshot(previous) == before


def test_model_without_input_embeddings(previous: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from transformers import ViTConfig, ViTModel

    folder = tmp_path / "vit"
    ViTModel(ViTConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16,
                       image_size=8, patch_size=4)).save_pretrained(folder)  # fmt: skip
    before = snapshot(previous)
    err = run_failing(["bundle", "--model", str(folder), "--out", str(previous)], capsys)
    assert err.splitlines()[-1] == f"error: --model {folder}: the model has no input embeddings (ViTModel)"
    assert snapshot(previous) == before


@pytest.mark.parametrize(("limit", "got"), [("0", "0"), ("-3", "-3"), ("ten", "'ten'")])
def test_bad_limit_is_a_usage_error(limit: str, got: str, previous: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(previous)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["bundle", "--out", str(previous), f"--limit={limit}"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == f"export.py bundle: error: argument --limit: expected a positive integer, got {got}"
    assert snapshot(previous) == before


def test_unknown_label_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["bundle", "--labels", "word,colour"])
    assert exit_info.value.code == 2
    assert "unknown label colour; choose from word, length, vowels," in capsys.readouterr().err


def test_out_is_a_file(tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "site"
    target.write_text("not a folder")
    err = run_failing(["bundle", "--model", str(tiny_model), "--out", str(target)], capsys)
    assert err.splitlines()[-1] == f"error: --out {target}: is a file, not a folder"
    assert target.read_text() == "not a folder"
    assert leftovers(target) == []


def test_out_under_a_file(tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    err = run_failing(["bundle", "--model", str(tiny_model), "--out", str(blocker / "site")], capsys)
    assert err.splitlines()[-1] == f"error: --out {blocker / 'site'}: {blocker} is not a folder"


def test_rebuild_replaces_the_bundle_and_leaves_no_staging(tiny_model: Path, previous: Path) -> None:
    # A file an older build wrote (its manifest lists it) goes; one the user put there stays.
    (previous / "stale.txt").write_text("from an older build")
    manifest = json.loads((previous / MANIFEST_JSON).read_text())
    manifest["files"]["stale.txt"] = {"size": 19, "sha256": "0" * 64}
    (previous / MANIFEST_JSON).write_text(json.dumps(manifest))
    (previous / "notes.txt").write_text("the user's")
    assert cli.main(["bundle", "--model", str(tiny_model), "--out", str(previous), "--quiet"]) == 0
    assert not (previous / "stale.txt").exists()
    assert (previous / "notes.txt").read_text() == "the user's"
    assert leftovers(previous) == []
