"""Each token occurrence's path through the layers, as one tensor the projector draws with polylines.

The projector links point i to point j when i's `__seq_next__` metadata cell holds j
(tensorboard `tensorboard/plugins/projector/vz_projector/data.ts`, read at commit b25eea2:
`getSequenceNextPointIndex`, lines 89-103, takes the first of `__next__`/`__seq_next__`
that is present and not '' and returns it as a number, null otherwise; `DataSet.computeSequences`,
lines 148-190, follows those links from each unseen point into one polyline each). Its
metadata parser (`parseMetadata` in `data-provider.ts`) turns an empty cell into null, so
an empty cell ends a path. The same code is in the `projector_binary.js` of tensorboard 2.21.

Points are ordered layer-major: all occurrences at the first selected layer, then all at the
next, and so on. The matrix is then the per-layer matrices stacked as they are, row i of each
block is row i of that layer's own tensor, and each link is a fixed step of n rows. Every path
starts in the first block, before its other points, which is the order `computeSequences` needs
to find each path whole from its first point.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from projector_bundle import ExportError
from projector_bundle.context.contextual import (
    LAYER_COLUMN,
    POSITION_COLUMN,
    SENTENCE_NUMBER_COLUMN,
    TOKEN_COLUMN,
    WORD_COLUMN,
)
from projector_bundle.projector.formats import SEQ_NEXT

if TYPE_CHECKING:
    from projector_bundle.context.contextual import Occurrence

PATHS_SUFFIX = "contextual_paths"
PATHS_HEADER = (TOKEN_COLUMN, SENTENCE_NUMBER_COLUMN, POSITION_COLUMN, LAYER_COLUMN, SEQ_NEXT)
# With --words, the word as matched comes first, as in the layer tensors.
WORD_PATHS_HEADER = (WORD_COLUMN, *PATHS_HEADER)


def path_links(occurrences: int, layers: int) -> list[int | None]:
    """Per point, layer-major, the index of the same occurrence's point at the next layer (None at the last)."""
    points = occurrences * layers
    return [index + occurrences if index + occurrences < points else None for index in range(points)]


class PathsTensor(NamedTuple):
    """The combined tensor, field for field a `tensors.TensorData`: `TensorData(*paths)` makes one."""

    name: str
    matrix: np.ndarray
    header: tuple[str, ...]
    rows: list[list[str]]


def build_paths(
    prefix: str, layers: Mapping[int, np.ndarray], occurrences: Sequence[Occurrence], *, words: bool = False
) -> PathsTensor:
    """One point per occurrence per layer (in the order of `layers`), linked layer to layer;
    with `words`, a first column with each occurrence's --words word."""
    if not layers:
        raise ExportError("--trajectories needs at least one layer")
    n = len(occurrences)
    for layer, matrix in layers.items():
        if matrix.shape[0] != n:
            raise ExportError(f"layer {layer} has {matrix.shape[0]:,} rows but there are {n:,} token occurrences")
    matrix = np.concatenate([np.asarray(m, dtype=np.float32) for m in layers.values()])
    links = path_links(n, len(layers))
    rows = [
        [
            *([o.word or ""] if words else []),
            o.token,
            str(o.sentence),
            str(o.position),
            str(layer),
            "" if (link := links[block * n + i]) is None else str(link),
        ]
        for block, layer in enumerate(layers)
        for i, o in enumerate(occurrences)
    ]
    return PathsTensor(f"{prefix}/{PATHS_SUFFIX}", matrix, WORD_PATHS_HEADER if words else PATHS_HEADER, rows)
