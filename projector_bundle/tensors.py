"""Plan a bundle's tensors: which matrices each model contributes, their labels, names and files.

`read_model_tensors` is the step that reads (through `model`); everything after it
(neighbour columns, projections, file names) is pure.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from . import ExportError
from .bundle import ProgressBar, Tensor, no_progress
from .colouring import ensure_colourable
from .contextual import CONTEXT_HEADER, check_layers, context_rows, embed_sentences, layer_count
from .formats import DEFAULT_FILES, tensor_files
from .labels import LabelColumn, label_rows, needed_columns
from .neighbors import NEIGHBORS_HEADER, nearest_neighbors, neighbor_cells
from .projections import bookmark_state, compute_projections
from .sentences import Sentence, truncation_warning

if TYPE_CHECKING:
    from .model import ModelRef

# `--tensors` keys, in the order their tensors appear, and the model attribute of each table.
WORD, POSITION, TYPE = "word", "position", "type"
TENSOR_KINDS = (WORD, POSITION, TYPE)
TABLE_ATTRS = {POSITION: "position_embeddings", TYPE: "token_type_embeddings"}
TENSOR_SUFFIXES = {WORD: "word_embeddings", POSITION: "position_embeddings", TYPE: "token_type_embeddings"}
CONTEXTUAL_SUFFIX = "contextual_layer{layer}"

# Both columns numeric: the projector labels points by the first non-numeric column,
# else by the first; the block number (position // 64) is there to colour by.
POSITION_BLOCK = 64
POSITION_HEADER = ("Position", f"Block of {POSITION_BLOCK}")
TYPE_HEADER = ("Token type",)

# What a bookmark colours by, when the tensor has that column.
COLOUR_BY = ("is subword", "Sentence #", POSITION_HEADER[1])


@dataclass(frozen=True)
class TensorRequest:
    """What the command line asks each model for."""

    kinds: tuple[str, ...] = (WORD,)
    limit: int | None = None
    labels: tuple[LabelColumn, ...] = ()
    sentences: tuple[Sentence, ...] = ()
    sentences_source: str = ""
    layers: tuple[int, ...] = ()
    keep_special: bool = False


@dataclass(frozen=True)
class TensorData:
    """A tensor before it has files: name, vectors, metadata."""

    name: str
    matrix: np.ndarray
    header: tuple[str, ...]
    rows: list[list[str]]


def model_prefixes(names: Sequence[str]) -> list[str]:
    """Tensor-name prefixes: each model's last path part, numbered when two would clash."""
    prefixes: list[str] = []
    for name in names:
        short = name.rstrip("/").rsplit("/", 1)[-1] or name
        prefix, number = short, 1
        while prefix in prefixes:
            number += 1
            prefix = f"{short}-{number}"
        prefixes.append(prefix)
    return prefixes


def read_model_tensors(
    ref: ModelRef, prefix: str, request: TensorRequest, log: Callable[[str], None], warn: Callable[[str], None]
) -> list[TensorData]:
    """Read every tensor `request` asks of one model: word table, other tables, contextual layers.

    `log` reports progress; `warn` what the user should know even with --quiet.
    """
    from .model import load_model, load_tokenizer, read_embedding_table, read_word_embeddings

    tensors: list[TensorData] = []
    if WORD in request.kinds:
        log(f"reading the embedding matrix and vocabulary of {ref.name}")
        words = read_word_embeddings(ref, request.limit)
        if request.limit is not None and request.limit > words.vocab_rows:
            rows = f"{words.vocab_rows:,} vocabulary rows"
            warn(f"--limit {request.limit:,} is more than the {rows}; exporting all of them")
        for warning in words.warnings:
            warn(warning)
        log(f"labelling {len(words.tokens):,} tokens")
        chosen = needed_columns(request.labels, words.tokens)
        columns = ensure_colourable(chosen, words.tokens)
        if len(columns) > len(chosen):
            keys = ",".join(c.key for c in chosen)
            log(f"no column of --labels {keys} can colour points; adding {columns[-1].key}")
        tensors.append(
            TensorData(
                name=f"{prefix}/{TENSOR_SUFFIXES[WORD]}",
                matrix=words.matrix,
                header=tuple(c.header for c in columns),
                rows=label_rows(words.tokens, columns),
            )
        )
    tables = [kind for kind in (POSITION, TYPE) if kind in request.kinds]
    if not tables and not request.sentences:
        return [check_finite(t) for t in tensors]
    model = load_model(ref)
    for kind in tables:
        matrix = read_embedding_table(model, TABLE_ATTRS[kind])
        if matrix is None:
            raise ExportError(f"--tensors {kind}: {ref.name} has no {TABLE_ATTRS[kind]} ({type(model).__name__})")
        tensors.append(table_tensor(f"{prefix}/{TENSOR_SUFFIXES[kind]}", kind, matrix))
    if request.sentences:
        layers = check_layers(request.layers, layer_count(model), ref.name)
        log(f"running {ref.name} over {len(request.sentences):,} sentences (layers {', '.join(map(str, layers))})")
        texts = [s.text for s in request.sentences]
        context = embed_sentences(model, load_tokenizer(ref), texts, layers, keep_special=request.keep_special)
        cut = truncation_warning(request.sentences_source, request.sentences, context.token_counts, context.max_tokens)
        if cut:
            warn(cut)
        if not context.occurrences:
            raise ExportError(f"--sentences: {ref.name} found no tokens in the sentences")
        for layer in layers:
            tensors.append(
                TensorData(
                    name=f"{prefix}/{CONTEXTUAL_SUFFIX.format(layer=layer)}",
                    matrix=context.layers[layer],
                    header=CONTEXT_HEADER,
                    rows=context_rows(context.occurrences, texts, layer),
                )
            )
    return [check_finite(t) for t in tensors]


def check_finite(tensor: TensorData) -> TensorData:
    """Refuse NaN and infinity early: the projector cannot place such a point, and PCA and
    neighbours would fail on it."""
    bad = ~np.isfinite(tensor.matrix)
    if bad.any():
        count = int(bad.sum())
        first = int(np.flatnonzero(bad.any(axis=1))[0]) + 1
        values = "value" if count == 1 else "values"
        raise ExportError(f"tensor {tensor.name}: {count:,} NaN or infinite {values} (the first in row {first})")
    return tensor


def table_tensor(name: str, kind: str, matrix: np.ndarray) -> TensorData:
    """Position or token-type embeddings, labelled by their index."""
    if kind == POSITION:
        rows = [[str(i), str(i // POSITION_BLOCK)] for i in range(matrix.shape[0])]
        return TensorData(name, matrix, POSITION_HEADER, rows)
    return TensorData(name, matrix, TYPE_HEADER, [[str(i)] for i in range(matrix.shape[0])])


def add_neighbors(tensor: TensorData, k: int, progress: ProgressBar = no_progress) -> TensorData:
    """A metadata column with each point's `k` nearest points (by their first column)."""
    labels = [row[0] for row in tensor.rows]
    with progress(f"neighbours of {tensor.name}", tensor.matrix.shape[0]) as advance:
        indices = nearest_neighbors(tensor.matrix, k, progress=advance)
    cells = neighbor_cells(indices, labels)
    rows = [[*row, cell] for row, cell in zip(tensor.rows, cells, strict=True)]
    return replace(tensor, header=(*tensor.header, NEIGHBORS_HEADER), rows=rows)


def file_stem(name: str) -> str:
    """A tensor name as a file stem: `model/word_embeddings` -> `model.word_embeddings`."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name.replace("/", "."))


def plan_tensors(data: Sequence[TensorData], projections: Sequence[str]) -> list[Tensor]:
    """Give each tensor its files (the first keeps the plain names) and its bookmarks."""
    tensors = []
    stems = {DEFAULT_FILES.stem}
    for index, t in enumerate(data):
        if index == 0:
            files = DEFAULT_FILES
        else:
            stem = file_stem(t.name)
            while stem in stems:
                stem += "_"
            stems.add(stem)
            files = tensor_files(stem)
        tensors.append(Tensor(t.name, t.matrix, t.header, t.rows, files, bookmarks(t, projections)))
    return tensors


def bookmarks(tensor: TensorData, projections: Sequence[str]) -> list[dict[str, object]]:
    """One bookmark per requested projection of the full tensor."""
    label = tensor.header[0] if len(tensor.header) > 1 else None
    colour = next((h for h in COLOUR_BY if h in tensor.header), None)
    dim = tensor.matrix.shape[1]
    return [
        bookmark_state(p, dim, label_option=label, color_option=colour)
        for p in compute_projections(tensor.matrix, projections)
    ]
