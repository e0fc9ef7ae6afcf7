"""Clusters of a tensor's points, found in the model's full space and named from their members.

Two levels, both by cosine (every row scaled to unit length first):
- fine: scikit-learn's seeded k-means on a sample of at most `FIT_SAMPLE` rows, up to
  `MAX_FINE` centroids; every row then joins its most similar centroid, a block at a time,
  so 200,000 rows cost the sample's fit plus one pass of matrix products;
- coarse: Ward's agglomeration of the fine centroids (scipy), cut into `MAX_NAMED` groups
  or fewer: at the asked number, or where the silhouette of a sample is highest (`auto`).

k-means alone on the true number of topics does no better on labelled texts
(bench/cluster_quality.py, docs/clusters.md), and HDBSCAN in 384 dimensions called most
points noise and took longer on 3,000 rows than this does on 30,000.

Names are words from the members: the c-TF-IDF keywords of their texts where there are
texts, else the labels of the members nearest the centroid. Pure: numpy and scikit-learn in,
arrays and strings out.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from projector_bundle import UsageError
from projector_bundle.points.blocks import row_blocks
from projector_bundle.points.projections import COMPONENTS, EXACT_VIEW, PCA, Projection, bookmark_state
from projector_bundle.projector.colouring import MAX_CATEGORIES, is_js_number

AUTO, NONE = "auto", "none"

# The projector's categorical palette is d3.schemeCategory10: ten named clusters and the rest
# keep distinct colours.
MAX_NAMED = 10
# A column of at most 50 distinct values stays under "Color by" (NUM_COLORS_COLOR_MAP): 49 and the rest.
MAX_FINE = MAX_CATEGORIES - 1
MIN_NAMED = 2
# A tensor with fewer points gets no clusters: a few points are read one by one.
MIN_POINTS = 20
# Points per fine cluster aimed at in small tensors (100 points: 10 fine clusters).
POINTS_PER_FINE = 10
# Rows the k-means is fitted on; the others are assigned to its centroids.
FIT_SAMPLE = 10_000
# Rows whose silhouette chooses the number of clusters (auto): 2,000 x 2,000 distances.
SILHOUETTE_SAMPLE = 2_000
# With auto, a group with less than this share of the points joins the rest.
MIN_SHARE = 0.01
# Threads of the k-means fit (see fit_centroids).
KMEANS_THREADS = 1
# Rows compared with the centroids at once.
ASSIGN_BLOCK = 8192
# Members whose labels may name a large cluster (the most central of a seeded sample).
CENTRAL_SAMPLE = 5_000
# Words in a name.
NAME_WORDS = 3

CLUSTER_HEADER = "Cluster"
FINE_HEADER = "Subcluster"
# The value of points in no named cluster (zero vectors; with auto, groups under MIN_SHARE).
REST = "(other)"
REST_ID = -1

CLUSTERS_EXPECTED = f"expected {AUTO}, {NONE} or a number of clusters"

# Words as c-TF-IDF counts them: letters first, two characters or more.
_KEYWORD = re.compile(r"[^\W\d_]\w+", re.UNICODE)


def parse_clusters(text: str) -> str | int | None:
    """`--clusters` as typed: auto, none or a whole number (checked by `check_clusters`); None for anything else."""
    if text in (AUTO, NONE):
        return text
    try:
        return int(text)
    except ValueError:
        return None


def check_clusters(count: str | int) -> None:
    """Refuse a number of clusters the palette cannot show apart, or anything but auto and none."""
    if count in (AUTO, NONE):
        return
    if not isinstance(count, int) or isinstance(count, bool):
        raise UsageError(f"--clusters {count}: {CLUSTERS_EXPECTED}")
    if not MIN_NAMED <= count <= MAX_NAMED:
        raise UsageError(
            f"--clusters {count}: expected {MIN_NAMED} to {MAX_NAMED} (the projector has {MAX_NAMED} colours "
            f"for categories), got {count}"
        )


@dataclass(frozen=True)
class Clustering:
    """Each point's cluster at two levels, and the clusters' names (REST_ID is the rest)."""

    named: np.ndarray  # (points,) int: 0..len(names) - 1 by decreasing size, or REST_ID
    names: tuple[str, ...]
    fine: np.ndarray  # (points,) int: 0..len(fine_names) - 1, or REST_ID
    fine_names: tuple[str, ...]

    def sizes(self) -> list[int]:
        """Points per named cluster, in name order."""
        return np.bincount(self.named[self.named >= 0], minlength=len(self.names)).tolist()

    def cells(self) -> list[str]:
        return _cells(self.named, self.names)

    def fine_cells(self) -> list[str]:
        return _cells(self.fine, self.fine_names)

    @property
    def has_fine(self) -> bool:
        """A second level is worth a column when it splits the named clusters further."""
        return len(self.fine_names) > len(self.names)


def _cells(ids: np.ndarray, names: Sequence[str]) -> list[str]:
    table = [*names, REST]  # index -1 is the rest
    return [table[i] for i in ids.tolist()]


def cluster_points(
    matrix: np.ndarray,
    labels: Sequence[str],
    texts: Sequence[str] | None = None,
    *,
    count: str | int = AUTO,
    seed: int = 0,
) -> Clustering | None:
    """The clusters of `matrix`'s rows, or None where there are too few points (or `count` is none).

    `labels` (one per row) name clusters by their most central members; `texts` (one per
    row), where given, name them by c-TF-IDF keywords instead.
    """
    points = matrix.shape[0]
    if count == NONE or points < MIN_POINTS:
        return None
    wanted = None if count == AUTO else int(count)
    norms = row_norms(matrix)
    live_rows = np.flatnonzero(norms > 0)
    if len(live_rows) < MIN_POINTS:
        return None
    rng = np.random.default_rng(seed)
    fit_rows = np.sort(rng.choice(live_rows, min(FIT_SAMPLE, len(live_rows)), replace=False))
    fine_count = min(MAX_FINE, max(wanted or MIN_NAMED, len(fit_rows) // POINTS_PER_FINE))
    centroids = fit_centroids(unit_rows(matrix, fit_rows, norms), fine_count, seed)
    fine = assign(matrix, norms, centroids)
    groups = group_centroids(centroids)  # number of groups -> the group of each fine cluster
    chosen = choose_cut(matrix, norms, fine, groups, rng) if wanted is None else min(wanted, len(centroids))
    named = np.where(fine >= 0, groups[chosen][np.maximum(fine, 0)], REST_ID)
    named = order_by_size(named, min_size=int(np.ceil(MIN_SHARE * points)) if wanted is None else 1)
    fine = order_by_size(fine, min_size=1)
    namer = ClusterNamer(matrix, norms, labels, texts, seed)
    return Clustering(named, namer.names(named), fine, namer.names(fine))


def row_norms(matrix: np.ndarray) -> np.ndarray:
    """Each row's length, a block at a time (a memory-mapped table is not read whole)."""
    norms = np.empty(matrix.shape[0], dtype=np.float32)
    for start, block in row_blocks(matrix, ASSIGN_BLOCK):
        norms[start : start + len(block)] = np.linalg.norm(np.asarray(block, dtype=np.float32), axis=1)
    return norms


def unit_rows(matrix: np.ndarray, rows: np.ndarray, norms: np.ndarray) -> np.ndarray:
    """The chosen (non-zero) rows at unit length, in float32."""
    return np.asarray(matrix[rows], dtype=np.float32) / norms[rows, None]


def fit_centroids(rows: np.ndarray, count: int, seed: int) -> np.ndarray:
    """Seeded k-means centroids of unit rows, scaled to unit length (spherical k-means' centres)."""
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    count = min(count, len(np.unique(rows, axis=0)))
    # One thread, OpenMP and BLAS: k-means++ on 10,000 x 384 rows took 23 s with their threads on
    # 2 busy cores and 2.4 s on one, with the same centroids.
    with threadpool_limits(limits=KMEANS_THREADS):
        model = KMeans(n_clusters=count, n_init=1, random_state=seed).fit(rows)
    centroids = np.asarray(model.cluster_centers_, dtype=np.float32)
    norms = np.linalg.norm(centroids, axis=1, keepdims=True)
    return centroids / np.where(norms == 0, 1, norms)


def assign(matrix: np.ndarray, norms: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Each non-zero row's most cosine-similar centroid (REST_ID for zero rows), a block at a time.
    A row's own length does not change which centroid is nearest, so rows are not scaled."""
    result = np.empty(matrix.shape[0], dtype=np.int64)
    for start, block in row_blocks(matrix, ASSIGN_BLOCK):
        result[start : start + len(block)] = np.argmax(np.asarray(block, dtype=np.float32) @ centroids.T, axis=1)
    result[norms == 0] = REST_ID
    return result


def group_centroids(centroids: np.ndarray) -> dict[int, np.ndarray]:
    """For each number of groups up to MAX_NAMED, the group of every fine centroid (Ward's cuts)."""
    from scipy.cluster.hierarchy import fcluster, linkage

    count = len(centroids)
    if count < 2:
        return {1: np.zeros(count, dtype=np.int64)}
    tree = linkage(centroids.astype(np.float64), method="ward")
    # fcluster numbers groups from 1; scipy's cut_tree gave one group for a cut into two of two leaves.
    return {
        k: fcluster(tree, k, criterion="maxclust").astype(np.int64) - 1 for k in range(1, min(MAX_NAMED, count) + 1)
    }


def choose_cut(
    matrix: np.ndarray, norms: np.ndarray, fine: np.ndarray, groups: dict[int, np.ndarray], rng: np.random.Generator
) -> int:
    """The number of groups whose cosine silhouette on a sample of live rows is highest (the fewest on ties)."""
    from sklearn.metrics import silhouette_score

    candidates = [k for k in groups if k >= MIN_NAMED]
    if not candidates:
        return max(groups)
    live_rows = np.flatnonzero(fine >= 0)
    rows = np.sort(rng.choice(live_rows, min(SILHOUETTE_SAMPLE, len(live_rows)), replace=False))
    x = unit_rows(matrix, rows, norms)
    distances = np.clip(1.0 - x @ x.T, 0.0, 2.0)
    np.fill_diagonal(distances, 0.0)
    best, best_score = candidates[0], -np.inf
    for k in candidates:
        labels = groups[k][fine[rows]]
        if len(np.unique(labels)) < 2:
            continue
        score = float(silhouette_score(distances, labels, metric="precomputed"))
        if score > best_score + 1e-9:
            best, best_score = k, score
    return best


def order_by_size(ids: np.ndarray, *, min_size: int) -> np.ndarray:
    """Ids renumbered by decreasing size (ties: the first member first); groups under `min_size` become the rest."""
    live = ids >= 0
    values, first, sizes = np.unique(ids[live], return_index=True, return_counts=True)
    order = sorted(range(len(values)), key=lambda i: (-sizes[i], first[i]))
    mapping = np.full(int(values.max()) + 1 if len(values) else 0, REST_ID, dtype=np.int64)
    rank = 0
    for i in order:
        if sizes[i] >= min_size:
            mapping[values[i]] = rank
            rank += 1
    result = np.full(ids.shape, REST_ID, dtype=np.int64)
    result[live] = mapping[ids[live]]
    return result


class ClusterNamer:
    """Names clusters by their members' words: c-TF-IDF keywords of their texts, or their central labels."""

    def __init__(
        self, matrix: np.ndarray, norms: np.ndarray, labels: Sequence[str], texts: Sequence[str] | None, seed: int
    ) -> None:
        self.matrix = matrix
        self.norms = norms
        self.labels = labels
        self.texts = texts
        self.seed = seed

    def names(self, ids: np.ndarray) -> tuple[str, ...]:
        count = int(ids.max()) + 1 if (ids >= 0).any() else 0
        members = [np.flatnonzero(ids == c) for c in range(count)]
        ranked = keyword_ranking(members, self.texts) if self.texts is not None else [[] for _ in members]
        ranked = [words or self.central_words(rows) for words, rows in zip(ranked, members, strict=True)]
        return unique_names(ranked)

    def central_words(self, rows: np.ndarray) -> list[str]:
        """The words of the members' labels, the members most similar to their mean first
        (of a seeded sample of CENTRAL_SAMPLE members, in a large cluster)."""
        if len(rows) > CENTRAL_SAMPLE:
            rows = np.sort(np.random.default_rng(self.seed).choice(rows, CENTRAL_SAMPLE, replace=False))
        unit = unit_rows(self.matrix, rows, self.norms)
        order = rows[np.argsort(-(unit @ unit.mean(axis=0)), kind="stable")]
        words: list[str] = []
        for row in order.tolist():
            for word in label_words(self.labels[row]):
                if word not in words:
                    words.append(word)
            if len(words) >= 4 * NAME_WORDS:
                break
        return words


def label_words(label: str) -> list[str]:
    """A label as name words: its word characters (`##ing` -> `ing`, `▁Paris` -> `Paris`), digits kept."""
    return re.findall(r"\w+", label, re.UNICODE)


def stop_words() -> frozenset[str]:
    """scikit-learn's English stop words ("the", "of", "returns" is not one)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


def keyword_ranking(members: Sequence[np.ndarray], texts: Sequence[str]) -> list[list[str]]:
    """Each cluster's words by c-TF-IDF, best first: a word's share of its cluster's words times
    log(1 + the mean words per cluster / the word's count in all clusters). Stop words and
    words that start with a digit are left out; ties go to the alphabetically first."""
    stops = stop_words()
    counts = []
    for rows in members:
        counter: Counter[str] = Counter()
        for row in rows.tolist():
            counter.update(w for w in (m.lower() for m in _KEYWORD.findall(texts[row])) if w not in stops)
        counts.append(counter)
    totals: Counter[str] = Counter()
    for counter in counts:
        totals.update(counter)
    mean_words = sum(totals.values()) / max(len(counts), 1)
    ranked = []
    for counter in counts:
        size = sum(counter.values())
        scored = sorted(
            counter,
            key=lambda w: (-(counter[w] / size) * float(np.log1p(mean_words / totals[w])), w),
        )
        ranked.append(scored[: 4 * NAME_WORDS])
    return ranked


def unique_names(ranked: Sequence[Sequence[str]]) -> tuple[str, ...]:
    """Names of NAME_WORDS words, made distinct by taking further words (or a number, at last)."""
    names: list[str] = []
    for index, words in enumerate(ranked):
        words = list(words) or ["cluster"]
        size = min(NAME_WORDS, len(words))
        name = " ".join(words[:size])
        while name in names and size < len(words):
            size += 1
            name = " ".join(words[:size])
        if name in names or name == REST:
            name = f"{name} {index + 1}"
        if is_js_number(name):  # a column of numbers would be coloured as a gradient, not by name
            name = f"{name} cluster"
        names.append(name)
    return tuple(names)


# The bookmark key that marks a cluster's bookmark, with the cluster's name; the projector ignores it.
CLUSTER_KEY = "cluster"


def cluster_bookmarks(
    clustering: Clustering | None, shape: tuple[int, ...], *, label_option: str | None = None
) -> list[dict[str, object]]:
    """One bookmark per named cluster: its members selected, the points coloured by Cluster, on PCA.

    It carries no coordinates: `loadState` (vz-projector.ts) keeps each point's projections
    where a bookmark has none, so the view stays the exact PCA the page set (or the projector's own).
    """
    if clustering is None:
        return []
    points, dimension = shape
    empty = Projection(PCA, np.zeros((0, COMPONENTS)), "")
    marks = []
    for index, (name, size) in enumerate(zip(clustering.names, clustering.sizes(), strict=True)):
        state = bookmark_state(empty, dimension, label_option=label_option, color_option=CLUSTER_HEADER)
        state.pop(EXACT_VIEW, None)
        state["label"] = f"Cluster: {name} ({size:,} points)"
        state["dataSetDimensions"] = [points, dimension]
        state["selectedPoints"] = np.flatnonzero(clustering.named == index).tolist()
        state[CLUSTER_KEY] = name
        marks.append(state)
    return marks


@dataclass(frozen=True)
class LegendEntry:
    name: str
    size: int
    bookmark: int  # its number in the tensor's bookmark list, from 1 (the page's #bookmark=N)


@dataclass(frozen=True)
class ClusterLegend:
    """The clusters of one tensor as the page lists them; the links open `tensor`."""

    tensor: str
    column: str
    entries: tuple[LegendEntry, ...]
    rest: int  # points in no named cluster
