"""Projections computed at export time, shipped as projector bookmarks.

The projector computes PCA in the browser on every load, from a sample, and runs
t-SNE and UMAP on samples only. A bookmark (a saved `State`, tensorboard's
`vz_projector/data.ts`) carries per-point coordinates instead: applying it shows
the full-data view at once. Pure: numpy in, numpy and dicts out.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np

from projector_bundle import UsageError
from projector_bundle.points.blocks import row_blocks

# The projector names a point's coordinates `<kind>-<component>` (`pca-0`, `umap-2`, ...).
PCA = "pca"
UMAP = "umap"
PROJECTION_KINDS = (PCA, UMAP)
COMPONENTS = 3

# The projector "spherizes" data of this many dimensions or more by default (shift
# by the centroid, scale each point to unit length) before projecting; the
# bookmarks do the same, so they show the exact version of the default view.
SPHERIZE_MIN_DIM = 50

# The projector's PCA menu offers this many components (NUM_PCA_COMPONENTS in
# vz-projector-projections-panel.ts); the page shows the exact variance of each.
MENU_COMPONENTS = 10

# The key of a bookmark that the page script (templates/view.js) reads, and the
# projector ignores: what makes the bookmark's coordinates the exact PCA view.
EXACT_VIEW = "exactView"
# The key of a bookmark that the page script reads, and the projector ignores: per axis, the
# [low, high] that `--compare`'s layouts are drawn in, so an unchanged point keeps its place on
# screen when the view switches between them (the projector scales each axis to its own extent).
FRAME = "frame"

# Coordinates are rounded to this fraction of their largest magnitude: far below a
# pixel, and it keeps 30k points x 3 coordinates near 1-2 MB of JSON.
RELATIVE_PRECISION = 1e-4


@dataclass(frozen=True)
class Projection:
    """Three coordinates per point, and the words the bookmark shows for them."""

    kind: str  # PCA or UMAP
    coords: np.ndarray  # (points, 3), float64
    label: str
    # PCA only: the fraction of the total variance along each of the first
    # MENU_COMPONENTS components, and whether the points were spherized first.
    variance: tuple[float, ...] = ()
    spherized: bool = False


# Rows widened to float64 at once: 2,048 x 768 x 8 bytes = 13 MB, whatever the vocabulary
# size. Of 256 to 8,192 rows, 2,048 measured fastest on bert-base (256: 1.45x as long).
BLOCK_ROWS = 2048


@dataclass(frozen=True)
class PcaFit:
    """The principal axes of a matrix, and how a row is prepared for them."""

    mean: np.ndarray  # (dim,) subtracted first
    scales: np.ndarray | None  # (points,) then each row multiplied by its own (1 / length): spherized
    centre: np.ndarray  # (dim,) the mean of the prepared rows, subtracted before projecting
    axes: np.ndarray  # (dim, kept) unit columns, largest variance first, largest loading positive
    fractions: np.ndarray  # (kept,) the share of all variance along each axis
    points: int

    @property
    def spherized(self) -> bool:
        return self.scales is not None


def spherize(matrix: np.ndarray) -> np.ndarray:
    """What the projector's "Spherize data" does: centre, then unit length (zero rows stay zero)."""
    x = np.asarray(matrix, dtype=np.float64)
    centred = x - x.mean(axis=0)
    norms = np.linalg.norm(centred, axis=1, keepdims=True)
    return centred / np.where(norms == 0, 1.0, norms)


def should_spherize(matrix: np.ndarray) -> bool:
    return matrix.shape[1] >= SPHERIZE_MIN_DIM


def _centred_blocks(matrix: np.ndarray, mean: np.ndarray, block_rows: int) -> Iterator[tuple[int, np.ndarray]]:
    """(start, rows - mean in float64) per block of rows, in one buffer reused for every block.

    A memory map is read one block at a time; the input itself is never written.
    """
    buffer = np.empty((min(block_rows, matrix.shape[0]), matrix.shape[1]))
    for start, rows in row_blocks(matrix, block_rows):
        block = buffer[: len(rows)]
        np.subtract(rows, mean, out=block)  # float32 widens exactly, then the float64 subtraction
        yield start, block


def fit_pca(matrix: np.ndarray, components: int, *, spherized: bool, block_rows: int = BLOCK_ROWS) -> PcaFit:
    """The top `components` principal axes of all rows, from a covariance accumulated block by block.

    Two passes over the rows, each holding one float64 block and dimension x dimension
    sums: the mean, then (after spherizing, if asked) the sum and the cross products.
    The same axes as the full-matrix formula, without any copy of the whole matrix.
    """
    points, dim = matrix.shape
    if points == 0:
        zeros = np.zeros(dim)
        return PcaFit(zeros, np.zeros(0) if spherized else None, zeros, np.zeros((dim, 0)), np.zeros(0), 0)
    total = np.zeros(dim)
    for _, rows in row_blocks(matrix, block_rows):
        total += rows.sum(axis=0, dtype=np.float64)
    mean = total / points
    scales = np.ones(points) if spherized else None
    # After the first centring the rows' own mean is near zero (exactly zero unless
    # spherized), so subtracting points * centre centre^T loses no precision.
    row_sum = np.zeros(dim)
    products = np.zeros((dim, dim))
    for start, block in _centred_blocks(matrix, mean, block_rows):
        if scales is not None:
            lengths = np.sqrt(np.einsum("ij,ij->i", block, block))
            scale = scales[start : start + len(block)]
            np.divide(1.0, lengths, out=scale, where=lengths > 0)  # a zero row stays zero
            block *= scale[:, None]
        row_sum += block.sum(axis=0)
        products += block.T @ block  # numpy hands a matrix times its own transpose to BLAS syrk
    centre = row_sum / points
    kept = min(components, points - 1, dim)
    if kept <= 0:
        return PcaFit(mean, scales, centre, np.zeros((dim, 0)), np.zeros(0), points)
    covariance = (products - points * np.outer(centre, centre)) / (points - 1)
    values, vectors = np.linalg.eigh(covariance)  # ascending
    order = np.argsort(values)[::-1][:kept]
    axes = vectors[:, order]
    signs = np.sign(axes[np.abs(axes).argmax(axis=0), np.arange(kept)])
    axes = axes * np.where(signs == 0, 1.0, signs)
    variance = float(values.clip(min=0).sum())
    fractions = values[order].clip(min=0) / variance if variance > 0 else np.zeros(kept)
    return PcaFit(mean, scales, centre, axes, fractions, points)


def project(matrix: np.ndarray, fit: PcaFit, out: np.ndarray, *, block_rows: int = BLOCK_ROWS) -> np.ndarray:
    """`matrix`'s coordinates on `fit`'s axes, written block by block into `out` (points x kept or wider).

    A prepared row is ((x - mean) * scale - centre); its coordinates are computed as
    ((x - mean) @ axes) * scale - centre @ axes, the same numbers with the scaling done
    on `kept` columns instead of all of them.
    """
    kept = fit.axes.shape[1]
    shift = fit.centre @ fit.axes
    for start, block in _centred_blocks(matrix, fit.mean, block_rows):
        coords = block @ fit.axes
        if fit.scales is not None:
            coords *= fit.scales[start : start + len(block), None]
        out[start : start + len(block), :kept] = coords - shift
    return out


def view_fit(matrix: np.ndarray, components: int = COMPONENTS, *, block_rows: int = BLOCK_ROWS) -> PcaFit:
    """The PCA fit behind `compute_pca`'s view: spherized where the projector would spherize, with the
    axes of every component the page's menu offers (only the first `components` are projected)."""
    menu = max(components, min(MENU_COMPONENTS, matrix.shape[1]))
    return fit_pca(matrix, menu, spherized=should_spherize(matrix), block_rows=block_rows)


def compute_pca(
    matrix: np.ndarray, components: int = COMPONENTS, *, block_rows: int = BLOCK_ROWS, fit: PcaFit | None = None
) -> Projection:
    """Exact PCA of all rows, spherized first where the projector would spherize.

    Missing components (fewer points or dimensions than `components`) are zeros, and
    each axis's sign is fixed (largest loading positive) so rebuilds are identical.
    Memory: one block of rows and the dimension x dimension covariance, besides the result.
    `fit` is `view_fit(matrix)` where the caller has it already.
    """
    spherized = should_spherize(matrix)
    fit = view_fit(matrix, components, block_rows=block_rows) if fit is None else fit
    # The page shows the exact variance of every component its menu offers.
    menu = max(components, min(MENU_COMPONENTS, matrix.shape[1]))
    shown = replace(fit, axes=fit.axes[:, :components])
    coords = project(matrix, shown, np.zeros((matrix.shape[0], components)), block_rows=block_rows)
    variance = np.zeros(menu)
    variance[: len(fit.fractions)] = fit.fractions
    explained = ", ".join(f"{v:.1%}" for v in variance[:components])
    what = "spherized points" if spherized else "points"
    label = f"PCA of all {matrix.shape[0]:,} {what} (variance {explained})"
    return Projection(PCA, coords, label, tuple(float(v) for v in variance), spherized)


@dataclass(frozen=True)
class Reduction:
    """Rows expressed on their top principal axes (`--dims`)."""

    matrix: np.ndarray  # (points, dims), float32
    variance_kept: float  # the share of all variance the kept axes carry, 0..1


def check_dims(dims: int, dimension: int) -> None:
    """`--dims` must drop at least one dimension and keep at least the two the projector needs."""
    if not 2 <= dims < dimension:
        raise UsageError(
            f"--dims {dims}: expected 2 to {dimension - 1}, fewer than the tensor's {dimension} dimensions"
        )


def reduce_dimensions(matrix: np.ndarray, dims: int, *, block_rows: int = BLOCK_ROWS) -> Reduction:
    """An exact PCA of the rows to `dims` dimensions: centred, not spherized, so distances
    within the kept subspace are the original ones and the projector can still spherize."""
    check_dims(dims, matrix.shape[1])
    fit = fit_pca(matrix, dims, spherized=False, block_rows=block_rows)
    reduced = project(matrix, fit, np.zeros((matrix.shape[0], dims), dtype=np.float32), block_rows=block_rows)
    return Reduction(reduced, float(fit.fractions.sum()))


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
    if projection.kind == PCA:
        state[EXACT_VIEW] = exact_view(projection, "projections")
    if label_option is not None:
        state["selectedLabelOption"] = label_option
    if color_option is not None:
        state["selectedColorOptionName"] = color_option
    return state


def exact_view(projection: Projection, coordinates: str) -> dict[str, object]:
    """What the page needs to open on this PCA without the projector's own: the exact
    variance per component, the "Spherize data" setting it is exact for, and where the
    coordinates are ("projections" of this bookmark, or the tensor's own "vectors")."""
    return {"variance": list(projection.variance), "spherize": projection.spherized, "coordinates": coordinates}


def compute_projections(matrix: np.ndarray, kinds: Sequence[str], *, fit: PcaFit | None = None) -> list[Projection]:
    """The requested projections of `matrix`, in order; UMAP only where it is installed. `fit` is
    `view_fit(matrix)` where the caller has it already (its eigendecomposition is not repeated)."""
    computed: dict[str, Callable[[np.ndarray], Projection]] = {
        PCA: lambda m: compute_pca(m, fit=fit),
        UMAP: compute_umap,
    }
    return [computed[kind](matrix) for kind in kinds]
