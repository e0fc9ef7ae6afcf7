"""Projections computed at export time, shipped as projector bookmarks.

The projector computes PCA in the browser on every load, from a sample, and runs
t-SNE and UMAP on samples only. A bookmark (a saved `State`, tensorboard's
`vz_projector/data.ts`) carries per-point coordinates instead: applying it shows
the full-data view at once. Pure: numpy in, numpy and dicts out.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

# The projector names a point's coordinates `<kind>-<component>` (`pca-0`, `umap-2`, ...).
PCA = "pca"
UMAP = "umap"
PROJECTION_KINDS = (PCA, UMAP)
COMPONENTS = 3

# The projector "spherizes" data of this many dimensions or more by default (shift
# by the centroid, scale each point to unit length) before projecting; the
# bookmarks do the same, so they show the exact version of the default view.
SPHERIZE_MIN_DIM = 50

# Coordinates are rounded to this fraction of their largest magnitude: far below a
# pixel, and it keeps 30k points x 3 coordinates near 1-2 MB of JSON.
RELATIVE_PRECISION = 1e-4


@dataclass(frozen=True)
class Projection:
    """Three coordinates per point, and the words the bookmark shows for them."""

    kind: str  # PCA or UMAP
    coords: np.ndarray  # (points, 3), float64
    label: str


def spherize(matrix: np.ndarray) -> np.ndarray:
    """What the projector's "Spherize data" does: centre, then unit length (zero rows stay zero)."""
    x = np.asarray(matrix, dtype=np.float64)
    centred = x - x.mean(axis=0)
    norms = np.linalg.norm(centred, axis=1, keepdims=True)
    return centred / np.where(norms == 0, 1.0, norms)


def should_spherize(matrix: np.ndarray) -> bool:
    return matrix.shape[1] >= SPHERIZE_MIN_DIM


def compute_pca(matrix: np.ndarray, components: int = COMPONENTS) -> Projection:
    """Exact PCA of all rows, from the covariance matrix (dimension x dimension, so cheap),
    spherized first where the projector would spherize.

    Missing components (fewer points or dimensions than `components`) are zeros, and
    each axis's sign is fixed (largest loading positive) so rebuilds are identical.
    """
    spherized = should_spherize(matrix)
    x = spherize(matrix) if spherized else np.asarray(matrix, dtype=np.float64)
    centred = x - x.mean(axis=0)
    coords = np.zeros((x.shape[0], components))
    variance = np.zeros(components)
    if x.shape[0] > 1:
        covariance = centred.T @ centred / (x.shape[0] - 1)
        values, vectors = np.linalg.eigh(covariance)  # ascending
        keep = min(components, x.shape[0] - 1, x.shape[1])
        order = np.argsort(values)[::-1][:keep]
        axes = vectors[:, order]
        signs = np.sign(axes[np.abs(axes).argmax(axis=0), np.arange(keep)])
        axes = axes * np.where(signs == 0, 1.0, signs)
        coords[:, :keep] = centred @ axes
        total = float(values.clip(min=0).sum())
        variance[:keep] = values[order].clip(min=0) / total if total > 0 else 0.0
    explained = ", ".join(f"{v:.1%}" for v in variance)
    what = "spherized points" if spherized else "points"
    return Projection(PCA, coords, f"PCA of all {x.shape[0]:,} {what} (variance {explained})")


def umap_available() -> bool:
    """UMAP needs the optional `umap-learn` package (heavy: numba, scikit-learn)."""
    return importlib.util.find_spec("umap") is not None


def compute_umap(matrix: np.ndarray, neighbors: int = 15, min_dist: float = 0.1, seed: int = 0) -> Projection:
    """3-D UMAP of all rows with umap-learn, cosine metric, seeded."""
    import umap

    model = umap.UMAP(n_components=COMPONENTS, n_neighbors=neighbors, min_dist=min_dist, metric="cosine",
                      random_state=seed, n_jobs=1)  # fmt: skip
    spherized = should_spherize(matrix)
    x = spherize(matrix) if spherized else matrix
    coords = np.asarray(model.fit_transform(np.asarray(x, dtype=np.float32)), dtype=np.float64)
    what = "spherized points" if spherized else "points"
    return Projection(UMAP, coords, f"UMAP of all {matrix.shape[0]:,} {what} ({neighbors} neighbours)")


def round_coords(coords: np.ndarray) -> np.ndarray:
    """Round to `RELATIVE_PRECISION` of the largest magnitude, in decimal places."""
    scale = float(np.abs(coords).max()) if coords.size else 0.0
    if scale == 0.0 or not np.isfinite(scale):
        return coords
    decimals = max(0, int(np.ceil(-np.log10(scale * RELATIVE_PRECISION))))
    return np.round(coords, decimals)


def bookmark_state(
    projection: Projection,
    dimension: int,
    *,
    label_option: str | None = None,
    color_option: str | None = None,
) -> dict[str, object]:
    """A projector `State` that shows `projection` when applied.

    `loadState` (vz-projector.ts) copies `projections[i]` onto point i, then builds
    the view from `selectedProjection` plus `pcaComponentDimensions` or
    `umapIs3d`; the projections panel reads the t-SNE, UMAP and custom fields
    unconditionally, so they are all present. `shuffledDataIndices` and
    `filteredPoints` are left out on purpose: the projector would take even an
    empty list as the new sample or filter.
    """
    points, components = projection.coords.shape
    keys = [f"{projection.kind}-{c}" for c in range(components)]
    coords = round_coords(projection.coords).tolist()
    state: dict[str, object] = {
        "label": projection.label,
        "isSelected": False,
        "dataSetDimensions": [points, dimension],
        "projections": [dict(zip(keys, row, strict=True)) for row in coords],
        "selectedProjection": projection.kind,
        "pcaComponentDimensions": list(range(components)) if projection.kind == PCA else [0, 1, 2],
        "umapIs3d": components == 3,
        "umapNeighbors": 15,
        "umapMinDist": 0.1,
        "tSNEIteration": 0,
        "tSNEPerplexity": 18,
        "tSNELearningRate": 10,
        "tSNEis3d": True,
        "selectedPoints": [],
        "customSelectedSearchByMetadataOption": label_option or "",
        "customXLeftText": "",
        "customXLeftRegex": False,
        "customXRightText": "",
        "customXRightRegex": False,
        "customYUpText": "",
        "customYUpRegex": False,
        "customYDownText": "",
        "customYDownRegex": False,
    }
    if label_option is not None:
        state["selectedLabelOption"] = label_option
    if color_option is not None:
        state["selectedColorOptionName"] = color_option
    return state


def compute_projections(matrix: np.ndarray, kinds: Sequence[str]) -> list[Projection]:
    """The requested projections of `matrix`, in order; UMAP only where it is installed."""
    computed: dict[str, Callable[[np.ndarray], Projection]] = {PCA: compute_pca, UMAP: compute_umap}
    return [computed[kind](matrix) for kind in kinds]
