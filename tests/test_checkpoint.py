"""Reading word embeddings straight from the checkpoint files: identical to loading the full model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from support import ROOT, TINY_VOCAB, save_tiny_bert

from projector_bundle.models.checkpoint import StoredTensor, find_word_embeddings, read_special_tokens
from projector_bundle.models.loader import (
    ModelRef,
    WordEmbeddings,
    find_stored_word_embeddings,
    read_word_embeddings,
    read_word_embeddings_loaded,
    resolve_model,
)


def folder_ref(path: Path) -> ModelRef:
    return ModelRef(name=str(path), path=path, source="folder")


def assert_identical(direct: WordEmbeddings, loaded: WordEmbeddings) -> None:
    assert direct.matrix.dtype == loaded.matrix.dtype == np.float32
    np.testing.assert_array_equal(direct.matrix.view(np.uint32), loaded.matrix.view(np.uint32))
    assert direct.tokens == loaded.tokens
    assert direct.vocab_rows == loaded.vocab_rows


def resave(source: Path, folder: Path, **options: object) -> Path:
    """The tiny model saved again through another class, dtype or sharding."""
    import torch
    from transformers import AutoTokenizer, BertForMaskedLM, BertModel

    cls = BertForMaskedLM if options.pop("masked_lm", False) else BertModel
    dtype = options.pop("dtype", torch.float32)
    model = cls.from_pretrained(source).to(dtype)
    model.save_pretrained(folder, **options)
    AutoTokenizer.from_pretrained(source).save_pretrained(folder)
    return folder


@pytest.mark.parametrize("limit", [None, 5])
def test_direct_read_equals_the_loaded_model(tiny_model: Path, limit: int | None) -> None:
    ref = folder_ref(tiny_model)
    assert find_stored_word_embeddings(ref).name == "embeddings.word_embeddings.weight"
    assert_identical(read_word_embeddings(ref, limit), read_word_embeddings_loaded(ref, limit))


@pytest.mark.parametrize(
    ("variant", "options", "tensor"),
    [
        ("masked-lm", {"masked_lm": True}, "bert.embeddings.word_embeddings.weight"),
        ("bf16", {"dtype": "bfloat16"}, "embeddings.word_embeddings.weight"),
        ("fp16", {"dtype": "float16"}, "embeddings.word_embeddings.weight"),
        ("sharded", {"max_shard_size": "2KB"}, "embeddings.word_embeddings.weight"),
    ],
)
def test_direct_read_equals_the_loaded_model_for_other_checkpoints(
    tiny_model: Path, tmp_path: Path, variant: str, options: dict, tensor: str
) -> None:
    import torch

    if "dtype" in options:
        options["dtype"] = getattr(torch, options["dtype"])
    folder = resave(tiny_model, tmp_path / variant, **options)
    if variant == "sharded":
        assert (folder / "model.safetensors.index.json").is_file()
    ref = folder_ref(folder)
    assert find_stored_word_embeddings(ref).name == tensor
    direct, loaded = read_word_embeddings(ref, None), read_word_embeddings_loaded(ref, None)
    assert_identical(direct, loaded)
    if variant in ("bf16", "fp16"):
        assert not np.array_equal(direct.matrix, read_word_embeddings(folder_ref(tiny_model), None).matrix)


def test_direct_read_keeps_placeholder_rows(tmp_path: Path) -> None:
    vocab = [*TINY_VOCAB[:7], " ", "\u3000", "hello", "world"]
    ref = folder_ref(save_tiny_bert(tmp_path / "gappy", vocab=vocab))
    direct = read_word_embeddings(ref, None)
    assert direct.tokens[7].text is None
    assert_identical(direct, read_word_embeddings_loaded(ref, None))


def test_direct_read_agrees_on_extra_and_added_special_tokens(tmp_path: Path) -> None:
    from tokenizers import AddedToken
    from transformers import AutoTokenizer

    folder = save_tiny_bert(tmp_path / "extra", vocab=[*TINY_VOCAB, "<x>", "<y>"])
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<x>"]})
    tokenizer.add_tokens([AddedToken("<y>", special=True)])  # special to the tokenizer, not named: special too
    tokenizer.save_pretrained(folder)
    ref = folder_ref(folder)
    direct = read_word_embeddings(ref, None)
    assert [t.special for t in direct.tokens[-2:]] == [True, True]
    assert_identical(direct, read_word_embeddings_loaded(ref, None))


@pytest.mark.packaged
def test_direct_read_equals_the_loaded_packaged_model() -> None:
    ref = resolve_model(None)
    assert find_stored_word_embeddings(ref) is not None
    direct = read_word_embeddings(ref, None)
    assert direct.matrix.shape == (30522, 384)
    assert_identical(direct, read_word_embeddings_loaded(ref, None))


def test_without_a_tokenizer_json_the_vocabulary_comes_from_transformers(tiny_model: Path, tmp_path: Path) -> None:
    folder = tmp_path / "vocab-txt-only"
    folder.mkdir()
    for name in ("config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json"):
        (folder / name).write_bytes((tiny_model / name).read_bytes())
    ref = folder_ref(folder)
    assert_identical(read_word_embeddings(ref, None), read_word_embeddings_loaded(ref, None))


def test_the_direct_route_imports_neither_torch_nor_transformers(tiny_model: Path, tmp_path: Path) -> None:
    args = ["bundle", "--model", str(tiny_model), "--out", str(tmp_path / "site"), "--quiet"]
    script = (
        f"import sys\nfrom projector_bundle import cli\ncode = cli.main({args!r})\n"
        "print(code, sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.split("\n")[-2] == "0 []"


def stored(name: str, shape: tuple[int, ...], dtype: str = "F32") -> StoredTensor:
    return StoredTensor(name=name, file=Path("model.safetensors"), dtype=dtype, shape=shape, offset=0)


BERT_CONFIG = {"vocab_size": 100, "hidden_size": 8}


@pytest.mark.parametrize(
    ("names_shapes", "config", "expected"),
    [
        ([("embeddings.word_embeddings.weight", (100, 8)), ("embeddings.position_embeddings.weight", (512, 8))],
         BERT_CONFIG, "embeddings.word_embeddings.weight"),
        ([("transformer.wte.weight", (100, 8)), ("transformer.wpe.weight", (100, 8))],
         {"vocab_size": 100, "n_embd": 8}, "transformer.wte.weight"),
        ([("albert.embeddings.word_embeddings.weight", (100, 4))],
         {"vocab_size": 100, "hidden_size": 8, "embedding_size": 4}, "albert.embeddings.word_embeddings.weight"),
        # a position table as long as the vocabulary is not a word embedding
        ([("embeddings.word_embeddings.weight", (100, 8)), ("embeddings.position_embeddings.weight", (100, 8))],
         BERT_CONFIG, "embeddings.word_embeddings.weight"),
        # T5/BART: shared and encoder copies are both candidates, so the full model decides
        ([("shared.weight", (100, 8)), ("encoder.embed_tokens.weight", (100, 8))], {"vocab_size": 100, "d_model": 8},
         None),
        ([("embeddings.word_embeddings.weight", (101, 8))], BERT_CONFIG, None),  # resized: the model decides
        ([("embeddings.word_embeddings.weight", (100, 8), "I8")], BERT_CONFIG, None),  # quantised
        ([("embeddings.word_embeddings.weight", (100, 8))], {"hidden_size": 8}, None),  # no vocab_size
        ([("lm_head.weight", (100, 8))], BERT_CONFIG, None),
    ],
)  # fmt: skip
def test_find_word_embeddings(names_shapes: list[tuple], config: dict, expected: str | None) -> None:
    tensors = {entry[0]: stored(*entry) for entry in names_shapes}
    found = find_word_embeddings(tensors, config)
    assert (found and found.name) == expected


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"tokenizer_config.json": {"cls_token": "[CLS]",
                                    "unk_token": {"__type": "AddedToken", "content": "[UNK]", "special": True}}},
         {"[CLS]", "[UNK]"}),
        ({"tokenizer_config.json": {"eos_token": "</s>", "extra_special_tokens": ["<x>"]},
          "special_tokens_map.json": {"eos_token": "</s>", "additional_special_tokens": ["<y>"]}},
         {"</s>", "<x>", "<y>"}),
        ({"tokenizer_config.json": {"eos_token": "</s>"}, "special_tokens_map.json": {"eos_token": "<eos>"}}, None),
        ({"tokenizer_config.json": {"model_max_length": 512}}, None),  # the class defaults would apply
    ],
)  # fmt: skip
def test_read_special_tokens(tmp_path: Path, files: dict[str, dict], expected: set[str] | None) -> None:
    for name, content in files.items():
        (tmp_path / name).write_text(json.dumps(content))
    assert read_special_tokens(tmp_path) == (None if expected is None else frozenset(expected))
