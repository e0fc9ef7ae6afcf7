"""Read word embeddings straight from a checkpoint's files, without torch or transformers.

Word embeddings are one tensor and one vocabulary: this reads the input-embedding rows
from the safetensors file (memory-mapped, so only those pages are touched) and the
vocabulary from tokenizer.json with the `tokenizers` library. Whenever the files leave
any doubt (no safetensors, no tokenizer.json, several candidate tensors, special tokens
the tokenizer.json lacks), it returns None and `model` loads the full model instead;
tests check that both routes give identical matrices and tokens.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .schemes import Scheme, detect_scheme

MODEL_CONFIG = "config.json"
SAFETENSORS = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
TOKENIZER_JSON = "tokenizer.json"
TOKENIZER_CONFIG = "tokenizer_config.json"
SPECIAL_TOKENS_MAP = "special_tokens_map.json"

# Config keys that hold the width of the input embeddings, across architectures.
WIDTH_KEYS = ("hidden_size", "embedding_size", "d_model", "n_embd", "dim")
# Module names that hold input embeddings in common architectures without "embed" in them.
EMBEDDING_MODULES = frozenset({"wte", "shared", "word_embeddings", "embed_tokens", "tok_embeddings"})
NOT_WORD_EMBEDDINGS = ("position", "token_type", "lm_head", "decoder.", "predictions")
# The named special tokens transformers' tokenizers know (SPECIAL_TOKENS_ATTRIBUTES).
NAMED_SPECIAL = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
EXTRA_SPECIAL = ("additional_special_tokens", "extra_special_tokens")

# Little-endian numpy dtypes of safetensors' dtype names; BF16 is read as raw bits.
FLOAT_DTYPES = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "BF16": "<u2"}


@dataclass(frozen=True)
class StoredTensor:
    """Where one tensor lies in a safetensors file."""

    name: str
    file: Path
    dtype: str
    shape: tuple[int, ...]
    offset: int  # bytes from the start of the file


def read_safetensors_header(file: Path) -> dict[str, StoredTensor] | None:
    """The tensors of one safetensors file (an 8-byte little-endian length, then a JSON header);
    None when it cannot be read, so that transformers loads it and reports the problem."""
    try:
        end = file.stat().st_size
        with open(file, "rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            if 8 + size > end:  # a damaged length: never allocate what the file cannot hold
                return None
            header = json.loads(f.read(size))
        start = 8 + size
        tensors = {
            name: StoredTensor(name, file, entry["dtype"], tuple(entry["shape"]), start + entry["data_offsets"][0])
            for name, entry in header.items()
            if name != "__metadata__"
        }
        spans = {name: entry["data_offsets"] for name, entry in header.items() if name != "__metadata__"}
    except (OSError, struct.error, ValueError, KeyError, TypeError):
        return None
    if any(start + stop > end or begin > stop for begin, stop in spans.values()):
        return None
    return tensors


def list_stored_tensors(folder: Path) -> dict[str, StoredTensor] | None:
    """Every tensor of the folder's safetensors checkpoint (single file or shards), or None without one."""
    if (folder / SAFETENSORS).is_file():
        return read_safetensors_header(folder / SAFETENSORS)
    if not (folder / SAFETENSORS_INDEX).is_file():
        return None
    try:
        weight_map = json.loads((folder / SAFETENSORS_INDEX).read_text(encoding="utf-8"))["weight_map"]
    except (OSError, ValueError, KeyError):
        return None
    tensors: dict[str, StoredTensor] = {}
    for shard in sorted(set(weight_map.values())):
        found = read_safetensors_header(folder / shard)
        if found is None:
            return None
        tensors.update(found)
    return tensors


def find_word_embeddings(tensors: dict[str, StoredTensor], config: dict) -> StoredTensor | None:
    """The one tensor shaped [vocab_size, width] that names input embeddings; None when not exactly one."""
    vocab_size = config.get("vocab_size")
    widths = {config[key] for key in WIDTH_KEYS if isinstance(config.get(key), int)}
    if not isinstance(vocab_size, int) or not widths:
        return None
    candidates = [
        t
        for t in tensors.values()
        if len(t.shape) == 2
        and t.shape[0] == vocab_size
        and t.shape[1] in widths
        and t.dtype in FLOAT_DTYPES
        and t.name.endswith(".weight")
        and is_embedding_name(t.name)
    ]
    return candidates[0] if len(candidates) == 1 else None


def is_embedding_name(name: str) -> bool:
    module = name.removesuffix(".weight")
    if any(word in module for word in NOT_WORD_EMBEDDINGS):
        return False
    return "embed" in module.rsplit(".", 1)[-1] or module.rsplit(".", 1)[-1] in EMBEDDING_MODULES


def read_rows(tensor: StoredTensor, rows: int) -> np.ndarray:
    """The first `rows` rows as float32; half precisions widen exactly (bf16 is float32's top 16 bits).

    Float32 rows are the file's own memory map, read-only and never copied: every later step
    reads them in blocks, so a 250k x 768 table costs no heap.
    """
    dim = tensor.shape[1]
    if rows == 0:
        return np.zeros((0, dim), dtype=np.float32)
    stored = np.memmap(tensor.file, dtype=FLOAT_DTYPES[tensor.dtype], mode="r", offset=tensor.offset, shape=(rows, dim))
    if tensor.dtype == "F32":
        return stored
    if tensor.dtype == "BF16":
        return (stored.astype(np.uint32) << 16).view(np.float32)
    return np.array(stored, dtype=np.float32)


@dataclass(frozen=True)
class Vocabulary:
    """Token text to id, the texts the tokenizer treats as special, its other added tokens, and its scheme."""

    ids: dict[str, int]
    special: frozenset[str]
    scheme: Scheme
    added: frozenset[str] = frozenset()


def read_tokenizer_vocabulary(folder: Path) -> Vocabulary | None:
    """The vocabulary as transformers' tokenizer reports it (`get_vocab()`, `all_special_tokens` and
    the added tokens marked special), read from tokenizer.json; None when transformers might add
    or rename tokens on load."""
    if not (folder / TOKENIZER_JSON).is_file() or not (folder / TOKENIZER_CONFIG).is_file():
        return None
    special = read_special_tokens(folder)
    if special is None:
        return None
    from tokenizers import Tokenizer

    try:
        text = (folder / TOKENIZER_JSON).read_text(encoding="utf-8")
        ids = Tokenizer.from_str(text).get_vocab(with_added_tokens=True)
        described = json.loads(text)
    except Exception:  # tokenizers raises plain Exception; transformers will load it and report
        return None
    if not special <= ids.keys():  # transformers would append the missing ones as new tokens
        return None
    special_added, added = split_added_tokens(described.get("added_tokens") or [])
    return Vocabulary(ids=ids, special=special | special_added, scheme=detect_scheme(described), added=added)


def split_added_tokens(entries: list[dict]) -> tuple[frozenset[str], frozenset[str]]:
    """tokenizer.json's added tokens: (those marked special, the others)."""
    special = frozenset(str(e["content"]) for e in entries if e.get("special"))
    return special, frozenset(str(e["content"]) for e in entries if not e.get("special")) - special


def read_special_tokens(folder: Path) -> frozenset[str] | None:
    """Named and extra special tokens from the tokenizer's config files; None when they disagree
    or when none are named (transformers would then use the tokenizer class's defaults)."""
    named: dict[str, str] = {}
    extra: set[str] = set()
    for name in (SPECIAL_TOKENS_MAP, TOKENIZER_CONFIG):
        path = folder / name
        if not path.is_file():
            continue
        config = json.loads(path.read_text(encoding="utf-8"))
        for key in NAMED_SPECIAL:
            if config.get(key) is None:
                continue
            text = token_text(config[key])
            if named.setdefault(key, text) != text:
                return None
        for key in EXTRA_SPECIAL:
            values = config.get(key) or []
            extra.update(token_text(v) for v in (values.values() if isinstance(values, dict) else values))
    if not named:
        return None
    return frozenset(named.values()) | frozenset(extra)


def token_text(value: object) -> str:
    """A special token as written in the configs: a string or an AddedToken dict."""
    return value["content"] if isinstance(value, dict) else str(value)


def read_config(folder: Path) -> dict:
    """config.json, or {} when it is unreadable (transformers will say why)."""
    try:
        config = json.loads((folder / MODEL_CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return config if isinstance(config, dict) else {}
