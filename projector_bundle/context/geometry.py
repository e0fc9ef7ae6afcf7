"""The geometry of each layer's contextual vectors, after Ethayarajh (2019),
"How Contextual are Contextualized Word Representations?".

Pure numpy on the raw vectors (never spherized): cosine similarity is what the paper
measures, and centring first would remove the very anisotropy it reports. Every pair
mean is exact, from sums of unit vectors, so the cost is linear in the points.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

GEOMETRY_JSON = "layer_geometry.json"
PAPER = 'Ethayarajh (2019), "How Contextual are Contextualized Word Representations?"'
NO_WORDS = "n/a (no word occurs in two sentences)"
ONE_SENTENCE = "n/a (fewer than two sentences)"
NO_POINTS = "n/a (no points)"

# Decimals of the page's table and tooltips: enough to tell neighbouring layers apart at a glance;
# layer_geometry.json keeps full precision.
DECIMALS = 3


@dataclass(frozen=True)
class LayerGeometry:
    """The four measures of one layer, and what they were computed over; None where undefined."""

    layer: int
    points: int
    sentences: int
    words: int  # Token texts with occurrences in two or more sentences
    anisotropy: float | None  # None with fewer than two sentences
    self_similarity: float | None  # None when `words` is 0
    intra_sentence: float | None  # None without points
    mev: float | None  # None when `words` is 0

    @property
    def self_similarity_adjusted(self) -> float | None:
        return _minus(self.self_similarity, self.anisotropy)

    @property
    def intra_sentence_adjusted(self) -> float | None:
        return _minus(self.intra_sentence, self.anisotropy)


def _minus(value: float | None, baseline: float | None) -> float | None:
    return None if value is None or baseline is None else value - baseline


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Each row scaled to length 1, in float64; a zero row stays zero, so its cosine with anything is 0."""
    rows = np.asarray(matrix, dtype=np.float64)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)


def group_sums(rows: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row sums and sizes per group, for groups numbered 0..k-1 (every number present)."""
    order = np.argsort(groups, kind="stable")
    sizes = np.bincount(groups)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    return np.add.reduceat(rows[order], starts, axis=0), sizes


def _squares(rows: np.ndarray) -> np.ndarray:
    """Each row's squared length."""
    return np.einsum("ij,ij->i", rows, rows)


def explained_by_first(matrix: np.ndarray) -> float:
    """sigma_1^2 / sum sigma_i^2 of the uncentred matrix; 0 for an all-zero one (like its cosines)."""
    rows = np.asarray(matrix, dtype=np.float64)
    # The smaller Gram matrix has the squared singular values as eigenvalues, and is cheaper than an SVD.
    gram = rows @ rows.T if rows.shape[0] <= rows.shape[1] else rows.T @ rows
    total = float(np.trace(gram))
    if total <= 0:
        return 0.0
    return float(np.linalg.eigvalsh(gram)[-1] / total)


@dataclass(frozen=True)
class Groups:
    """The occurrences of a layer's rows, numbered: sentence and word (Token text) of each row."""

    sentences: np.ndarray  # 0..k-1 per row, every number present
    words: np.ndarray  # 0..w-1 per row, every number present


def group_occurrences(sentences: Sequence[int], tokens: Sequence[str]) -> Groups:
    """Number the sentences and the Token texts of the rows, in order of first appearance."""
    if len(sentences) != len(tokens):
        raise ValueError(f"{len(sentences)} sentence numbers but {len(tokens)} tokens")
    return Groups(_numbered(sentences), _numbered(tokens))


def _numbered(keys: Sequence[object]) -> np.ndarray:
    index: dict[object, int] = {}
    return np.fromiter((index.setdefault(key, len(index)) for key in keys), dtype=np.intp, count=len(keys))


# Rows turned into float64 at a time (whole sentences, so a block may run a little over):
# 16,384 x 768 x 8 bytes = 100 MB a copy, whatever the number of points.
BLOCK_ROWS = 16_384


def sentence_blocks(sentences: np.ndarray, block_rows: int = BLOCK_ROWS) -> Iterator[np.ndarray]:
    """Row indices in sentence order, in blocks of about `block_rows` that never split a sentence."""
    order = np.argsort(sentences, kind="stable")
    ordered = sentences[order]
    start, n = 0, len(order)
    while start < n:
        stop = min(start + block_rows, n)
        if stop < n:  # run on to the end of the sentence the block would cut
            stop = int(np.searchsorted(ordered, ordered[stop - 1], side="right"))
        yield order[start:stop]
        start = stop


def measure_layer(layer: int, matrix: np.ndarray, groups: Groups, block_rows: int = BLOCK_ROWS) -> LayerGeometry:
    """The four measures for one layer; row i of `matrix` is occurrence i of `groups`.

    One pass over blocks of whole sentences, with memory bounded by the block and the
    per-word sums. With u the unit rows, the sum of cosines over ordered pairs (i, j) from
    different sentences is |sum u|^2 minus, per sentence, |sum of that sentence's u|^2
    (the diagonal cancels), over n^2 minus the sum of n_s^2 pairs; per word the same
    with the word's rows. Every (word, sentence) group lies inside one block.
    """
    n = matrix.shape[0]
    if n != len(groups.sentences):
        raise ValueError(f"layer {layer}: {n} rows but {len(groups.sentences)} occurrences")
    if n == 0:
        return LayerGeometry(layer, 0, 0, 0, None, None, None, None)
    word_count = int(groups.words.max()) + 1
    word_sums = np.zeros((word_count, matrix.shape[1]))
    word_sizes = np.bincount(groups.words, minlength=word_count).astype(np.float64)
    word_within = np.zeros(word_count)  # per word: sum over sentences of |its sentence sum|^2
    word_within_pairs = np.zeros(word_count)  # per word: sum over sentences of n_ws^2
    all_sum = np.zeros(matrix.shape[1])
    all_within = all_within_pairs = intra_total = 0.0
    for rows in sentence_blocks(groups.sentences, block_rows):
        raw = np.asarray(matrix[rows], dtype=np.float64)
        units = unit_rows(raw)
        _, sentence = np.unique(groups.sentences[rows], return_inverse=True)
        sentence_units, sentence_sizes = group_sums(units, sentence)
        all_sum += units.sum(axis=0)
        all_within += float(_squares(sentence_units).sum())
        all_within_pairs += float((sentence_sizes.astype(np.float64) ** 2).sum())
        # cos(x_i, mean) = u_i . mean / |mean|; the mean's direction is that of the raw sum.
        directions = unit_rows(group_sums(raw, sentence)[0])
        cosines = np.einsum("ij,ij->i", units, directions[sentence])
        intra_total += float((np.bincount(sentence, weights=cosines) / sentence_sizes).sum())
        del raw, directions, cosines
        words, word = np.unique(groups.words[rows], return_inverse=True)
        word_sums[words] += group_sums(units, word)[0]
        pairs, pair = np.unique(np.stack([word, sentence], axis=1), axis=0, return_inverse=True)
        pair_sums, pair_sizes = group_sums(units, pair.reshape(-1))
        owner = words[pairs[:, 0]]
        word_within += np.bincount(owner, weights=_squares(pair_sums), minlength=word_count)
        word_within_pairs += np.bincount(owner, weights=pair_sizes.astype(np.float64) ** 2, minlength=word_count)
    sentences = int(groups.sentences.max()) + 1
    all_pairs = float(n) ** 2 - all_within_pairs
    anisotropy = (float(all_sum @ all_sum) - all_within) / all_pairs if all_pairs > 0 else None
    cross_pairs = word_sizes**2 - word_within_pairs
    qualified = np.flatnonzero(cross_pairs > 0)
    per_word = (_squares(word_sums) - word_within)[qualified] / cross_pairs[qualified]
    return LayerGeometry(
        layer=layer,
        points=n,
        sentences=sentences,
        words=len(qualified),
        anisotropy=anisotropy,
        self_similarity=float(per_word.mean()) if len(qualified) else None,
        intra_sentence=intra_total / sentences,
        mev=mean_explained_by_first(matrix, groups.words, qualified) if len(qualified) else None,
    )


def mean_explained_by_first(matrix: np.ndarray, words: np.ndarray, chosen: np.ndarray) -> float:
    """The mean of `explained_by_first` over the occurrence matrices of the `chosen` words."""
    order = np.argsort(words, kind="stable")
    sizes = np.bincount(words)
    starts = np.cumsum(sizes) - sizes
    return float(np.mean([explained_by_first(matrix[order[starts[w] : starts[w] + sizes[w]]]) for w in chosen]))


def measure_layers(
    layers: Mapping[int, np.ndarray], sentences: Sequence[int], tokens: Sequence[str]
) -> list[LayerGeometry]:
    """`measure_layer` for each layer, in the order given; every matrix has the same occurrences as rows."""
    groups = group_occurrences(sentences, tokens)
    return [measure_layer(layer, matrix, groups) for layer, matrix in layers.items()]


# Keys of layer_geometry.json (LayerGeometry attributes), with what each value means.
MEASURES = {
    "anisotropy": "mean cosine over all pairs of points from different sentences",
    "self_similarity": "per word in two or more sentences, mean cosine over pairs of its occurrences "
    "from different sentences; unweighted mean over those words",
    "self_similarity_adjusted": "self_similarity minus anisotropy",
    "intra_sentence": "mean over sentences of the mean cosine between each token and the sentence's mean vector",
    "intra_sentence_adjusted": "intra_sentence minus anisotropy",
    "mev": "per word in two or more sentences, the share of the variance of its uncentred occurrence "
    "matrix (all its occurrences) on the first singular vector (sigma_1^2 / sum sigma^2); mean over those words",
}


def layer_record(result: LayerGeometry) -> dict[str, object]:
    """One layer as JSON: counts, then every measure (null where undefined)."""
    counts = {"layer": result.layer, "points": result.points, "sentences": result.sentences, "words": result.words}
    return counts | {key: getattr(result, key) for key in MEASURES}


def geometry_document(per_model: Mapping[str, Sequence[LayerGeometry]]) -> dict[str, object]:
    """The JSON-able contents of `layer_geometry.json`: per model prefix, one record per layer."""
    return {
        "source": PAPER,
        "vectors": "raw hidden states, neither centred nor normalised; a zero vector has cosine 0 with everything",
        "words": "Token texts with occurrences in two or more different sentences",
        "measures": MEASURES,
        "models": [
            {"model": model, "layers": [layer_record(r) for r in results]} for model, results in per_model.items()
        ],
    }


def missing_reason(result: LayerGeometry, key: str) -> str:
    """Why a measure of `result` is undefined, in the words the page shows."""
    if result.points == 0:
        return NO_POINTS
    if key in ("self_similarity", "mev") or (key == "self_similarity_adjusted" and result.words == 0):
        return NO_WORDS
    return ONE_SENTENCE


def format_value(result: LayerGeometry, key: str) -> str:
    """A table cell: the value to `DECIMALS` places, or why there is none."""
    value = getattr(result, key)
    return missing_reason(result, key) if value is None else f"{value:.{DECIMALS}f}"


# --- the page: a table and one small line chart per measure, drawn at export time ---

# Table columns: heading and LayerGeometry attribute.
TABLE_COLUMNS = (
    ("Layer", "layer"),
    ("Points", "points"),
    ("Sentences", "sentences"),
    ("Words", "words"),
    ("Anisotropy", "anisotropy"),
    ("Self-similarity", "self_similarity"),
    ("adjusted", "self_similarity_adjusted"),
    ("Intra-sentence", "intra_sentence"),
    ("adjusted", "intra_sentence_adjusted"),
    ("MEV", "mev"),
)
COUNT_COLUMNS = ("layer", "points", "sentences", "words")

# One chart per measure: title and series (attribute, legend); an adjusted value is drawn dashed.
CHARTS = (
    ("Anisotropy", (("anisotropy", "anisotropy"),)),
    ("Self-similarity", (("self_similarity", "raw"), ("self_similarity_adjusted", "minus anisotropy"))),
    ("Intra-sentence similarity", (("intra_sentence", "raw"), ("intra_sentence_adjusted", "minus anisotropy"))),
    ("MEV (static-embedding variance)", (("mev", "MEV"),)),
)

# Chart geometry in SVG user units: the plot box inside the margins.
CHART_WIDTH, CHART_HEIGHT = 240, 150
PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 34, 230, 8, 128
Y_STEP = 0.1  # the y range is widened to multiples of this, and always includes 0


@dataclass(frozen=True)
class Tick:
    at: float  # SVG coordinate along the axis
    label: str


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    title: str  # the value, shown as the browser's tooltip


@dataclass(frozen=True)
class Series:
    legend: str
    points: str  # an SVG `points` list: numbers only, so autoescaping never alters it
    dots: tuple[Dot, ...]
    dashed: bool


@dataclass(frozen=True)
class Chart:
    """One measure across the layers, as the template draws it; `missing` replaces an empty chart."""

    title: str
    series: tuple[Series, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    missing: str | None
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT
    left: int = PLOT_LEFT
    right: int = PLOT_RIGHT
    top: int = PLOT_TOP
    bottom: int = PLOT_BOTTOM

    @property
    def y_labels_x(self) -> int:
        return self.left - 4

    @property
    def x_labels_y(self) -> int:
        return self.bottom + 12


@dataclass(frozen=True)
class GeometryView:
    """What `templates/geometry.html.j2` shows for one model: table cells and charts, all as text."""

    model: str
    headings: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    charts: tuple[Chart, ...]


def geometry_views(per_model: Mapping[str, Sequence[LayerGeometry]]) -> list[GeometryView]:
    """The page's geometry section: per model, the table and the charts."""
    return [
        GeometryView(
            model=model,
            headings=tuple(heading for heading, _ in TABLE_COLUMNS),
            rows=tuple(tuple(table_cell(r, key) for _, key in TABLE_COLUMNS) for r in results),
            charts=tuple(measure_chart(results, title, series) for title, series in CHARTS),
        )
        for model, results in per_model.items()
    ]


def table_cell(result: LayerGeometry, key: str) -> str:
    return f"{getattr(result, key):,}" if key in COUNT_COLUMNS else format_value(result, key)


def measure_chart(results: Sequence[LayerGeometry], title: str, series: Sequence[tuple[str, str]]) -> Chart:
    """A line chart of the measures `series` against the layer number; undefined values are left out."""
    layers = [r.layer for r in results]
    values = [v for key, _ in series for r in results if (v := getattr(r, key)) is not None]
    if not values:
        reasons = [missing_reason(r, series[0][0]) for r in results] or [NO_POINTS]
        return Chart(title, (), (), (), reasons[0])
    # Rounded before floor and ceil, or 0.7 / 0.1 = 7.000000000000001 would widen the axis to 0.8.
    low = min(0.0, math.floor(round(min(values) / Y_STEP, 6)) * Y_STEP)
    high = max(low + Y_STEP, math.ceil(round(max(values) / Y_STEP, 6)) * Y_STEP)
    first, last = min(layers), max(layers)

    def x_at(layer: int) -> float:
        if first == last:
            return (PLOT_LEFT + PLOT_RIGHT) / 2
        return PLOT_LEFT + (layer - first) / (last - first) * (PLOT_RIGHT - PLOT_LEFT)

    def y_at(value: float) -> float:
        return PLOT_BOTTOM - (value - low) / (high - low) * (PLOT_BOTTOM - PLOT_TOP)

    lines = []
    for index, (key, legend) in enumerate(series):
        defined = [(r.layer, v) for r in results if (v := getattr(r, key)) is not None]
        dots = tuple(Dot(round(x_at(x), 1), round(y_at(v), 1), f"layer {x}: {v:.{DECIMALS}f}") for x, v in defined)
        lines.append(Series(legend, " ".join(f"{d.x},{d.y}" for d in dots), dots, dashed=index > 0))
    y_labels = sorted({low, high} | ({0.0} if low < 0 < high else set()))
    return Chart(
        title=title,
        series=tuple(lines),
        x_ticks=tuple(Tick(round(x_at(layer), 1), str(layer)) for layer in dict.fromkeys(layers)),
        y_ticks=tuple(Tick(round(y_at(v), 1), f"{v:.1f}") for v in y_labels),
        missing=None,
    )
