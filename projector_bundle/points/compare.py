"""Comparing spaces over the same items, and how far a 3-D picture keeps each point's neighbours.

Spaces are tensors whose rows stand for the same items: two models' word tables (matched by
token), the same sentences under several layers or models (matched by row). For each item of a
later space, against the first (Boggust et al. 2022, "Embedding Comparator"; Sivaraman et al.
2022, "Emblaze"):

- the Jaccard overlap of its K nearest neighbours (cosine, full space, exact: the blocked
  search of `neighbors`), and the neighbours it gained and lost;
- a `moved` rank, 1 for the item that changed most (lowest overlap, then farthest after alignment);
- the later space aligned to the first by orthogonal Procrustes on the shared items, in full
  dimension (centred, one scale, one rotation), then projected on the first space's PCA axes:
  an unchanged item lands where it was in the first space's picture.

Trust: per point of a 3-D layout, the share of its K full-space neighbours that are also its K
nearest in the layout as the projector draws it (kNN recall; Venna and Kaski's "trustworthiness"
asks the converse).

Pure: numpy in, numpy and dataclasses out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from projector_bundle import ExportError
from projector_bundle.points.blocks import row_blocks
from projector_bundle.points.neighbors import nearest_neighbors
from projector_bundle.points.projections import COMPONENTS, PCA, PcaFit, Projection, project, view_fit
from projector_bundle.points.tensors import CONTEXTUAL_SUFFIX, TENSOR_SUFFIXES, WORD, TensorData
from projector_bundle.progress import ProgressBar, no_bar
from projector_bundle.projector.formats import MOVED_HEADER, OVERLAP_HEADER
from projector_bundle.text import plural

# Neighbours compared per item, unless told otherwise.
DEFAULT_K = 10
# Neighbours gained and lost listed per item (the cells stay short; the counts say the rest).
LISTED = 5
# How items are matched between two spaces.
BY_TOKEN, BY_ROW = "token", "row"
# Rows read at once when aligning: two float64 blocks of this many rows, whatever the table size.
ALIGN_BLOCK_ROWS = 4096
# The projector draws each axis of a layout scaled to [-CUBE/2, CUBE/2] over its extent
# (SCATTER_PLOT_CUBE_LENGTH in vz_projector/projectorScatterPlotAdapter.ts).
CUBE = 2.0


@dataclass(frozen=True)
class SharedItems:
    """The items two spaces share: row `first[i]` of the first is row `other[i]` of the other."""

    first: np.ndarray  # int64 row indices, in the first space's order
    other: np.ndarray
    by: str  # BY_TOKEN or BY_ROW

    def __len__(self) -> int:
        return len(self.first)


def share_by_key(first: Sequence[str | None], other: Sequence[str | None]) -> SharedItems:
    """Items matched by key (a token's readable text): each key's first row in each space.
    A None key (a row without a token) matches nothing."""
    where: dict[str, int] = {}
    for row, key in enumerate(other):
        if key is not None:
            where.setdefault(key, row)
    seen: set[str] = set()
    mine, theirs = [], []
    for row, key in enumerate(first):
        if key is None or key in seen:
            continue
        seen.add(key)
        match = where.get(key)
        if match is not None:
            mine.append(row)
            theirs.append(match)
    return SharedItems(np.asarray(mine, dtype=np.int64), np.asarray(theirs, dtype=np.int64), BY_TOKEN)


def share_by_row(first: Sequence[str], other: Sequence[str], names: tuple[str, str]) -> SharedItems:
    """Items matched by row: the two spaces must hold the same items (same labels) in the same order."""
    if len(first) != len(other):
        raise ExportError(
            f"--compare: {names[1]} has {plural(len(other), 'point')} but {names[0]} has {len(first):,}; "
            "spaces compared by row must hold the same items"
        )
    differ = next((i for i, (a, b) in enumerate(zip(first, other, strict=True)) if a != b), None)
    if differ is not None:
        raise ExportError(
            f"--compare: point {differ + 1:,} is {first[differ]!r} in {names[0]} but {other[differ]!r} in {names[1]}; "
            "spaces compared by row must hold the same items"
        )
    rows = np.arange(len(first), dtype=np.int64)
    return SharedItems(rows, rows, BY_ROW)


def gather(matrix: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The float32 rows `rows` of `matrix` (the matrix itself where `rows` is every row, in order)."""
    if len(rows) == matrix.shape[0] and (len(rows) == 0 or (rows[0] == 0 and np.all(np.diff(rows) == 1))):
        return np.asarray(matrix, dtype=np.float32)
    return np.asarray(matrix[rows], dtype=np.float32)


# --- alignment ---


@dataclass(frozen=True)
class Alignment:
    """An orthogonal Procrustes map of one space onto another:
    x -> ((x - source_mean) @ rotation) * scale + target_mean."""

    rotation: np.ndarray  # (source dim, target dim), orthonormal rows or columns
    scale: float
    source_mean: np.ndarray
    target_mean: np.ndarray

    def apply(self, matrix: np.ndarray, *, block_rows: int = ALIGN_BLOCK_ROWS) -> np.ndarray:
        """Every row of `matrix` mapped into the target space, float32, block by block."""
        out = np.empty((matrix.shape[0], self.rotation.shape[1]), dtype=np.float32)
        for start, rows in row_blocks(matrix, block_rows):
            moved = ((rows - self.source_mean) @ self.rotation) * self.scale + self.target_mean
            out[start : start + len(rows)] = moved
        return out


def fit_alignment(
    target: np.ndarray, source: np.ndarray, *, keep: np.ndarray | None = None, block_rows: int = ALIGN_BLOCK_ROWS
) -> Alignment:
    """The rotation (and one scale) that best maps the rows of `source` onto the same rows of
    `target`, both centred: R = U V^T from the SVD of source^T target (Schönemann 1966), in full
    dimension, on the rows where `keep` is true (all by default). The dimensions may differ (the
    rotation is then a semi-orthogonal map)."""
    points = target.shape[0]
    kept = points if keep is None else int(keep.sum())
    if target.shape[0] != source.shape[0] or kept == 0:
        raise ExportError(f"--compare: cannot align {source.shape[0]:,} points to {target.shape[0]:,}")
    target_mean = np.zeros(target.shape[1])
    source_mean = np.zeros(source.shape[1])
    for _, t, s in _paired_blocks(target, source, keep, block_rows):
        target_mean += t.sum(axis=0)
        source_mean += s.sum(axis=0)
    target_mean /= kept
    source_mean /= kept
    cross = np.zeros((source.shape[1], target.shape[1]))
    source_square = 0.0
    for _, t, s in _paired_blocks(target, source, keep, block_rows):
        s -= source_mean
        t -= target_mean
        cross += s.T @ t
        source_square += float(np.einsum("ij,ij->", s, s))
    u, sigma, vt = np.linalg.svd(cross, full_matrices=False)
    rotation = u @ vt
    # The scale that best fits the rotated source to the target (least squares).
    scale = float(sigma.sum() / source_square) if source_square > 0 else 1.0
    return Alignment(rotation, scale, source_mean, target_mean)


def _paired_blocks(
    target: np.ndarray, source: np.ndarray, keep: np.ndarray | None, block_rows: int
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """(start, target rows, source rows) in float64 copies, block by block, only the kept rows."""
    for start in range(0, target.shape[0], block_rows):
        t = np.array(target[start : start + block_rows], dtype=np.float64)
        s = np.array(source[start : start + block_rows], dtype=np.float64)
        if keep is not None:
            chosen = keep[start : start + block_rows]
            t, s = t[chosen], s[chosen]
        yield start, t, s


# The share of shared items left out of the second alignment: those farthest after the first.
# Items that really moved would otherwise pull the rotation toward them and shift every other one.
ALIGN_TRIM = 0.1


def fit_robust_alignment(target: np.ndarray, source: np.ndarray) -> Alignment:
    """An alignment on every shared item, then again without the `ALIGN_TRIM` farthest from their
    place after it (trimmed Procrustes): the items that moved do not drag the unchanged ones."""
    first = fit_alignment(target, source)
    if target.shape[0] < 20:
        return first
    residual = displacement(target, first.apply(source))
    keep = residual <= np.quantile(residual, 1 - ALIGN_TRIM)
    return fit_alignment(target, source, keep=keep)


def _column_mean(matrix: np.ndarray, block_rows: int) -> np.ndarray:
    total = np.zeros(matrix.shape[1])
    for _, rows in row_blocks(matrix, block_rows):
        total += rows.sum(axis=0, dtype=np.float64)
    return total / max(matrix.shape[0], 1)


# --- neighbourhoods ---


@dataclass(frozen=True)
class NeighbourChange:
    """Per shared item: how its K nearest neighbours in the later space differ from the first's."""

    overlap: np.ndarray  # (items,) Jaccard of the two neighbour sets, 0..1
    gained: list[np.ndarray]  # per item, neighbours (shared-item indices) in the later space only, nearest first
    lost: list[np.ndarray]  # per item, neighbours in the first space only, nearest first


def neighbour_change(first: np.ndarray, other: np.ndarray) -> NeighbourChange:
    """Compare two (items, K) neighbour lists row by row (each row's entries distinct)."""
    items, k = first.shape
    if k == 0:
        return NeighbourChange(np.ones(items), [np.zeros(0, np.int64)] * items, [np.zeros(0, np.int64)] * items)
    in_first = (other[:, :, None] == first[:, None, :]).any(axis=2)  # (items, K): other's entry also in first
    in_other = (first[:, :, None] == other[:, None, :]).any(axis=2)
    common = in_first.sum(axis=1)
    overlap = common / (2 * k - common)
    gained = [row[~keep] for row, keep in zip(other, in_first, strict=True)]
    lost = [row[~keep] for row, keep in zip(first, in_other, strict=True)]
    return NeighbourChange(overlap, gained, lost)


def displacement(first: np.ndarray, aligned: np.ndarray, *, block_rows: int = ALIGN_BLOCK_ROWS) -> np.ndarray:
    """Per row, how far the aligned later point is from the first one, in units of the first
    space's root-mean-square distance to its centroid."""
    mean = _column_mean(first, block_rows)
    out = np.empty(first.shape[0])
    spread = 0.0
    for start in range(0, first.shape[0], block_rows):
        a = np.asarray(first[start : start + block_rows], dtype=np.float64)
        b = np.asarray(aligned[start : start + block_rows], dtype=np.float64)
        out[start : start + len(a)] = np.linalg.norm(a - b, axis=1)
        spread += float(np.einsum("ij,ij->", a - mean, a - mean))
    radius = np.sqrt(spread / max(first.shape[0], 1))
    return out / radius if radius > 0 else out


def moved_ranks(overlap: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """1 for the item that changed most: lowest neighbour overlap first, then the farthest moved
    after alignment, then the first row."""
    order = np.lexsort((np.arange(len(overlap)), -shift, overlap))
    ranks = np.empty(len(overlap), dtype=np.int64)
    ranks[order] = np.arange(1, len(overlap) + 1)
    return ranks


# --- the first space's PCA, applied to an aligned one ---


def project_on(fit: PcaFit, matrix: np.ndarray) -> tuple[np.ndarray, tuple[float, ...]]:
    """`matrix` (in the first space's coordinates) on the first space's PCA axes, prepared as the
    first space's rows were (its mean; each row to unit length where it spherized), and the share
    of `matrix`'s own variance, so prepared, along each axis."""
    points = matrix.shape[0]
    scales = None
    if fit.spherized:
        scales = np.zeros(points)
        for start, rows in row_blocks(matrix, ALIGN_BLOCK_ROWS):
            lengths = np.linalg.norm(np.asarray(rows, dtype=np.float64) - fit.mean, axis=1)
            np.divide(1.0, lengths, out=scales[start : start + len(rows)], where=lengths > 0)
    prepared = replace(fit, scales=scales)
    coords = project(matrix, prepared, np.zeros((points, fit.axes.shape[1])))
    total = 0.0
    for start, rows in row_blocks(matrix, ALIGN_BLOCK_ROWS):
        block = np.asarray(rows, dtype=np.float64) - fit.mean
        if scales is not None:
            block *= scales[start : start + len(rows), None]
        total += float(np.einsum("ij,ij->", block, block))
    # The prepared rows' variance about their own mean, against the coordinates' variance per axis.
    centre = _prepared_mean(matrix, fit.mean, scales)
    total = total / points - float(centre @ centre) if points else 0.0
    spread = coords.var(axis=0) if points else np.zeros(coords.shape[1])
    fractions = spread / total if total > 0 else np.zeros(coords.shape[1])
    return coords[:, :COMPONENTS], tuple(float(f) for f in fractions)


def _prepared_mean(matrix: np.ndarray, mean: np.ndarray, scales: np.ndarray | None) -> np.ndarray:
    total = np.zeros(matrix.shape[1])
    for start, rows in row_blocks(matrix, ALIGN_BLOCK_ROWS):
        block = np.asarray(rows, dtype=np.float64) - mean
        if scales is not None:
            block *= scales[start : start + len(rows), None]
        total += block.sum(axis=0)
    return total / max(matrix.shape[0], 1)


# --- one later space against the first ---


@dataclass(frozen=True)
class SpaceComparison:
    """A later space against the first: per shared item, and its aligned picture (every row)."""

    name: str
    reference: str
    shared: SharedItems
    change: NeighbourChange
    shift: np.ndarray  # (items,) displacement after alignment
    moved: np.ndarray  # (items,) ranks, 1 = changed most
    alignment: Alignment
    aligned: Projection  # every row of the later space, on the first space's PCA axes
    other_knn: np.ndarray  # (items, K) the later space's neighbours among the shared items

    @property
    def mean_overlap(self) -> float:
        return float(self.change.overlap.mean()) if len(self.shared) else 0.0


def compare_space(
    name: str,
    reference: str,
    first: np.ndarray,
    other: np.ndarray,
    shared: SharedItems,
    first_knn: np.ndarray,
    fit: PcaFit,
    k: int,
    progress: Callable[[int], None] | None = None,
) -> SpaceComparison:
    """`other` against `first` on `shared` items, `first_knn` being the first space's K nearest among them."""
    mine = gather(first, shared.first)
    theirs = gather(other, shared.other)
    other_knn = nearest_neighbors(theirs, k, progress=progress)
    change = neighbour_change(first_knn, other_knn)
    alignment = fit_robust_alignment(mine, theirs)
    shift = displacement(mine, alignment.apply(theirs))
    del mine, theirs
    aligned_rows = alignment.apply(other)
    coords, variance = project_on(fit, aligned_rows)
    del aligned_rows
    explained = ", ".join(f"{v:.1%}" for v in variance[:COMPONENTS])
    label = (
        f"{name} aligned to {reference} (orthogonal Procrustes on {len(shared):,} shared items), "
        f"on {reference}'s PCA axes (variance {explained})"
    )
    aligned = Projection(PCA, coords, label, variance, fit.spherized)
    return SpaceComparison(
        name, reference, shared, change, shift, moved_ranks(change.overlap, shift), alignment, aligned, other_knn
    )


# --- trust: how far a 3-D layout keeps each point's neighbours ---


Frame = tuple[tuple[float, float], ...]  # per axis, the (low, high) the projector scales to the cube


def layout_frame(layouts: Sequence[np.ndarray]) -> Frame:
    """Per axis, the extent of all `layouts` together: drawn in one frame, an unchanged point
    stays put when the view switches from one layout to another."""
    stacked = [coords for coords in layouts if len(coords)]
    if not stacked:
        return tuple((0.0, 0.0) for _ in range(COMPONENTS))
    low = np.min([c.min(axis=0) for c in stacked], axis=0)
    high = np.max([c.max(axis=0) for c in stacked], axis=0)
    return tuple((float(lo), float(hi)) for lo, hi in zip(low, high, strict=True))


def drawn(coords: np.ndarray, frame: Frame | None = None) -> np.ndarray:
    """The layout as the projector draws it: each axis scaled linearly from its extent (or the
    frame's) to [-CUBE/2, CUBE/2]; an axis of zero extent at 0, as d3's scaleLinear does."""
    low = coords.min(axis=0) if frame is None else np.array([lo for lo, _ in frame])
    high = coords.max(axis=0) if frame is None else np.array([hi for _, hi in frame])
    width = high - low
    scaled = np.zeros_like(coords, dtype=np.float64)
    ok = width > 0
    scaled[:, ok] = (coords[:, ok] - low[ok]) / width[ok] * CUBE - CUBE / 2
    return scaled


# Points per grid cell aimed at by `layout_neighbors`.
CELL_POINTS = 24


def layout_neighbors(coords: np.ndarray, k: int) -> np.ndarray:
    """Each point's `k` nearest other points of a low-dimensional layout (Euclidean), exact.

    Points are binned on a grid with per-axis quantile edges (so cells hold about
    `CELL_POINTS` each, however dense the cloud); a point's neighbours are searched in its cell
    and the ones around it, and kept where the k-th is no farther than the nearest face of
    that block; the others (sparse edges) are searched among all points. Ties: lower index first.
    """
    points, dims = coords.shape
    k = min(k, points - 1)
    result = np.empty((points, max(k, 0)), dtype=np.int64)
    if k <= 0:
        return result
    x = np.asarray(coords, dtype=np.float64)
    bins = max(1, round((points / CELL_POINTS) ** (1 / dims)))
    edges = [np.unique(np.quantile(x[:, a], np.linspace(0, 1, bins + 1))) for a in range(dims)]
    cell = np.stack([np.clip(np.searchsorted(e, x[:, a], side="right") - 1, 0, len(e) - 2) for a, e in
                     enumerate(edges)], axis=1)  # fmt: skip
    shape = tuple(len(e) - 1 for e in edges)
    flat = np.ravel_multi_index(tuple(cell.T), shape)
    order = np.argsort(flat, kind="stable")
    starts = np.searchsorted(flat[order], np.arange(int(np.prod(shape)) + 1))
    groups = [(int(c), order[starts[c] : starts[c + 1]]) for c in np.unique(flat)]
    # Cells one around, then two around for the points not settled, then every point.
    for reach in (1, 2):
        unsure: list[np.ndarray] = []
        offsets = np.stack(np.meshgrid(*[range(-reach, reach + 1)] * dims, indexing="ij"), axis=-1).reshape(-1, dims)
        for cell_id, members in groups:
            here = np.array(np.unravel_index(cell_id, shape))
            around = here + offsets
            inside = np.all((around >= 0) & (around < np.array(shape)), axis=1)
            ids = np.ravel_multi_index(tuple(around[inside].T), shape)
            candidates = np.sort(np.concatenate([order[starts[c] : starts[c + 1]] for c in ids]))
            if len(candidates) <= k:
                unsure.append(members)
                continue
            found, kth = _nearest(x[members], members, x[candidates], candidates, k)
            # The faces of the block of cells searched; none where it reaches the grid's edge.
            low = np.array([edges[a][here[a] - reach] if here[a] >= reach else -np.inf for a in range(dims)])
            high = np.array([edges[a][here[a] + reach + 1] if here[a] + reach + 1 < len(edges[a]) else np.inf
                             for a in range(dims)])  # fmt: skip
            room = np.minimum(x[members] - low, high - x[members]).min(axis=1)
            # Every point outside the block is at least `room` away, so a k-th nearer than that is final.
            sure = kth < room
            result[members[sure]] = found[sure]
            if not sure.all():
                unsure.append(members[~sure])
        groups = [(int(flat[m[0]]), m) for m in unsure]
    if unsure:
        rest = np.concatenate(unsure)
        everyone = np.arange(points)
        for start in range(0, len(rest), 1024):
            block = rest[start : start + 1024]
            result[block] = _nearest(x[block], block, x, everyone, k)[0]
    return result


# Distances held at once by `_nearest`, in values per coordinate: a few tens of megabytes.
NEAREST_BLOCK_VALUES = 1 << 21


def _nearest(
    queries: np.ndarray, query_ids: np.ndarray, candidates: np.ndarray, candidate_ids: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each query's `k` nearest candidates (not itself), nearest then lowest index first, and the
    k-th distance; `candidate_ids` ascending."""
    ids = np.empty((len(queries), k), dtype=np.int64)
    kth = np.empty(len(queries))
    step = max(1, NEAREST_BLOCK_VALUES // max(len(candidates), 1))
    for start in range(0, len(queries), step):
        q, q_ids = queries[start : start + step], query_ids[start : start + step]
        d2 = np.zeros((len(q), len(candidates)))
        for axis in range(q.shape[1]):  # an axis at a time: two-dimensional arrays, no (q, c, dims) one
            difference = q[:, axis, None] - candidates[None, :, axis]
            d2 += difference * difference
        d2[q_ids[:, None] == candidate_ids[None, :]] = np.inf
        # The k-th distance, then the candidates no farther (k of them unless there are ties),
        # ordered by distance then index: the candidates come in index order.
        bound = np.partition(d2, k - 1, axis=1)[:, k - 1]
        near = d2 <= bound[:, None]
        counts = near.sum(axis=1)
        _, columns = np.nonzero(near)
        exact = counts == k
        if exact.all():
            top = columns.reshape(len(q), k)
        else:
            top = np.empty((len(q), k), dtype=np.int64)
            first = np.concatenate([[0], np.cumsum(counts)])
            for row in range(len(q)):
                top[row] = (
                    columns[first[row] : first[row] + k] if exact[row] else np.argsort(d2[row], kind="stable")[:k]
                )
        order = np.argsort(np.take_along_axis(d2, top, axis=1), axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        ids[start : start + len(q)] = candidate_ids[top]
        kth[start : start + len(q)] = np.sqrt(bound)
    return ids, kth


def knn_recall(full: np.ndarray, layout: np.ndarray) -> np.ndarray:
    """Per point, the share of its full-space neighbours (row of `full`) among its layout neighbours."""
    if full.shape[1] == 0:
        return np.ones(full.shape[0])
    kept = (full[:, :, None] == layout[:, None, :]).any(axis=2).sum(axis=1)
    return kept / full.shape[1]


# --- what a comparison costs ---


def calibrate_rate(dimension: int, *, rows: int = 256, columns: int = 8192) -> float:
    """Multiply-adds per second of one float32 block product on this machine now (the search's inner step)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((rows, dimension), dtype=np.float32)
    b = rng.standard_normal((columns, dimension), dtype=np.float32)
    start = time.perf_counter()
    _ = a @ b.T
    return rows * columns * dimension / max(time.perf_counter() - start, 1e-9)


def search_work(points: int, dimension: int) -> float:
    """Multiply-adds of one exact search over `points` rows of `dimension`."""
    return float(points) * points * dimension


def listed(indices: np.ndarray, labels: Sequence[str], limit: int = LISTED) -> str:
    """A short text list of neighbours: the first `limit` labels, then how many more."""
    if len(indices) == 0:
        return NONE_LISTED
    names = [labels[i] for i in indices[:limit].tolist()]
    more = len(indices) - limit
    return " ".join(names) + (f" (+{more})" if more > 0 else "")


# The gained or lost cell of an item whose neighbours are all kept.
NONE_LISTED = "(none)"


# --- the bundle's spaces: which tensors are compared, and the columns and views they get ---

# Metadata columns of a later space, after OVERLAP_HEADER and MOVED_HEADER (formats).
GAINED_HEADER = "neighbors gained"
LOST_HEADER = "neighbors lost"
# A numeric column per shipped layout: "trust PCA", "trust UMAP", "trust aligned".
TRUST_HEADER = "trust {layout}"
ALIGNED = "aligned"
# Items listed on the page as those that moved most.
MOST_MOVED = 20


@dataclass(frozen=True)
class SpaceGroup:
    """Tensors over the same items: each later one is compared with the first."""

    reference: str
    others: tuple[str, ...]
    by: str  # BY_TOKEN or BY_ROW


def comparison_groups(names: Sequence[str], prefixes: Sequence[str]) -> list[SpaceGroup]:
    """Which tensors `--compare` compares: with several models, each tensor of a later model with
    the same tensor of the first (word tables by token, points over the same texts by row); with
    one model, each of its layers over the same texts with the first of them."""
    suffixes: dict[str, list[str]] = {}
    for name in names:
        prefix = next((p for p in prefixes if name.startswith(f"{p}/")), None)
        if prefix is not None:
            suffixes.setdefault(name[len(prefix) + 1 :], []).append(name)
    groups = []
    if len(prefixes) > 1:
        for suffix, members in suffixes.items():
            by = BY_TOKEN if suffix == TENSOR_SUFFIXES[WORD] else BY_ROW if row_family(suffix) else None
            if by is not None and len(members) > 1:
                groups.append(SpaceGroup(members[0], tuple(members[1:]), by))
        return groups
    families: dict[str, list[str]] = {}
    for suffix, members in suffixes.items():
        family = row_family(suffix)
        if family is not None:
            families.setdefault(family, []).append(members[0])
    return [SpaceGroup(layers[0], tuple(layers[1:]), BY_ROW) for layers in families.values() if len(layers) > 1]


# Tensors whose rows are points over given texts, the same items in every layer (and in every
# model with the same tokenizer or pooling), by the start of their name after the model:
# `contextual_layerN` (--sentences), and `texts` / `texts_layerN` (--texts, TEXTS_SUFFIX on the
# own-data branch), so that "the same texts under several models" is compared by row.
ROW_FAMILIES = (CONTEXTUAL_SUFFIX.split("{", 1)[0], "texts")


def row_family(suffix: str) -> str | None:
    """The family of a tensor compared by row, from its name after the model; None for others."""
    return next((family for family in ROW_FAMILIES if suffix.startswith(family)), None)


@dataclass(frozen=True)
class BundleComparison:
    """Every later space against its group's first, and each compared tensor's own neighbours."""

    groups: tuple[SpaceGroup, ...]
    comparisons: tuple[SpaceComparison, ...]
    knn: dict[str, np.ndarray]  # tensor name -> every row's K nearest (full space), for trust
    fits: dict[str, PcaFit]  # reference tensor name -> its PCA fit (its view's axes)
    k: int


def compare_tensors(
    data: Sequence[TensorData],
    groups: Sequence[SpaceGroup],
    keys: Mapping[str, Sequence[str | None]],
    k: int,
    progress: ProgressBar = no_bar,
) -> BundleComparison:
    """Compare every group's later tensors with its first. `keys` gives a word table's token per row."""
    tensors = {t.name: t for t in data}
    comparisons = []
    knn: dict[str, np.ndarray] = {}
    fits: dict[str, PcaFit] = {}

    def search(name: str, matrix: np.ndarray) -> np.ndarray:
        with progress(f"neighbours of {name}", matrix.shape[0]) as advance:
            return nearest_neighbors(matrix, k, progress=advance)

    for group in groups:
        first = tensors[group.reference]
        fits[first.name] = view_fit(first.matrix)
        knn[first.name] = search(first.name, first.matrix)
        for name in group.others:
            other = tensors[name]
            if group.by == BY_TOKEN:
                shared = share_by_key(keys[first.name], keys[name])
            else:
                shared = share_by_row([r[0] for r in first.rows], [r[0] for r in other.rows], (first.name, name))
            if len(shared) <= k:
                raise ExportError(
                    f"--compare {k}: {name} and {first.name} share {len(shared):,} items; expected more than {k}"
                )
            whole = len(shared) == first.matrix.shape[0]
            first_knn = knn[first.name] if whole else nearest_neighbors(gather(first.matrix, shared.first), k)
            with progress(f"neighbours of {name}", len(shared)) as advance:
                compared = compare_space(
                    name, first.name, first.matrix, other.matrix, shared, first_knn, fits[first.name], k, advance
                )
            comparisons.append(compared)
            every = len(shared) == other.matrix.shape[0] and np.array_equal(shared.other, np.arange(len(shared)))
            knn[name] = compared.other_knn if every else search(name, other.matrix)
    return BundleComparison(tuple(groups), tuple(comparisons), knn, fits, k)


def add_comparison(tensor: TensorData, compared: SpaceComparison) -> TensorData:
    """The later space's columns: overlap, moved rank, neighbours gained and lost (empty for an
    item the first space lacks)."""
    labels = [row[0] for row in tensor.rows]
    shared_labels = [labels[i] for i in compared.shared.other.tolist()]
    cells = [["", "", "", ""] for _ in labels]
    change = compared.change
    for item, row in enumerate(compared.shared.other.tolist()):
        cells[row] = [
            f"{change.overlap[item]:.3f}",
            str(int(compared.moved[item])),
            listed(change.gained[item], shared_labels),
            listed(change.lost[item], shared_labels),
        ]
    rows = [[*row, *extra] for row, extra in zip(tensor.rows, cells, strict=True)]
    header = (*tensor.header, OVERLAP_HEADER, MOVED_HEADER, GAINED_HEADER, LOST_HEADER)
    return replace_rows(tensor, header, rows)


def replace_rows(tensor: TensorData, header: tuple[str, ...], rows: list[list[str]]) -> TensorData:
    return TensorData(tensor.name, tensor.matrix, header, rows)


@dataclass(frozen=True)
class Layout:
    """A shipped 3-D layout of a tensor, as trust sees it."""

    name: str  # "PCA", "UMAP", "aligned"
    coords: np.ndarray
    frame: Frame | None  # the frame it is drawn in, where it shares one with other layouts


def add_trust(tensor: TensorData, layouts: Sequence[Layout], knn: np.ndarray) -> tuple[TensorData, dict[str, float]]:
    """A numeric column per layout: each point's kNN recall in the layout as drawn; and each layout's mean."""
    k = knn.shape[1]
    columns, means = [], {}
    for layout in layouts:
        recall = knn_recall(knn, layout_neighbors(drawn(layout.coords, layout.frame), k))
        columns.append([f"{v:.2f}".rstrip("0").rstrip(".") if v else "0" for v in recall.tolist()])
        means[layout.name] = float(recall.mean()) if len(recall) else 0.0
    header = (*tensor.header, *(TRUST_HEADER.format(layout=layout.name) for layout in layouts))
    rows = [[*row, *cells] for row, cells in zip(tensor.rows, zip(*columns, strict=True), strict=True)]
    return replace_rows(tensor, header, rows), means


# --- what the page shows ---


@dataclass(frozen=True)
class MovedItem:
    label: str
    rank: int
    overlap: str  # "0.053"
    gained: str
    lost: str


@dataclass(frozen=True)
class HistogramBar:
    common: int  # neighbours in common, of K
    overlap: str  # the Jaccard that stands for
    count: int
    share: float  # of the items, 0..1 (the bar's length)


@dataclass(frozen=True)
class ComparisonView:
    """One later space against its first, for the page's comparison panel."""

    name: str
    reference: str
    by: str
    shared: int
    points: int  # the later space's points
    reference_points: int
    mean_overlap: str
    unchanged: int  # items whose K neighbours are all kept
    histogram: tuple[HistogramBar, ...]
    moved: tuple[MovedItem, ...]


@dataclass(frozen=True)
class TrustView:
    tensor: str
    means: tuple[tuple[str, str], ...]  # (layout, mean kNN recall as text)


def comparison_view(
    compared: SpaceComparison, labels: Sequence[str], points: int, reference_points: int
) -> ComparisonView:
    """The overlap histogram (by neighbours kept of K) and the `MOST_MOVED` items, for the page."""
    overlap = compared.change.overlap
    k = compared.other_knn.shape[1]
    common = np.rint(overlap * 2 * k / (1 + overlap)).astype(np.int64)  # Jaccard c / (2K - c) back to c
    counts = np.bincount(common, minlength=k + 1)
    items = max(len(overlap), 1)
    bars = tuple(
        HistogramBar(c, f"{c / (2 * k - c):.2f}", int(counts[c]), float(counts[c] / items)) for c in range(k + 1)
    )
    shared_labels = [labels[i] for i in compared.shared.other.tolist()]
    top = np.argsort(compared.moved, kind="stable")[:MOST_MOVED]
    change = compared.change
    moved = tuple(
        MovedItem(
            shared_labels[i],
            int(compared.moved[i]),
            f"{overlap[i]:.3f}",
            listed(change.gained[i], shared_labels),
            listed(change.lost[i], shared_labels),
        )
        for i in top.tolist()
    )
    return ComparisonView(
        compared.name,
        compared.reference,
        compared.shared.by,
        len(compared.shared),
        points,
        reference_points,
        f"{compared.mean_overlap:.3f}",
        int(counts[k]),
        bars,
        moved,
    )
