"""Contextual embeddings, the other tables, several models, bookmarks and neighbours, end to end."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file
from support import TINY_SENTENCES, leftovers, read_tensor_bytes, run_failing, save_tiny_bert, snapshot

from projector_bundle import cli
from projector_bundle.context.contextual import CONTEXT_HEADER
from projector_bundle.points.projections import umap_available
from projector_bundle.projector.formats import CONFIG_JSON, DEFAULT_FILES, tensor_files

CONTEXT_NAMES = ["tiny-bert/contextual_layer0", "tiny-bert/contextual_layer1"]
# hello ##w world and welcome: 5 pieces; the other two sentences 3 each.
OCCURRENCES = 11


def config_of(bundle: Path) -> dict[str, dict]:
    return {e["tensorName"]: e for e in json.loads((bundle / CONFIG_JSON).read_text())["embeddings"]}


def metadata_of(bundle: Path, entry: dict) -> list[list[str]]:
    return [line.split("\t") for line in (bundle / entry["metadataPath"]).read_text(encoding="utf-8").splitlines()]


def matrix_of(bundle: Path, entry: dict) -> np.ndarray:
    return read_tensor_bytes(bundle / entry["tensorPath"], entry["tensorShape"][1])


def test_config_lists_every_tensor_in_order(context_bundle: Path) -> None:
    config = config_of(context_bundle)
    assert list(config) == [
        "tiny-bert/word_embeddings",
        "tiny-bert/position_embeddings",
        "tiny-bert/token_type_embeddings",
        *CONTEXT_NAMES,
    ]
    assert [e["tensorShape"] for e in config.values()] == [[24, 8], [32, 8], [2, 8], [11, 8], [11, 8]]
    layer1 = config["tiny-bert/contextual_layer1"]
    files = tensor_files("tiny-bert.contextual_layer1")
    assert (layer1["tensorPath"], layer1["metadataPath"], layer1["bookmarksPath"]) == (
        files.bytes,
        files.metadata,
        files.bookmarks,
    )
    assert config["tiny-bert/word_embeddings"]["tensorPath"] == DEFAULT_FILES.bytes


def test_contextual_rows_name_each_occurrence(context_bundle: Path) -> None:
    rows = metadata_of(context_bundle, config_of(context_bundle)["tiny-bert/contextual_layer1"])
    assert tuple(rows[0]) == (*CONTEXT_HEADER, "neighbors")
    assert [row[:5] for row in rows[1:4]] == [
        ["▁the", "1", "1", "the river bank", "1"],
        ["▁river", "1", "2", "the river bank", "1"],
        ["▁bank", "1", "3", "the river bank", "1"],
    ]
    assert [row[0] for row in rows[1:]] == "▁the ▁river ▁bank ▁hello w ▁world ▁and ▁welcome ▁the ▁bank ▁account".split()
    assert [row[2] for row in rows[4:9]] == ["1", "2", "3", "4", "5"]
    assert {row[4] for row in rows[1:]} == {"1"}


def test_contextual_vectors_equal_the_model_run_on_each_sentence_alone(context_bundle: Path, tiny_model: Path) -> None:
    # Batching pads the short sentences; with the attention mask the padding must not matter.
    import torch
    from transformers import AutoModel, AutoTokenizer

    model, tokenizer = AutoModel.from_pretrained(tiny_model).eval(), AutoTokenizer.from_pretrained(tiny_model)
    expected: dict[int, list[np.ndarray]] = {0: [], 1: []}
    with torch.no_grad():
        for sentence in TINY_SENTENCES:
            encoded = tokenizer(sentence, return_tensors="pt")
            states = model(**encoded, output_hidden_states=True).hidden_states
            for layer in expected:
                expected[layer].append(states[layer][0, 1:-1].numpy())  # without [CLS] and [SEP]
    config = config_of(context_bundle)
    for layer, name in enumerate(CONTEXT_NAMES):
        np.testing.assert_allclose(matrix_of(context_bundle, config[name]), np.concatenate(expected[layer]), atol=1e-5)
    assert not np.allclose(matrix_of(context_bundle, config[CONTEXT_NAMES[0]]), np.concatenate(expected[1]))


def test_position_and_type_tables_hold_the_weights(context_bundle: Path, tiny_model: Path) -> None:
    weights = load_file(tiny_model / "model.safetensors")
    config = config_of(context_bundle)
    position, types = config["tiny-bert/position_embeddings"], config["tiny-bert/token_type_embeddings"]
    np.testing.assert_array_equal(matrix_of(context_bundle, position), weights["embeddings.position_embeddings.weight"])
    np.testing.assert_array_equal(matrix_of(context_bundle, types), weights["embeddings.token_type_embeddings.weight"])
    rows = metadata_of(context_bundle, position)
    assert rows[0] == ["Position", "Block of 64", "neighbors"]
    assert [row[:2] for row in (rows[1], rows[32])] == [["0", "0"], ["31", "0"]]
    assert [row[0] for row in metadata_of(context_bundle, types)] == ["Token type", "0", "1"]


def test_neighbors_column_lists_the_most_similar_tokens(context_bundle: Path, tiny_model: Path) -> None:
    words = load_file(tiny_model / "model.safetensors")["embeddings.word_embeddings.weight"].astype(np.float64)
    norms = np.linalg.norm(words, axis=1, keepdims=True)
    assert norms[0] == 0  # [PAD] is a zero row: similar to nothing, and ties everywhere
    sims = (words / np.where(norms == 0, 1, norms)) @ (words / np.where(norms == 0, 1, norms)).T
    np.fill_diagonal(sims, -np.inf)
    rows = metadata_of(context_bundle, config_of(context_bundle)["tiny-bert/word_embeddings"])
    assert rows[0][-1] == "neighbors"
    assert len(rows[1][-1].split()) == 2
    for i, row in enumerate(rows[2:], start=1):
        best = np.argsort(-sims[i], kind="stable")[:2]
        assert row[-1] == " ".join(rows[1 + j][0] for j in best)


def test_bookmarks_hold_the_full_data_pca(context_bundle: Path) -> None:
    for entry in config_of(context_bundle).values():
        (state,) = json.loads((context_bundle / entry["bookmarksPath"]).read_text())
        matrix = matrix_of(context_bundle, entry).astype(np.float64)
        assert state["dataSetDimensions"] == entry["tensorShape"]
        assert state["selectedProjection"] == "pca"
        coords = np.array([[p[f"pca-{c}"] for c in range(3)] for p in state["projections"]])
        centred = matrix - matrix.mean(axis=0)
        u, s, _ = np.linalg.svd(centred, full_matrices=False)
        expected = np.zeros_like(coords)
        keep = min(3, len(s), matrix.shape[0] - 1)
        expected[:, :keep] = u[:, :keep] * s[:keep]
        scale = np.abs(expected).max()
        for c in range(3):
            sign = -1.0 if expected[:, c] @ coords[:, c] < 0 else 1.0
            np.testing.assert_allclose(coords[:, c], sign * expected[:, c], atol=2e-4 * scale)


def test_keep_special_adds_cls_and_sep(tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"the\triver bank\n")))
    out = tmp_path / "site"
    args = ["bundle", "--model", str(tiny_model), "--out", str(out), "--sentences", "-", "--keep-special"]
    assert cli.main([*args, "--tensors", "type", "--projections", "none", "--quiet"]) == 0
    config = config_of(out)
    assert list(config) == ["tiny-bert/token_type_embeddings", "tiny-bert/contextual_layer1"]
    assert all("bookmarksPath" not in e for e in config.values())
    rows = metadata_of(out, config["tiny-bert/contextual_layer1"])
    assert [(row[0], row[2]) for row in rows[1:]] == [("[CLS]", "0"), ("▁the", "1"), ("▁river", "2"),
                                                      ("▁bank", "3"), ("[SEP]", "4")]  # fmt: skip
    assert rows[1][3] == "the\u2409river bank"  # the tab is shown, and the row keeps its columns


def test_several_models_in_one_bundle(tiny_model: Path, tmp_path: Path) -> None:
    other = save_tiny_bert(tmp_path / "other" / "tiny-bert", seed=1)  # the same folder name
    out = tmp_path / "site"
    assert cli.main(["bundle", "--model", str(tiny_model), "--model", str(other), "--out", str(out), "--quiet"]) == 0
    config = config_of(out)
    assert list(config) == ["tiny-bert/word_embeddings", "tiny-bert-2/word_embeddings"]
    assert config["tiny-bert-2/word_embeddings"]["tensorPath"] == "tiny-bert-2.word_embeddings.bytes"
    for name, folder in [("tiny-bert/word_embeddings", tiny_model), ("tiny-bert-2/word_embeddings", other)]:
        weights = load_file(folder / "model.safetensors")["embeddings.word_embeddings.weight"]
        np.testing.assert_array_equal(matrix_of(out, config[name]), weights)
    page = (out / "index.html").read_text()
    assert f'<h1 id="model-name">{tiny_model.name}, {other.name}</h1>' in page  # folder names, never paths


# --- bad input ---


def sentences_file(tmp_path: Path, content: bytes) -> Path:
    path = tmp_path / "sentences.txt"
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "--sentences {path}: no such file"),
        (b"\n  \n", "--sentences {path}: no sentences, only blank lines"),
        (b"caf\xe9\n", "--sentences {path}: not UTF-8 text (byte 0xe9 at offset 3)"),
    ],
)
def test_bad_sentences_file(
    content: bytes | None,
    message: str,
    tiny_model: Path,
    previous: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "missing.txt" if content is None else sentences_file(tmp_path, content)
    before = snapshot(previous)
    err = run_failing(["bundle", "--model", str(tiny_model), "--out", str(previous), "--sentences", str(path)], capsys)
    assert err.splitlines() == ["error: " + message.format(path=path)]
    assert snapshot(previous) == before
    assert leftovers(previous) == []


def test_layer_out_of_range(tiny_model: Path, previous: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = sentences_file(tmp_path, b"hello world\n")
    before = snapshot(previous)
    args = ["bundle", "--model", str(tiny_model), "--out", str(previous), "--sentences", str(path), "--layer", "1,2"]
    err = run_failing(args, capsys, 2)
    assert err.splitlines()[-1] == f"error: --layer 2: {tiny_model} has layers 0 (the embedding output) to 1, got 2"
    assert snapshot(previous) == before
    assert leftovers(previous) == []


def test_layer_needs_sentences(tiny_model: Path, previous: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = run_failing(["bundle", "--model", str(tiny_model), "--out", str(previous), "--layer", "1"], capsys, 2)
    assert err.splitlines() == ["error: --layer needs --sentences (layers are read from running the model)"]


def test_model_without_token_types(previous: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from transformers import DistilBertConfig, DistilBertModel

    folder = tmp_path / "distil"
    DistilBertModel(DistilBertConfig(vocab_size=24, dim=8, n_layers=1, n_heads=2, hidden_dim=16,
                                     max_position_embeddings=32)).save_pretrained(folder)  # fmt: skip
    before = snapshot(previous)
    err = run_failing(["bundle", "--model", str(folder), "--out", str(previous), "--tensors", "position,type"], capsys)
    assert err.splitlines()[-1] == f"error: --tensors type: {folder} has no token_type_embeddings (DistilBertModel)"
    assert snapshot(previous) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tensors", "word,colour"], "argument --tensors: unknown tensor colour; choose from word, position, type"),
        (["--projections", "tsne"], "argument --projections: unknown projection tsne; choose from pca, umap or none"),
        (["--layer", "last"], "argument --layer: expected layer numbers such as 6 or 3,6, or all, got 'last'"),
        (["--neighbors", "0"], "argument --neighbors: expected a positive integer, got 0"),
    ],
)
def test_usage_errors(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["bundle", *args])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith(message)


def test_umap_projection(tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "site"
    args = ["bundle", "--model", str(tiny_model), "--out", str(out), "--projections", "pca,umap", "--quiet"]
    if umap_available():
        assert cli.main(args) == 0
        states = json.loads((out / DEFAULT_FILES.bookmarks).read_text())
        assert [s["selectedProjection"] for s in states] == ["pca", "umap"]
        assert set(states[1]["projections"][0]) == {"umap-0", "umap-1", "umap-2"}
    else:
        err = run_failing(args, capsys)
        assert err.splitlines() == ["error: --projections umap: needs the umap-learn package (pip install umap-learn)"]
        assert not out.exists()
