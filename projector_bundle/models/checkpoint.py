"""Read word embeddings straight from a checkpoint's files, without torch or transformers.

Word embeddings are one tensor and one vocabulary: this reads the input-embedding rows
from the safetensors file (memory-mapped, so only those pages are touched) and the
vocabulary from tokenizer.json with the `tokenizers` library. Whenever the files leave
any doubt (no safetensors, no tokenizer.json, several candidate tensors, special tokens
the tokenizer.json lacks), it returns None and `model` loads the full model instead;
tests check that both routes give identical matrices and tokens.

Every file is checked before use, as safetensors, tokenizers and transformers would read
it: a file they would refuse, or trip over, raises `ModelFileError` naming the file and
what is wrong (a safetensors header before anything it declares is allocated).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeGuard

import numpy as np

from projector_bundle.files import open_regular
from projector_bundle.models.modeljson import (
    ModelFileError,
    decode_utf8,
    field_name,
    is_int,
    kind,
    optional_positive_int,
    optional_string,
    parse_json,
    read_json_object,
    read_text,
    require_object,
    shown,
)
from projector_bundle.models.schemes import Scheme, detect_scheme
from projector_bundle.text import one_line

if TYPE_CHECKING:
    from tokenizers import Tokenizer

MODEL_CONFIG = "config.json"
SAFETENSORS = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
TOKENIZER_JSON = "tokenizer.json"
TOKENIZER_CONFIG = "tokenizer_config.json"
SPECIAL_TOKENS_MAP = "special_tokens_map.json"
ADDED_TOKENS = "added_tokens.json"
PYTORCH_BIN = "pytorch_model.bin"
PYTORCH_BIN_INDEX = "pytorch_model.bin.index.json"
WEIGHT_FILES = (SAFETENSORS, SAFETENSORS_INDEX, PYTORCH_BIN, PYTORCH_BIN_INDEX)

# Config keys of the model's hidden size (its layers' width), across architectures.
HIDDEN_SIZE_KEYS = ("hidden_size", "d_model", "n_embd", "dim")
# Config keys that may hold the input embeddings' width: ALBERT and ELECTRA set it below the hidden size.
WIDTH_KEYS = (*HIDDEN_SIZE_KEYS, "embedding_size")
# Module names that hold input embeddings in common architectures without "embed" in them.
EMBEDDING_MODULES = frozenset({"wte", "shared", "word_embeddings", "embed_tokens", "tok_embeddings"})
NOT_WORD_EMBEDDINGS = ("position", "token_type", "lm_head", "decoder.", "predictions")
# The named special tokens transformers' tokenizers know (SPECIAL_TOKENS_ATTRIBUTES).
NAMED_SPECIAL = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
EXTRA_SPECIAL = ("additional_special_tokens", "extra_special_tokens")

# Little-endian numpy dtypes of safetensors' dtype names; BF16 is read as raw bits.
FLOAT_DTYPES = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "BF16": "<u2"}
# Every dtype safetensors 0.8 knows, with its width in bits.
DTYPE_BITS = {
    "BOOL": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8,
    "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8, "I16": 16, "U16": 16, "F16": 16, "BF16": 16, "I32": 32, "U32": 32,
    "F32": 32, "C64": 64, "F64": 64, "I64": 64, "U64": 64,
}  # fmt: skip
# safetensors reads no header above 100 MB (its MAX_HEADER_SIZE).
MAX_HEADER_BYTES = 100_000_000
METADATA = "__metadata__"
# The fields of a token written as a dict (tokenizers' AddedToken, and transformers' "__type" tag).
ADDED_TOKEN_FLAGS = ("single_word", "lstrip", "rstrip", "normalized", "special")
ADDED_TOKEN = "AddedToken"
# The model types the tokenizers library reads from a tokenizer.json.
TOKENIZER_MODELS = ("BPE", "Unigram", "WordLevel", "WordPiece")
# The parts of a tokenizer.json's pipeline around its model.
PIPELINE_PARTS = ("normalizer", "pre_tokenizer", "post_processor", "decoder")
ADDED_TOKENS_DECODER = "added_tokens_decoder"


@dataclass(frozen=True)
class StoredTensor:
    """Where one tensor lies in a safetensors file."""

    name: str
    file: Path
    dtype: str
    shape: tuple[int, ...]
    offset: int  # bytes from the start of the file


def read_safetensors_header(file: Path) -> dict[str, StoredTensor]:
    """The tensors of one safetensors file (an 8-byte little-endian length, then a JSON header),
    checked as safetensors checks them, before anything is allocated: a file it would refuse
    (a damaged length, a span past the end, tensors that share bytes) raises ModelFileError."""
    try:
        with open_regular(file) as f:
            size = os.fstat(f.fileno()).st_size
            prefix = f.read(8)
            if len(prefix) < 8:
                raise ModelFileError(file, f"{size:,} bytes: too short for safetensors (its header length takes 8)")
            (length,) = struct.unpack("<Q", prefix)
            if length > size - 8:  # a damaged length: never allocate what the file cannot hold
                raise ModelFileError(file, f"the header length says {length:,} bytes, but {size - 8:,} follow it")
            if length > MAX_HEADER_BYTES:
                raise ModelFileError(
                    file, f"a header of {length:,} bytes, more than safetensors reads ({MAX_HEADER_BYTES:,})"
                )
            raw = f.read(length)
    except OSError as exc:
        raise ModelFileError(file, f"cannot be read ({exc.strerror or exc})") from None
    subject = "the header"
    # Not counted: the checks below refuse any nesting beyond a tensor's lists.
    text = decode_utf8(raw, file, subject)
    header = require_object(parse_json(text, file, subject, depth=None, constants=False), file, subject)
    metadata = header.get(METADATA)
    if metadata is not None and not (isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())):
        raise ModelFileError(file, f"{METADATA} must map names to strings, got {shown(metadata)}")
    entries = [stored_entry(name, entry, file) for name, entry in header.items() if name != METADATA]
    check_layout(entries, size - 8 - length, file)
    start = 8 + length
    return {e.name: StoredTensor(e.name, file, e.dtype, e.shape, start + e.begin) for e in entries}


@dataclass(frozen=True)
class HeaderEntry:
    """One tensor as a safetensors header declares it: offsets count from the end of the header."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int


def stored_entry(name: str, entry: object, file: Path) -> HeaderEntry:
    """One header entry, its types and its size checked: `shape` times the dtype's width is the span."""
    tensor = f"tensor {shown(name)}"
    if not isinstance(entry, dict):
        raise ModelFileError(file, f"{tensor} must be an object with dtype, shape and data_offsets, got {shown(entry)}")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if not isinstance(dtype, str) or dtype not in DTYPE_BITS:
        raise ModelFileError(file, f"{tensor} has an unknown dtype {shown(dtype)}")
    if not (isinstance(shape, list) and all(is_u64(n) for n in shape)):
        raise ModelFileError(file, f"{tensor}: shape must be a list of non-negative integers, got {shown(shape)}")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(is_u64(n) for n in offsets)):
        raise ModelFileError(file, f"{tensor}: data_offsets must be [begin, end] in bytes, got {shown(offsets)}")
    begin, end = offsets
    if begin > end:
        raise ModelFileError(file, f"{tensor}: data_offsets {shown(offsets)} end before they begin")
    elements = 1
    for n in shape:  # counted as safetensors counts: elements, then bits, each in 64 bits
        elements *= n
        if elements >= 2**64:
            break
    bits = elements * DTYPE_BITS[dtype]
    if bits >= 2**64:
        raise ModelFileError(file, f"{tensor}: shape {shown(shape)} of {dtype} is too large for safetensors")
    if bits % 8:
        raise ModelFileError(file, f"{tensor}: shape {shown(shape)} of {dtype} is not a whole number of bytes")
    if bits // 8 != end - begin:
        raise ModelFileError(
            file,
            f"{tensor}: shape {shown(shape)} of {dtype} takes {bits // 8:,} bytes, "
            f"but data_offsets {shown(offsets)} hold {end - begin:,}",
        )
    return HeaderEntry(name, dtype, tuple(shape), begin, end)


def check_layout(entries: list[HeaderEntry], data_size: int, file: Path) -> None:
    """The tensors tile the data after the header exactly, as safetensors requires: none runs past
    its end, no two share bytes (a word table aliasing another tensor is refused), no byte is left over."""
    ordered = sorted(entries, key=lambda e: (e.begin, e.end, e.name))
    for e in ordered:
        if e.end > data_size:
            raise ModelFileError(
                file,
                f"tensor {shown(e.name)}: data_offsets [{e.begin}, {e.end}] run past the end of the file "
                f"(its data holds {data_size:,} bytes; shape {shown(list(e.shape))} of {e.dtype})",
            )
    widest: HeaderEntry | None = None  # of the tensors before this one, the one that ends last
    for e in ordered:
        if widest is not None and e.begin < widest.end:
            raise ModelFileError(
                file,
                f"tensors {shown(widest.name)} and {shown(e.name)} share bytes (data_offsets "
                f"[{widest.begin}, {widest.end}] and [{e.begin}, {e.end}]); safetensors refuses such a file",
            )
        widest = e if widest is None or e.end > widest.end else widest
    position = 0
    for e in ordered:
        if e.begin > position:
            raise ModelFileError(file, f"bytes {position:,} to {e.begin:,} of its data belong to no tensor")
        position = e.end
    if position < data_size:
        raise ModelFileError(file, f"the last {data_size - position:,} bytes of its data belong to no tensor")


def is_u64(value: object) -> bool:
    """A JSON integer that fits safetensors' unsigned 64 bits."""
    return is_int(value) and 0 <= value < 2**64


def list_stored_tensors(folder: Path) -> dict[str, StoredTensor] | None:
    """Every tensor of the folder's safetensors checkpoint (single file or shards), each file's
    header checked; None without safetensors."""
    if (folder / SAFETENSORS).is_file():
        return read_safetensors_header(folder / SAFETENSORS)
    if not (folder / SAFETENSORS_INDEX).is_file():
        return None
    tensors: dict[str, StoredTensor] = {}
    for shard in read_shards(folder / SAFETENSORS_INDEX):
        tensors.update(read_safetensors_header(shard))
    return tensors


def read_shards(index: Path) -> list[Path]:
    """The shard files a `*.index.json` names in its weight_map, each a file inside its folder."""
    weight_map = read_json_object(index).get("weight_map")
    if not isinstance(weight_map, dict):
        raise ModelFileError(index, f"weight_map must map tensor names to shard files, got {kind(weight_map)}")
    names = set()
    for tensor, shard in weight_map.items():
        if not isinstance(shard, str) or not shard or "\0" in shard:
            raise ModelFileError(index, f"weight_map gives tensor {shown(tensor)} no shard file name: {shown(shard)}")
        names.add(shard)
    return [shard_file(index, name) for name in sorted(names)]


def shard_file(index: Path, name: str) -> Path:
    """A shard the index names: a file in the index's folder or below it. The name is checked, not
    where it leads: the hub's cache keeps every file as a link into a folder outside."""
    if Path(name).is_absolute() or ".." in Path(name).parts:
        raise ModelFileError(index, f"weight_map names {shown(name)}, outside the model folder")
    file = index.parent / name
    if not file.is_file():
        raise ModelFileError(index, f"weight_map names {shown(name)}, which is not a file in the model folder")
    return file


def weight_files(folder: Path) -> list[Path]:
    """The files that hold the folder's weights, in the order transformers prefers them."""
    for single, index in ((SAFETENSORS, SAFETENSORS_INDEX), (PYTORCH_BIN, PYTORCH_BIN_INDEX)):
        if (folder / single).is_file():
            return [folder / single]
        if (folder / index).is_file():
            return read_shards(folder / index)
    return []


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


def check_table_rows(tensors: dict[str, StoredTensor], config: dict, config_file: Path) -> None:
    """The word table's rows must be the config's `vocab_size`: transformers refuses the
    model otherwise, pointing at a report it printed nowhere. Checked where exactly one
    stored tensor can be that table."""
    vocab_size = config.get("vocab_size")
    widths = {config[key] for key in WIDTH_KEYS if is_int(config.get(key))}
    if not is_int(vocab_size) or not widths or find_word_embeddings(tensors, config) is not None:
        return
    candidates = [
        t
        for t in tensors.values()
        if len(t.shape) == 2
        and t.shape[1] in widths
        and t.name.endswith(".weight")
        and t.name.removesuffix(".weight").rsplit(".", 1)[-1] in EMBEDDING_MODULES
        and not any(word in t.name for word in NOT_WORD_EMBEDDINGS)
    ]
    if len(candidates) == 1:
        table = candidates[0]
        raise ModelFileError(
            config_file,
            f"vocab_size is {vocab_size:,}, but the word-embedding table {table.name} in {table.file.name} "
            f"has {table.shape[0]:,} rows; they must agree",
        )


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
    tokenizer, described = read_tokenizer_json(folder / TOKENIZER_JSON)
    ids = tokenizer.get_vocab(with_added_tokens=True)
    if not special <= ids.keys():  # transformers would append the missing ones as new tokens
        return None
    # Checked in read_tokenizer_json: a list of objects with an id and a string content.
    added_tokens = described.get("added_tokens") or []
    special_added, added = split_added_tokens(added_tokens)  # type: ignore[arg-type]
    return Vocabulary(ids=ids, special=special | special_added, scheme=detect_scheme(described), added=added)


def read_tokenizer_json(file: Path) -> tuple[Tokenizer, dict[str, object]]:
    """tokenizer.json through the tokenizers library (the reader transformers uses) and as JSON, its
    model section checked. A file the library refuses fails naming what is wrong: the JSON itself,
    the model section, or else the library's own words. Its nesting is not counted here: the
    library refuses more than 128 levels before our code walks the file."""
    from tokenizers import Tokenizer

    text = read_text(file)
    try:
        tokenizer = Tokenizer.from_str(text)
    except Exception as exc:  # tokenizers raises plain Exception (and TypeError) for a file it cannot read
        check_tokenizer_model(require_object(parse_json(text, file, depth=None), file), file)
        raise ModelFileError(file, f"the tokenizers library cannot read it ({one_line(exc)})") from None
    described = require_object(parse_json(text, file, depth=None), file)
    check_tokenizer_model(described, file)  # the library reads some wrong shapes, and fails only when it tokenizes
    return tokenizer, described


def check_tokenizer_files(folder: Path) -> None:
    """The tokenizer's files as transformers reads them, checked before it does: tokenizer_config.json,
    special_tokens_map.json, added_tokens.json and tokenizer.json, where the folder has them."""
    for name in (TOKENIZER_CONFIG, SPECIAL_TOKENS_MAP):
        if (folder / name).is_file():
            read_tokenizer_config(folder / name)
    if (folder / ADDED_TOKENS).is_file():
        file = folder / ADDED_TOKENS
        added = read_json_object(file)
        bad = next((t for t, i in added.items() if not is_int(i) or i < 0), None)
        if bad is not None:
            raise ModelFileError(file, f"must map tokens to ids, got {shown(bad)}: {shown(added[bad])}")
    if (folder / TOKENIZER_JSON).is_file():
        read_tokenizer_json(folder / TOKENIZER_JSON)


def check_tokenizer_model(described: dict[str, object], file: Path) -> None:
    """The model section of a tokenizer.json: a type the tokenizers library knows, and its vocabulary
    in that type's shape (token to id; Unigram: [piece, score] pairs); its added tokens."""
    model = described.get("model")
    if not isinstance(model, dict):
        raise ModelFileError(file, f"model must be a JSON object, got {shown(model)}")
    model_type = model.get("type")
    if model_type is not None and model_type not in TOKENIZER_MODELS:
        known = ", ".join(TOKENIZER_MODELS)
        raise ModelFileError(file, f"model type {shown(model_type)} is not one the tokenizers library reads ({known})")
    vocab = model.get("vocab")
    if model_type == "Unigram":
        pairs = isinstance(vocab, list) and all(
            isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) and isinstance(p[1], (int, float))
            for p in vocab
        )
        if not pairs:
            raise ModelFileError(file, f"a Unigram vocab must be a list of [piece, score] pairs, got {shown(vocab)}")
    elif model_type is not None:
        if not isinstance(vocab, dict):
            raise ModelFileError(file, f"a {model_type} vocab must map tokens to ids, got {shown(vocab)}")
        bad = next((t for t, i in vocab.items() if not is_int(i) or i < 0), None)
        if bad is not None:  # the one entry, not a vocabulary of 30,000
            raise ModelFileError(
                file, f"a {model_type} vocab must map tokens to ids of 0 or more, got {shown(bad)}: {shown(vocab[bad])}"
            )
    unknown = model.get("unk_token")
    if model_type == "WordPiece" and isinstance(vocab, dict) and not (isinstance(unknown, str) and unknown in vocab):
        # The library needs it for every word it cannot split, and fails only then, mid-tokenization.
        raise ModelFileError(file, f"the WordPiece unk_token {shown(unknown)} is not in its vocab")
    for part in PIPELINE_PARTS:  # the library reads a list as a Sequence; transformers reads them as objects
        if described.get(part) is not None and not isinstance(described[part], dict):
            raise ModelFileError(file, f"{part} must be a JSON object or null, got {shown(described[part])}")
    added = described.get("added_tokens")
    if added is not None and not (
        isinstance(added, list)
        and all(isinstance(t, dict) and is_int(t.get("id")) and isinstance(t.get("content"), str) for t in added)
    ):
        raise ModelFileError(
            file, f"added_tokens must be a list of tokens with an id and a content, got {shown(added)}"
        )


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
        config = read_tokenizer_config(path)
        for key in NAMED_SPECIAL:
            if config.get(key) is None:
                continue
            text = token_text(config[key], key, path, tagged=name == TOKENIZER_CONFIG)
            if named.setdefault(key, text) != text:
                return None
        for key in EXTRA_SPECIAL:
            extra.update(extra_tokens(config, key, path))
    if not named:
        return None
    return frozenset(named.values()) | frozenset(extra)


def read_tokenizer_config(file: Path) -> dict[str, object]:
    """tokenizer_config.json or special_tokens_map.json, with every token in it checked: named special
    tokens, extra special tokens (a list, or names to tokens), added_tokens_decoder (ids to tokens)."""
    config = read_json_object(file)
    tagged = file.name == TOKENIZER_CONFIG
    optional_string(config, "tokenizer_class", file)
    for key in NAMED_SPECIAL:
        if config.get(key) is not None:
            token_text(config[key], key, file, tagged)
    for key in EXTRA_SPECIAL:
        extra_tokens(config, key, file)
    for key, value in config.items():
        if not tagged and isinstance(value, dict) and key not in EXTRA_SPECIAL:
            token_text(value, field_name(key), file)  # transformers reads each object here as a token
        for inner in tagged_objects(value) if tagged else ():
            token_text(inner, f"an {ADDED_TOKEN} in {field_name(key)}", file, tagged)
    if ADDED_TOKENS_DECODER in config:  # transformers reads it as ids to tokens whenever it is there, null too
        decoder = config[ADDED_TOKENS_DECODER]
        if not isinstance(decoder, dict):
            raise ModelFileError(file, f"{ADDED_TOKENS_DECODER} must map token ids to tokens, got {shown(decoder)}")
        for token_id, token in decoder.items():
            if not token_id.isdecimal():  # as int() reads it
                raise ModelFileError(file, f"{ADDED_TOKENS_DECODER}: {shown(token_id)} is not a token id")
            if not isinstance(token, dict):  # transformers reads these as AddedToken(**token)
                raise ModelFileError(
                    file, f"{ADDED_TOKENS_DECODER}[{token_id}] must be a token object, got {shown(token)}"
                )
            token_text(token, f"{ADDED_TOKENS_DECODER}[{token_id}]", file)
    return config


def tagged_objects(value: object) -> list[dict[str, object]]:
    """Every object in `value` tagged "__type": "AddedToken", at any depth: transformers makes each an AddedToken."""
    found, stack = [], [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("__type") == ADDED_TOKEN:
                found.append(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def extra_tokens(config: dict[str, object], key: str, file: Path) -> list[str]:
    """The text of each token in `key`: a list of tokens, or names to tokens. transformers reads
    special_tokens_map.json's additional_special_tokens as a list only (a dict there is one token)."""
    values = config.get(key)
    tagged = file.name == TOKENIZER_CONFIG
    if values is None:
        return []
    if isinstance(values, dict) and (tagged or key != "additional_special_tokens"):
        if not tagged:  # transformers takes the names' tokens from special_tokens_map.json as they are
            bad = next((name for name, v in values.items() if not isinstance(v, str)), None)
            if bad is not None:
                raise ModelFileError(file, f"{key}[{shown(bad)}] must be a string, got {shown(values[bad])}")
        return [token_text(v, f"{key}[{shown(name)}]", file, tagged) for name, v in values.items()]
    if not isinstance(values, list):
        raise ModelFileError(file, f"{key} must be a list of tokens, got {shown(values)}")
    for i, v in enumerate(values):
        if not tagged and key == "extra_special_tokens" and isinstance(v, dict) and "special" in v:
            # transformers passes special=True beside the token's own fields, and fails on a second one
            raise ModelFileError(file, f'{key}[{i}] must not set "special" here (transformers sets it), got {shown(v)}')
    return [token_text(v, f"{key}[{i}]", file, tagged) for i, v in enumerate(values)]


def token_text(value: object, key: str, file: Path, tagged: bool = False) -> str:
    """A special token as the configs write it: a string, or a dict with its text in `content`.
    transformers reads such a dict in tokenizer_config.json only when `tagged` "__type": "AddedToken"."""
    if isinstance(value, str):
        return value
    if is_token_object(value) and (not tagged or value.get("__type") == ADDED_TOKEN):
        return str(value["content"])
    tag = f'"__type": "{ADDED_TOKEN}", ' if tagged else ""
    expected = f'a string, or an object with {tag}a string "content" and true/false {", ".join(ADDED_TOKEN_FLAGS)}'
    raise ModelFileError(file, f"{key} must be a token: {expected}; got {shown(value)}")


def is_token_object(value: object) -> TypeGuard[dict[str, object]]:
    """An AddedToken as JSON: a string content and true/false flags (tokenizers ignores other fields)."""
    return (
        isinstance(value, dict)
        and isinstance(value.get("content"), str)
        and all(isinstance(value.get(flag, False), bool) for flag in ADDED_TOKEN_FLAGS)
    )


def read_config(folder: Path) -> dict[str, object]:
    """config.json, checked: a JSON object whose vocabulary size and widths, where given, are positive integers."""
    file = folder / MODEL_CONFIG
    config = read_json_object(file)
    for key in ("vocab_size", *WIDTH_KEYS):
        optional_positive_int(config, key, file)
    optional_string(config, "model_type", file)
    auto_map = config.get("auto_map", {})
    if not (isinstance(auto_map, dict) and all(isinstance(v, (str, list)) for v in auto_map.values())):
        # transformers looks its classes up in it; the code it names is never run (trust_remote_code=False)
        raise ModelFileError(file, f"auto_map must map auto classes to code references, got {shown(auto_map)}")
    return config


def check_declared_size(config: dict[str, object], files: list[Path], config_file: Path) -> None:
    """The input embeddings the config declares must fit in the weight files. transformers builds
    the model from the config before it reads a weight: a config of 10^9 rows over a few kilobytes
    of weights would have it allocate them all."""
    vocab = optional_positive_int(config, "vocab_size", config_file)
    widths = [(w, k) for k in WIDTH_KEYS if (w := optional_positive_int(config, k, config_file)) is not None]
    if vocab is None or not widths or not files:
        return
    width, key = min(widths)
    bits = min(DTYPE_BITS.values())
    needed = vocab * width * bits // 8
    held = sum(f.stat().st_size for f in files)
    if needed > held:
        raise ModelFileError(
            config_file,
            f"vocab_size {vocab:,} x {key} {width:,} needs at least {needed:,} bytes of weights "
            f"({bits} bits a value, the narrowest dtype), but the weight files hold {held:,}",
        )
