"""A light first view for published pages: the exported 3-D PCA coordinates as a tensor.

A visitor of the full bundle fetches every vector (47 MB for 30,522 x 384) before the
first point is drawn. The first-view tensor holds only the three exact PCA coordinates
of each point (12 bytes a point) and, of the metadata, only the columns its first view
shows: the label and the colour (0.5 MB instead of 2.9 MB with `--neighbors 5`). The page
script (templates/view.js) brings the other columns from the full tensor's metadata file
once the view is on screen, so the neighbours column of `--neighbors` still names the
nearest points in the original space; the full vectors stay one choice away in the
projector's tensor menu, for 3-D re-projection, t-SNE, UMAP and the projector's own
neighbour search. Pure: numpy and dicts out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from projector_bundle.points.projections import COMPONENTS, EXACT_VIEW, PCA, Projection, bookmark_state, exact_view
from projector_bundle.points.tensors import Tensor, TensorData
from projector_bundle.projector.formats import SEQ_NEXT, tensor_files

# Appended to the full tensor's name: "all-MiniLM-L6-v2/word_embeddings (exact 3-D PCA)".
FIRST_VIEW_SUFFIX = " (exact 3-D PCA)"
# Its files: first_view.bytes, first_view.tsv, first_view.bookmarks.json, first_view.metadata.tsv.
FIRST_VIEW_STEM = "first_view"
FIRST_VIEW_FILES = tensor_files(FIRST_VIEW_STEM)


def add_first_view(tensors: Sequence[Tensor], projections: Sequence[Projection]) -> list[Tensor]:
    """`tensors` with the first one's light view put before it, where it lightens anything.

    The light tensor's metadata keeps the columns its first view shows (`first_view_columns`);
    where that is all of them, it shares the full tensor's metadata file instead.
    Nothing changes when the first tensor has no PCA or already has three dimensions.
    """
    first = tensors[0]
    pca = next((p for p in projections if p.kind == PCA), None)
    if pca is None or first.matrix.shape[1] <= COMPONENTS:
        return list(tensors)
    light = first_view_tensor(first, pca)
    bookmark = first_view_bookmark(pca, label_option=first.label_by, color_option=first.colour_by)
    if len(light.header) == len(first.header):
        files = replace(FIRST_VIEW_FILES, metadata=first.files.metadata)
    else:
        files = FIRST_VIEW_FILES
    light_tensor = Tensor(light.name, light.matrix, light.header, light.rows, files, (bookmark,))
    return [light_tensor, *tensors]


def first_view_columns(tensor: TensorData) -> list[int]:
    """The metadata columns (indexes) the first view shows: the label and the colour.

    The projector reads a file of one column as labels without a header, so where those
    are one column, the next one comes too. Three of nine columns for a word tensor with
    `--neighbors`: the neighbours column alone is half of its metadata."""
    header = tensor.header
    # A tensor of paths keeps the column that draws them.
    shown = (tensor.label_by, tensor.colour_by, SEQ_NEXT)
    wanted = {0, *(header.index(name) for name in shown if name in header)}
    if len(wanted) < 2 and len(header) > 1:
        wanted.add(1)
    return sorted(wanted)


def first_view_tensor(tensor: TensorData, projection: Projection) -> TensorData:
    """`tensor`'s exact PCA coordinates as a tensor of three float32 columns, same rows,
    with the metadata columns of its first view."""
    if projection.kind != PCA or projection.coords.shape[0] != tensor.matrix.shape[0]:
        raise ValueError(f"first view of {tensor.name}: needs its PCA, got {projection.kind} {projection.coords.shape}")
    matrix = np.ascontiguousarray(projection.coords, dtype=np.float32)
    columns = first_view_columns(tensor)
    header = tuple(tensor.header[i] for i in columns)
    rows = tensor.rows if len(columns) == len(tensor.header) else [[row[i] for i in columns] for row in tensor.rows]
    return replace(tensor, name=tensor.name + FIRST_VIEW_SUFFIX, matrix=matrix, header=header, rows=rows)


def first_view_bookmark(
    projection: Projection, *, label_option: str | None = None, color_option: str | None = None
) -> dict[str, object]:
    """The first-view tensor's bookmark: no coordinates (its vectors are the coordinates),
    the exact variance of the full data, and the projector's default of no spherizing
    for three dimensions. Kilobytes instead of the 1.6 MB of the full tensor's bookmark."""
    points = projection.coords.shape[0]
    state = bookmark_state(
        replace(projection, coords=np.zeros((0, projection.coords.shape[1]))),
        projection.coords.shape[1],
        label_option=label_option,
        color_option=color_option,
    )
    state["label"] = f"{projection.label}, as this tensor's own coordinates"
    state["dataSetDimensions"] = [points, projection.coords.shape[1]]
    state[EXACT_VIEW] = exact_view(replace(projection, spherized=False), "vectors")
    return state
