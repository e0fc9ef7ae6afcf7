"""Every tokenizer family, end to end: bundle, validate, labels, tokenize, sentences, inspect, folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from families import LLAMA3_SPECIALS, SENTENCES, build_all
from support import read_tensor_bytes

from projector_bundle import ExportError, cli
from projector_bundle.models.loader import (
    ModelRef,
    inspect_model,
    load_tokenizer,
    read_word_embeddings,
    read_word_embeddings_loaded,
    resolve_model,
    tokenize,
)
from projector_bundle.models.schemes import BYTE_LEVEL, METASPACE, WORDPIECE
from projector_bundle.projector.formats import CONFIG_JSON, DEFAULT_FILES

FAMILIES = ["gpt2", "roberta", "llama2", "t5", "llama3", "albert", "bert", "st-old"]


@pytest.fixture(scope="session")
def family_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_all(tmp_path_factory.mktemp("families"))


@pytest.fixture(scope="session")
def family_bundles(family_models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each family's bundle with the default columns and the sentences' last layer."""
    root = tmp_path_factory.mktemp("family-bundles")
    sentences = root / "sentences.txt"
    sentences.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    bundles = {}
    for name, model in family_models.items():
        out = root / name
        args = ["bundle", "--model", str(model), "--out", str(out), "--sentences", str(sentences), "--layer", "0,1"]
        assert cli.main([*args, "--projections", "none", "--quiet"]) == 0, name
        bundles[name] = out
    return bundles


def metadata(bundle: Path, path: str = DEFAULT_FILES.metadata) -> list[dict[str, str]]:
    lines = (bundle / path).read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]]


def by_token(bundle: Path) -> dict[str, dict[str, str]]:
    return {row["Token"]: row for row in metadata(bundle)}


# family: (scheme, Cyrillic word start, number, preposition starting a word, the same letters inside a word,
#          a byte token and its readable form, a special token)
EXPECTED = {
    "gpt2": (BYTE_LEVEL, "ĠÐ¼Ð¸ÑĢ", "Ġ1990", "Ġof", "of", ("ĠÐ", "▁<0xD0>"), "<|endoftext|>"),
    "roberta": (BYTE_LEVEL, "ĠÐ¼Ð¸ÑĢ", "Ġ1990", "Ġof", "of", ("Ġä½", "▁<0xE4><0xBD>"), "<mask>"),
    "llama2": (METASPACE, "▁мир", "▁1990", "▁of", "of", ("<0x0A>", "<0x0A>"), "<s>"),
    "t5": (METASPACE, "▁мир", "▁1990", "▁of", "of", None, "</s>"),
    "llama3": (BYTE_LEVEL, "ĠÐ¼Ð¸ÑĢ", "42", "Ġof", "of", ("ĠÐ¼Ð", "▁м<0xD0>"), "<|eot_id|>"),
    "albert": (METASPACE, "▁мир", "▁1990", "▁of", "of", None, "[CLS]"),
    "bert": (WORDPIECE, "мир", "1990", "of", "##of", None, "[CLS]"),
    "st-old": (WORDPIECE, "мир", "1990", "of", "##of", None, "[CLS]"),
}
BASE_HEADER = ["Word", "Length", "# vowels", "is number", "is preposition", "is subword", "is special"]


@pytest.mark.parametrize("family", FAMILIES)
def test_bundle_validates_and_labels_read_right(family: str, family_bundles: dict[str, Path]) -> None:
    _, cyrillic, number, prep, inner, byte, special = EXPECTED[family]
    bundle = family_bundles[family]
    assert cli.main(["validate", str(bundle)]) == 0
    header = list(metadata(bundle)[0])
    assert header == [*BASE_HEADER, *(["is byte"] if byte else []), "Token"]
    rows = by_token(bundle)
    assert rows[cyrillic]["Word"] == "▁мир"
    assert (rows[cyrillic]["Length"], rows[cyrillic]["# vowels"], rows[cyrillic]["is subword"]) == ("3", "0", "false")
    assert (rows[number]["is number"], rows[number]["Length"]) == ("true", str(len(number.lstrip("Ġ▁"))))
    assert (rows[prep]["Word"], rows[prep]["is preposition"], rows[prep]["is subword"]) == ("▁of", "true", "false")
    assert (rows[prep]["Length"], rows[prep]["# vowels"]) == ("2", "1")
    assert (rows[inner]["Word"], rows[inner]["is preposition"], rows[inner]["is subword"]) == ("of", "false", "true")
    assert (rows[special]["Word"], rows[special]["is special"], rows[special]["is subword"]) == (
        special,
        "true",
        "false",
    )
    if byte:
        raw, shown = byte
        assert (rows[raw]["Word"], rows[raw]["is byte"]) == (shown, "true")
        assert rows[cyrillic]["is byte"] == "false"
    assert sum(row["is special"] == "true" for row in rows.values()) == len(special_tokens(family))


def special_tokens(family: str) -> list[str]:
    return {
        "gpt2": ["<|endoftext|>"],
        "roberta": ["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
        "llama2": ["<unk>", "<s>", "</s>"],
        "t5": ["<pad>", "</s>", "<unk>"],
        "llama3": LLAMA3_SPECIALS,
        "albert": ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"],
        "bert": ["[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
        "st-old": ["[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
    }[family]


def test_every_llama3_special_is_special(family_bundles: dict[str, Path]) -> None:
    rows = by_token(family_bundles["llama3"])
    assert [rows[t]["is special"] for t in LLAMA3_SPECIALS] == ["true"] * len(LLAMA3_SPECIALS)


@pytest.mark.parametrize("family", FAMILIES)
def test_both_vocabulary_routes_agree(family: str, family_models: dict[str, Path]) -> None:
    ref = resolve_model(str(family_models[family]))
    direct, loaded = read_word_embeddings(ref, None), read_word_embeddings_loaded(ref, None)
    np.testing.assert_array_equal(direct.matrix, loaded.matrix)
    assert direct.tokens == loaded.tokens
    assert direct.scheme == loaded.scheme
    assert direct.scheme.kind == EXPECTED[family][0]
    assert direct.warnings == ()


# family: the readable pieces of "the bank of мир" (specials included), and the decoded text.
TOKENIZED = {
    "gpt2": (["t", "h", "e", "▁bank", "▁of", "▁мир"], "the bank of мир"),
    "llama2": (["<s>", "▁the", "▁bank", "▁of", "▁мир"], "<s> the bank of мир"),
    "t5": (["▁the", "▁bank", "▁of", "▁мир", "</s>"], "the bank of мир</s>"),
    "llama3": (["<|begin_of_text|>", "t", "h", "e", "▁bank", "▁of", "▁мир"], "<|begin_of_text|>the bank of мир"),
    "albert": (["[CLS]", "▁the", "▁bank", "▁of", "▁мир", "[SEP]"], "[CLS] the bank of мир[SEP]"),
    "bert": (["[CLS]", "▁the", "▁bank", "▁of", "▁мир", "[SEP]"], "[CLS] the bank of мир [SEP]"),
}


@pytest.mark.parametrize("family", list(TOKENIZED))
def test_tokenize_gives_readable_and_raw_pieces(family: str, family_models: dict[str, Path]) -> None:
    result = tokenize(resolve_model(str(family_models[family])), "the bank of мир")
    pieces, decoded = TOKENIZED[family]
    assert (result.readable, result.decoded) == (pieces, decoded)
    assert len(result.tokens) == len(result.ids) == len(pieces)
    if EXPECTED[family][0] == BYTE_LEVEL:
        assert "ĠÐ¼Ð¸ÑĢ" in result.tokens


def run_alone(model_dir: Path, sentence: str) -> dict[int, np.ndarray]:
    """Hidden states of one sentence run by itself, without its special tokens, per layer."""
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(model_dir).eval()
    tokenizer = load_tokenizer(ModelRef(name="m", path=model_dir, source="folder"))
    encoder = model.get_encoder() if model.config.is_encoder_decoder else model
    encoded = tokenizer(sentence, return_tensors="pt", return_special_tokens_mask=True)
    keep = ~encoded.pop("special_tokens_mask")[0].bool()
    with torch.no_grad():
        states = encoder(**encoded, output_hidden_states=True).hidden_states
    return {layer: states[layer][0][keep].numpy() for layer in (0, 1)}


@pytest.mark.parametrize("family", FAMILIES)
def test_sentences_equal_one_at_a_time_runs(family: str, family_models, family_bundles) -> None:
    bundle = family_bundles[family]
    config = {e["tensorName"]: e for e in json.loads((bundle / CONFIG_JSON).read_text())["embeddings"]}
    alone = [run_alone(resolve_model(str(family_models[family])).path, s) for s in SENTENCES]
    for layer in (0, 1):
        (entry,) = [e for name, e in config.items() if name.endswith(f"contextual_layer{layer}")]
        matrix = read_tensor_bytes(bundle / entry["tensorPath"], entry["tensorShape"][1])
        np.testing.assert_allclose(matrix, np.concatenate([a[layer] for a in alone]), atol=1e-5)
        tokens = [row["Token"] for row in metadata(bundle, entry["metadataPath"])]
        assert "▁мир" in tokens and "▁bank" in tokens
        assert not any(t.startswith(("Ġ", "##")) for t in tokens)


def test_inspect_finds_gpt2_positions_and_albert_widths(family_models: dict[str, Path], capfd) -> None:
    gpt2 = inspect_model(resolve_model(str(family_models["gpt2"])))
    assert gpt2.position_embeddings == (32, 8)
    assert gpt2.token_type_embeddings is None
    albert = inspect_model(resolve_model(str(family_models["albert"])))
    assert (albert.hidden_size, albert.embedding_size, albert.position_embeddings) == (8, 4, (32, 4))
    t5 = inspect_model(resolve_model(str(family_models["t5"])))
    assert (t5.hidden_size, t5.embedding_size, t5.position_embeddings) == (8, 8, None)
    err = capfd.readouterr().err
    assert "LOAD REPORT" not in err and "Loading weights" not in err


def test_position_tensor_of_gpt2_holds_wpe(family_models: dict[str, Path], tmp_path: Path) -> None:
    from safetensors.numpy import load_file

    out = tmp_path / "site"
    args = ["bundle", "--model", str(family_models["gpt2"]), "--out", str(out), "--tensors", "position"]
    assert cli.main([*args, "--projections", "none", "--quiet"]) == 0
    (entry,) = json.loads((out / CONFIG_JSON).read_text())["embeddings"]
    matrix = read_tensor_bytes(out / entry["tensorPath"], 8)
    np.testing.assert_array_equal(matrix, load_file(family_models["gpt2"] / "model.safetensors")["wpe.weight"])


def test_old_sentence_transformers_layout_follows_modules_json(family_models: dict[str, Path]) -> None:
    ref = resolve_model(str(family_models["st-old"]))
    assert ref.path == (family_models["st-old"] / "0_Transformer").resolve()


def test_modules_json_without_a_transformer_module(tmp_path: Path) -> None:
    (tmp_path / "config.json").unlink(missing_ok=True)
    (tmp_path / "modules.json").write_text(json.dumps([{"path": "1_Pooling", "type": "x.Pooling"}]))
    with pytest.raises(ExportError) as caught:
        resolve_model(str(tmp_path))
    assert str(caught.value) == (
        f"--model {tmp_path}: modules.json lists no sentence_transformers.models.Transformer module"
    )


def test_sentencepiece_only_folder_without_the_package_names_it(
    family_models: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    import importlib.util

    folder = tmp_path / "spiece-only"
    folder.mkdir()
    for name in ("config.json", "model.safetensors"):
        (folder / name).write_bytes((family_models["t5"] / name).read_bytes())
    (folder / "spiece.model").write_bytes(b"\x0a\x00")
    (folder / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "T5Tokenizer"}))
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "sentencepiece" else real(name))
    assert cli.main(["tokenize", "--model", str(folder), "hello"]) == 1
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == (
        f"error: --model {folder}: its tokenizer is spiece.model without tokenizer.json, which needs the "
        "sentencepiece package (pip install sentencepiece)"
    )


@pytest.mark.browser
def test_search_finds_a_cyrillic_word_in_a_byte_level_bundle(family_bundles: dict[str, Path], projector) -> None:
    from browser import serve_folder, wait_until_drawn

    page, log = projector
    bundle = family_bundles["llama3"]
    rows = metadata(bundle)
    with serve_folder(bundle) as url:
        page.goto(url)
        wait_until_drawn(page, len(rows), 8)
        page.locator("vz-projector-inspector-panel #search-box input").fill("мир")
        matches = sum("мир" in row["Word"] for row in rows)
        assert matches >= 2  # ▁мир and мир
        page.get_by_text(f"{matches} matches.").wait_for()
    assert log.external_requests == []
    assert log.console_errors == []
