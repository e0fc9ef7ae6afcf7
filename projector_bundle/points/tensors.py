"""A bundle's tensors: the vectors of one table or layer, their labels, names and files.

Pure: the pipeline reads matrices and vocabularies (through `model` and `contextual`)
and hands them here to become labelled tensors, then bundle tensors with file names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from projector_bundle import ExportError
from projector_bundle.context.contextual import (
    LAYER_COLUMN,
    POSITION_COLUMN,
    SENTENCE_COLUMN,
    SENTENCE_NUMBER_COLUMN,
    ContextualEmbeddings,
    context_rows,
    shorten,
)
from projector_bundle.inputs.tables import Metadata
from projector_bundle.inputs.texts import FULL_SUFFIX
from projector_bundle.models.tables import POSITION_TABLE, TYPE_TABLE, WORD_TABLE
from projector_bundle.models.vocabulary import Token
from projector_bundle.points.blocks import release_all, row_blocks, take_rows
from projector_bundle.points.clusters import AUTO, CLUSTER_HEADER, FINE_HEADER, NONE, Clustering, cluster_points
from projector_bundle.points.labels import LABEL_COLUMNS, LabelColumn, label_rows
from projector_bundle.points.neighbors import NEIGHBORS_HEADER, nearest_neighbors, neighbor_cells
from projector_bundle.points.projections import reduce_dimensions
from projector_bundle.progress import ProgressBar, no_bar
from projector_bundle.projector.colouring import is_colourable
from projector_bundle.projector.formats import DEFAULT_FILES, SEQ_NEXT, TensorFiles, tensor_files
from projector_bundle.projector.schema import EmbeddingInfo, SpriteInfo
from projector_bundle.text import unclashed

# `--tensors` keys, in the order their tensors appear.
WORD, POSITION, TYPE = "word", "position", "type"
TENSOR_KINDS = (WORD, POSITION, TYPE)
TENSOR_SUFFIXES = {WORD: WORD_TABLE, POSITION: POSITION_TABLE, TYPE: TYPE_TABLE}
CONTEXTUAL_SUFFIX = "contextual_layer{layer}"

# Both columns numeric: the projector labels points by the first non-numeric column,
# else by the first; the block number (position // 64) is there to colour by.
POSITION_BLOCK = 64
POSITION_HEADER = (POSITION_COLUMN, f"Block of {POSITION_BLOCK}")
NO_BLOCK = "none"  # the block of a row that holds no position
TYPE_HEADER = ("Token type",)

# What a bookmark colours by, when the tensor has that column.
COLOUR_BY = (CLUSTER_HEADER, LABEL_COLUMNS["subword"].header, SENTENCE_NUMBER_COLUMN, POSITION_HEADER[1])
# A tensor of paths through the layers (`trajectories`) is coloured by layer, so each path shows its direction.
PATHS_COLOUR_BY = LAYER_COLUMN


@dataclass(frozen=True)
class TensorData:
    """A tensor before it has files: name, vectors, metadata."""

    name: str
    matrix: np.ndarray
    header: tuple[str, ...]
    rows: Sequence[Sequence[str]]

    def __post_init__(self) -> None:
        if len(self.rows) != self.matrix.shape[0]:
            raise ExportError(
                f"tensor {self.name}: metadata has {len(self.rows)} rows but the tensor has {self.matrix.shape[0]}"
            )

    @property
    def colour_by(self) -> str | None:
        if is_paths(self):
            return PATHS_COLOUR_BY
        return next((h for h in COLOUR_BY if h in self.header), None)

    @property
    def label_by(self) -> str | None:
        """The column a bookmark labels points by: the first, where there is a header."""
        return self.header[0] if len(self.header) > 1 else None


@dataclass(frozen=True)
class SpriteImage:
    """Thumbnails of the points in one image, row by row in point order (`label_img`, or a TensorBoard log's)."""

    data: bytes
    suffix: str  # the image file's suffix, `.png` as torch writes it
    single_image_dim: tuple[int, int]  # one thumbnail's [width, height]


@dataclass(frozen=True)
class Tensor(TensorData):
    """A tensor of the bundle: its data, its files, its bookmarks (the projector's saved `State`s)
    and its sprite image, if it has one."""

    files: TensorFiles = DEFAULT_FILES
    bookmarks: Sequence[Mapping[str, object]] = ()
    sprite: SpriteImage | None = None

    def embedding_info(self) -> EmbeddingInfo:
        rows, dim = self.matrix.shape
        sprite = self.sprite
        return EmbeddingInfo(
            tensor_name=self.name,
            tensor_shape=(rows, dim),
            tensor_path=self.files.bytes,
            metadata_path=self.files.metadata,
            bookmarks_path=self.files.bookmarks if self.bookmarks else None,
            sprite=None if sprite is None else SpriteInfo(self.files.sprite(sprite.suffix), sprite.single_image_dim),
        )


@dataclass(frozen=True)
class OwnTensorData(TensorData):
    """A tensor of the user's own data: its bookmarks label and colour by the columns named here
    (chosen from the user's columns), not by the fixed names of the model's tables."""

    label_column: str | None = None
    colour_column: str | None = None

    @property
    def colour_by(self) -> str | None:
        return self.colour_column

    @property
    def label_by(self) -> str | None:
        return self.label_column


# The column of a tensor of vectors that came without metadata: the row number, from 1.
ROW_HEADER = "Row"


def own_tensor(name: str, matrix: np.ndarray, metadata: Metadata | None, label: str | None = None) -> OwnTensorData:
    """The user's vectors with their metadata columns, in file order. Points are labelled by
    `label`, else by the first text column; coloured by the first other column the projector
    can colour by: at most 50 categories, else numbers."""
    if metadata is None or not metadata.header:
        rows = [[str(i)] for i in range(1, matrix.shape[0] + 1)]
        return OwnTensorData(name, matrix, (ROW_HEADER,), rows)
    texts = [h for h, numeric in zip(metadata.header, metadata.numeric, strict=True) if not numeric]
    label = label or (texts[0] if texts else metadata.header[0])
    # Categories before numbers: a topic says more at a glance than an id's gradient.
    candidates = sorted(zip(metadata.header, metadata.columns, metadata.numeric, strict=True), key=lambda c: c[2])
    colour = next((h for h, cells, numeric in candidates if h != label and colours(cells, numeric)), None)
    rows = metadata.row_cells()
    return OwnTensorData(name, matrix, metadata.header, rows, label if len(metadata.header) > 1 else None, colour)


def colours(cells: Sequence[str], numeric: bool) -> bool:
    """Whether colouring by a column shows something: the projector can, and (for categories)
    some rows share a value; a column of names, each its own colour, shows nothing."""
    return is_colourable(cells) and (numeric or len(set(cells)) < len(cells))


def model_prefixes(names: Sequence[str]) -> list[str]:
    """Tensor-name prefixes: each model's last path part, numbered when two would clash."""
    prefixes: list[str] = []
    for name in names:
        prefixes.append(unclashed(name.rstrip("/").rsplit("/", 1)[-1] or name, prefixes, "{}-{}"))
    return prefixes


def word_tensor(prefix: str, matrix: np.ndarray, tokens: Sequence[Token], columns: Sequence[LabelColumn]) -> TensorData:
    """The input-embedding table, one labelled row per vocabulary token."""
    return TensorData(
        name=f"{prefix}/{TENSOR_SUFFIXES[WORD]}",
        matrix=matrix,
        header=tuple(c.header for c in columns),
        rows=label_rows(tokens, list(columns)),
    )


def table_tensor(prefix: str, kind: str, matrix: np.ndarray, first_position: int = 0) -> TensorData:
    """Position or token-type embeddings, labelled by their index; a position table's rows from
    `first_position` on hold positions 0, 1, ..., the rows before it none (RoBERTa's padding rows)."""
    name = f"{prefix}/{TENSOR_SUFFIXES[kind]}"
    if kind == POSITION:
        rows = [[f"[row {i}: no position]", NO_BLOCK] for i in range(min(first_position, matrix.shape[0]))]
        rows += [[str(p), str(p // POSITION_BLOCK)] for p in range(matrix.shape[0] - len(rows))]
        return TensorData(name, matrix, POSITION_HEADER, rows)
    return TensorData(name, matrix, TYPE_HEADER, [[str(i)] for i in range(matrix.shape[0])])


def contextual_tensors(prefix: str, context: ContextualEmbeddings) -> list[TensorData]:
    """One tensor per layer of `context`, a point per kept token occurrence (or --words word)."""
    return [
        TensorData(
            name=f"{prefix}/{CONTEXTUAL_SUFFIX.format(layer=layer)}",
            matrix=matrix,
            header=context.header,
            rows=context_rows(context.occurrences, context.sentences, layer, words=bool(context.words)),
        )
        for layer, matrix in context.layers.items()
    ]


# Rows checked at once: a memory-mapped table is read a few megabytes at a time.
CHECK_BLOCK_ROWS = 4096


def check_finite(tensor: TensorData) -> TensorData:
    """Refuse NaN and infinity early: the projector cannot place such a point, and PCA and
    neighbours would fail on it."""
    count, first = 0, None
    for start, block in row_blocks(tensor.matrix, CHECK_BLOCK_ROWS):
        bad = ~np.isfinite(block)
        if first is None and bad.any():
            first = start + int(np.flatnonzero(bad.any(axis=1))[0]) + 1
        count += int(bad.sum())
    if count:
        values = "value" if count == 1 else "values"
        raise ExportError(f"tensor {tensor.name}: {count:,} NaN or infinite {values} (the first in row {first})")
    return tensor


# A neighbour that is a text is shown by its start, and the neighbours set apart.
NEIGHBOR_LABEL_CHARS = 40
TEXT_NEIGHBOR_SEPARATOR = " | "


def add_neighbors(tensor: TensorData, k: int, progress: ProgressBar = no_bar) -> TensorData:
    """A metadata column with each point's `k` nearest points (by their first column)."""
    labels = [row[0] for row in tensor.rows]
    with progress(f"neighbours of {tensor.name}", tensor.matrix.shape[0]) as advance:
        indices = nearest_neighbors(tensor.matrix, k, progress=advance)
    if isinstance(tensor, OwnTensorData) and any(" " in label for label in labels):
        # Labels that are texts: shortened further, and set apart by a mark a text rarely holds.
        short = [shorten(label, NEIGHBOR_LABEL_CHARS) for label in labels]
        cells = neighbor_cells(indices, short, TEXT_NEIGHBOR_SEPARATOR)
    else:
        cells = neighbor_cells(indices, labels)
    rows = [[*row, cell] for row, cell in zip(tensor.rows, cells, strict=True)]
    return replace(tensor, header=(*tensor.header, NEIGHBORS_HEADER), rows=rows)


def default_clusters(tensor: TensorData) -> str:
    """What `--clusters` is for `tensor` when not given: auto for the user's texts and vectors,
    none for the model's own tables and layers."""
    return AUTO if isinstance(tensor, OwnTensorData) else NONE


def cluster_texts(tensor: TensorData) -> list[str] | None:
    """The texts that name a tensor's clusters (c-TF-IDF), or None to name them by central labels:
    the full texts of --texts (else the label column) for the user's data; each token with its
    sentence for contextual tokens."""
    rows = tensor.rows
    if isinstance(tensor, OwnTensorData) and tensor.label_column is not None:
        full = tensor.label_column + FULL_SUFFIX
        own = tensor.header.index(full if full in tensor.header else tensor.label_column)
        return [row[own] for row in rows]
    # Contextual tokens' clusters are named from each token with its sentence.
    if SENTENCE_COLUMN not in tensor.header:
        return None
    sentence = tensor.header.index(SENTENCE_COLUMN)
    return [f"{row[0]} {row[sentence]}" for row in rows]


def add_clusters(tensor: TensorData, count: str | int, seed: int) -> tuple[TensorData, Clustering | None]:
    """`tensor` with a `Cluster` column (and a `Subcluster` one where it splits them further),
    and the clustering; the tensor unchanged where it is too small or is a tensor of paths."""
    if is_paths(tensor) or count == NONE:
        return tensor, None
    label = tensor.header.index(tensor.label_by) if tensor.label_by in tensor.header else 0
    labels = [row[label] if row else "" for row in tensor.rows]
    clustering = cluster_points(tensor.matrix, labels, cluster_texts(tensor), count=count, seed=seed)
    if clustering is None:
        return tensor, None
    header = (*tensor.header, CLUSTER_HEADER)
    columns = [clustering.cells()]
    if clustering.has_fine:
        header += (FINE_HEADER,)
        columns.append(clustering.fine_cells())
    rows = [[*row, *cells] for row, *cells in zip(tensor.rows, *columns, strict=True)]
    if isinstance(tensor, OwnTensorData) and tensor.colour_column is None:
        return replace(tensor, header=header, rows=rows, colour_column=CLUSTER_HEADER), clustering
    return replace(tensor, header=header, rows=rows), clustering


def is_paths(tensor: TensorData) -> bool:
    """A tensor of paths through the layers: its rows point at other rows, so none can be dropped."""
    return SEQ_NEXT in tensor.header


def sample_tensor(tensor: TensorData, rows: np.ndarray) -> TensorData:
    """The tensor cut to `rows` (indices in ascending order), each label row following its vector."""
    matrix = take_rows(tensor.matrix, rows)
    return replace(tensor, matrix=matrix, rows=[tensor.rows[i] for i in rows.tolist()])


def reduce_tensor(tensor: TensorData, dims: int) -> tuple[TensorData, float]:
    """The tensor on its top `dims` principal axes (`--dims`), and the share of variance they keep."""
    reduction = reduce_dimensions(tensor.matrix, dims)
    release_all(tensor.matrix)
    return replace(tensor, matrix=reduction.matrix), reduction.variance_kept


def file_stem(name: str) -> str:
    """A tensor name as a file stem: `model/word_embeddings` -> `model.word_embeddings`."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name.replace("/", "."))


def assign_files(data: Sequence[TensorData], bookmarks: Sequence[Sequence[Mapping[str, object]]]) -> list[Tensor]:
    """Give each tensor its files (the first keeps the plain names) and its bookmarks."""
    tensors = []
    stems = {DEFAULT_FILES.stem}
    for index, (t, marks) in enumerate(zip(data, bookmarks, strict=True)):
        if index == 0:
            files = DEFAULT_FILES
        else:
            stem = file_stem(t.name)
            while stem in stems:
                stem += "_"
            stems.add(stem)
            files = tensor_files(stem)
        tensors.append(Tensor(t.name, t.matrix, t.header, t.rows, files, tuple(marks)))
    return tensors
