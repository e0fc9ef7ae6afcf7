"""The bundle pipeline, top to bottom as the data flows:

    read the user's own texts and vectors -> resolve the models -> read their matrices and
    vocabularies (and run them over the texts and sentences) -> label -> project -> render
    the page -> write the files and swap them in.

`build_bundle` takes one `BundleOptions`, built once by the caller (the CLI), and returns
a `BundleResult` for the caller to report. Progress goes to the `Progress` it is given;
warnings, which survive --quiet, go to the one `warn` callback as they arise (advice about
a bundle too heavy for a page comes before a write that may take minutes). Each step
returns what it made and its warnings; `build_bundle` alone passes them on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from projector_bundle import ExportError, UsageError, __version__
from projector_bundle.context.corpus import check_max_points
from projector_bundle.context.geometry import (
    GEOMETRY_JSON,
    LayerGeometry,
    geometry_document,
    geometry_views,
    measure_layers,
)
from projector_bundle.context.layers import expand_layers
from projector_bundle.context.sentences import STDIN
from projector_bundle.context.trajectories import build_paths
from projector_bundle.inputs.tables import TEXT_COLUMN, RawTable
from projector_bundle.inputs.vectors import EmbeddingInput, split_spec
from projector_bundle.output.publish import git_size_note, projector_link, size_warning
from projector_bundle.output.writers import EXACT, TsvDigits
from projector_bundle.points.clusters import (
    CLUSTER_HEADER,
    CLUSTER_KEY,
    MIN_POINTS,
    NONE,
    Clustering,
    ClusterLegend,
    LegendEntry,
    check_clusters,
    cluster_bookmarks,
)
from projector_bundle.points.compare import (
    ALIGNED,
    BundleComparison,
    ComparisonView,
    Frame,
    Layout,
    TrustView,
    add_comparison,
    add_trust,
    calibrate_rate,
    compare_tensors,
    comparison_groups,
    comparison_view,
    layout_frame,
    search_work,
)
from projector_bundle.points.labels import DEFAULT_LABELS, needed_columns, select_columns, word
from projector_bundle.points.neighbors import check_neighbor_count, check_neighbors
from projector_bundle.points.projections import (
    FRAME,
    PCA,
    UMAP,
    Projection,
    bookmark_state,
    check_dims,
    compute_projections,
    umap_available,
)
from projector_bundle.points.reductions import PlannedFile, check_sample, planned_sizes, sample_rows, size_advice
from projector_bundle.points.tensors import (
    POSITION,
    TENSOR_KINDS,
    TENSOR_SUFFIXES,
    TYPE,
    WORD,
    Tensor,
    TensorData,
    add_clusters,
    add_neighbors,
    assign_files,
    check_finite,
    contextual_tensors,
    default_clusters,
    is_paths,
    model_prefixes,
    own_tensor,
    reduce_tensor,
    sample_tensor,
    table_tensor,
    word_tensor,
)
from projector_bundle.progress import SILENT, Progress, warn_on_stderr
from projector_bundle.projector.colouring import ensure_colourable
from projector_bundle.projector.firstview import add_first_view
from projector_bundle.projector.formats import DEFAULT_OUT, MIB
from projector_bundle.text import plural

# Why each option needs --sentences, by flag.
NEEDS_SENTENCES = {
    "--layer": "layers are read from running the model",
    "--trajectories": "the paths run through the layers of the sentences' tokens",
    "--words": "it picks points among the sentences' tokens",
    "--max-points": "it picks points among the sentences' tokens",
    "--keep-special": "it keeps the [CLS]/[SEP] points of the sentences' tokens",
}
# The tensor of each model's vectors of --texts: `<model>/texts`.
TEXTS_SUFFIX = "texts"

if TYPE_CHECKING:
    from transformers import PreTrainedModel

    from projector_bundle.context.contextual import ContextualEmbeddings
    from projector_bundle.context.sentences import Corpus
    from projector_bundle.context.textvectors import TextVectors
    from projector_bundle.inputs.texts import Texts
    from projector_bundle.models.loader import ModelRef, WordEmbeddings
    from projector_bundle.models.vocabulary import Token


@dataclass(frozen=True)
class BundleOptions:
    """What to export and how; the defaults are `export.py bundle` without flags."""

    out: Path = DEFAULT_OUT
    models: tuple[str | None, ...] = (None,)  # hub ids or folders; None is the packaged default
    limit: int | None = None  # first N vocabulary rows
    sample: int | None = None  # a seeded uniform sample of N points per tensor
    seed: int = 0  # the seed of --sample and --max-points
    dims: int | None = None  # an exact PCA of every wider tensor to N dimensions (after the neighbours)
    labels: tuple[str, ...] = DEFAULT_LABELS  # label column keys, in order
    tensors: tuple[str, ...] = (WORD,)  # TENSOR_KINDS per model
    sentences: str | None = None  # a file of sentences (or "-") for contextual tensors
    layers: tuple[int | str, ...] = ()  # hidden layers for the sentences ("all" is every one); () is the last
    keep_special: bool = False  # keep [CLS]/[SEP] points of the sentences
    words: tuple[str, ...] = ()  # keep only these words of the sentences, one point per word
    max_points: int | None = None  # a seeded sample of the sentences' points (per word with words)
    trajectories: bool = False  # add the paths tensor through the layers of the sentences
    projections: tuple[str, ...] = (PCA,)  # full-data projections shipped as bookmarks
    neighbors: int | None = None  # a column with each point's K nearest points
    clusters: str | int | None = None  # auto, none or a count per tensor; None is each tensor kind's default
    compare: int | None = None  # compare the spaces over the same items, on each item's K nearest neighbours
    base_url: str | None = None  # where the bundle will be served (adds the remote config)
    tsv: TsvDigits | None = EXACT  # the vectors TSV: EXACT, N significant digits, or None (the .bytes only)
    # Warn about larger files (MiB), for a site/ committed to git; None: a note about GitHub's limit only.
    max_file_mb: float | None = None
    force: bool = False  # replace a non-empty folder this tool did not write
    first_view: bool = False  # put the first tensor's exact 3-D PCA coordinates first, as a light tensor
    command: str = "export.py bundle"  # how the bundle was made, as shown on the page and in the manifest
    created: str | None = None  # ISO 8601 UTC build time; None is now
    verbose: bool = False  # let transformers and the hub client print their load reports and notices
    # The user's own data (`inputs/`): with any of these, `tensors` is usually () (no word table).
    texts: str | None = None  # a table of texts (or "-") embedded by each model: `<model>/texts`, first
    text_column: str = TEXT_COLUMN  # the column of `texts` that holds the text
    pooling: str | None = None  # how token states become a text's vector; None is the model's own
    vectors: str | None = None  # a file of vectors the user has (`file.npz:name`), no model needed
    metadata: str | None = None  # the metadata columns of `vectors`
    embeddings: tuple[EmbeddingInput, ...] = ()  # matrices handed in from Python, with their metadata
    text_table: RawTable | None = None  # texts handed in from Python (`from_texts`), in place of a `texts` file

    def input_paths(self) -> tuple[tuple[str, Path], ...]:
        """The local files and folders the run reads, by flag: --out may be none of them,
        nor hold nor lie inside one (a hub id or stdin is no path)."""
        models = [("--model", Path(m)) for m in self.models if m is not None and Path(m).expanduser().exists()]
        sentences = [("--sentences", Path(self.sentences))] if self.sentences and self.sentences != STDIN else []
        own = [("--texts", self.texts)] if self.texts and self.texts != STDIN else []
        own += [("--vectors", split_spec(self.vectors)[0])] if self.vectors else []
        own += [("--metadata", self.metadata)] if self.metadata else []
        return (*models, *sentences, *((flag, Path(file)) for flag, file in own))


@dataclass(frozen=True)
class BundleResult:
    """What the export wrote, and what the user should know about it."""

    out: Path
    tensors: tuple[tuple[str, int, int], ...]  # (name, points, dimensions)
    sizes: dict[str, int]  # file name -> bytes

    @property
    def points(self) -> int:
        return sum(points for _, points, _ in self.tensors)


@dataclass
class ModelData:
    """What was read from one model: its word table and vocabulary, other tables, contextual layers."""

    words: WordEmbeddings | None = None
    tables: dict[str, np.ndarray] = field(default_factory=dict)
    first_position: int = 0  # the position table's row of position 0 (2 in RoBERTa)
    context: ContextualEmbeddings | None = None
    texts: TextVectors | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Cut:
    """A reduction step's tensors, how it cut each (by name, for the manifest), and its warnings."""

    tensors: list[TensorData]
    how: dict[str, dict[str, object]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    kept: dict[str, np.ndarray] = field(default_factory=dict)  # the rows a sample kept, by tensor name


def build_bundle(
    options: BundleOptions, progress: Progress = SILENT, warn: Callable[[str], None] = warn_on_stderr
) -> BundleResult:
    """Export the bundle `options` describe into `options.out`; each warning goes to `warn`
    when it arises (on stderr by default; `list.append` collects them)."""
    from projector_bundle.context.sentences import Corpus
    from projector_bundle.models.loader import resolve_model
    from projector_bundle.output.bundle import write_bundle
    from projector_bundle.output.manifest import Provenance, utc_time
    from projector_bundle.output.swap import check_target
    from projector_bundle.projector.page import describe_page, render_page

    check_options(options)
    # Before loading a model that may be large.
    check_target(options.out, force=options.force, inputs=options.input_paths())
    # The user's files are read before any model loads, so a bad one fails at once.
    texts = read_own_texts(options, progress)
    if texts is not None:
        for message in texts.warnings():
            warn(message)
    own = read_own_vectors(options, progress)
    # Read lazily, once per model; its first sentence now, so a bad file fails before any model loads.
    corpus = Corpus(options.sentences, passes=len(options.models)) if options.sentences else None

    refs = []
    if uses_models(options):
        progress(f"resolving {plural(len(options.models), 'model')}")
        refs = [resolve_model(name, verbose=options.verbose, bars=progress.bars) for name in options.models]

    embedded: list[TensorData] = []  # the texts, first in the menu
    data: list[TensorData] = []
    geometry: dict[str, list[LayerGeometry]] = {}
    keys: dict[str, list[str | None]] = {}  # a word table's tokens, row by row, to match models by
    prefixes = model_prefixes([r.public_name for r in refs])
    for ref, prefix in zip(refs, prefixes, strict=True):
        read = read_model(ref, options, corpus, texts, progress)
        for message in read.warnings:
            warn(message)
        if read.texts is not None and texts is not None:
            embedded += text_tensors(prefix, read.texts, texts)
        data += label_model(prefix, read, options, progress)
        if read.words is not None:
            keys[f"{prefix}/{TENSOR_SUFFIXES[WORD]}"] = token_keys(read.words.tokens)
        if read.context is not None:
            progress(f"measuring the geometry of {plural(len(read.context.layers), 'layer')} of {ref.name}")
            geometry[prefix] = measure_context(read.context)
    data = [own_tensor(e.name, e.matrix, e.metadata) for e in own] + data
    if not data and not embedded:
        raise UsageError("nothing to export: --tensors none, and no --texts, --vectors or --sentences")
    sampled = Cut(data)
    if options.sample is not None and data:  # the texts were sampled before they were embedded
        sampled = sample_tables(options.sample, options.seed, data, progress, first=not embedded)
    for message in sampled.warnings:
        warn(message)
    keys = {name: follow_rows(tokens, sampled.kept.get(name)) for name, tokens in keys.items()}
    how = dict(sampled.how)
    if texts is not None and options.sample is not None:
        how |= {t.name: {"sample": {"points": texts.rows_read, "seed": options.seed}} for t in embedded}
    sampled = Cut(embedded + sampled.tensors, how, kept=sampled.kept)
    data = [check_finite(t) for t in sampled.tensors]
    # In the model's full space: before --dims and the projections.
    clustered = cluster_tables(options, data, progress)
    data, clusterings = clustered.tensors, clustered.clusterings
    for message in clustered.warnings:
        warn(message)
    if options.dims is not None:
        check_dims(options.dims, data[0].matrix.shape[1])  # before the neighbours' search
    if options.neighbors:
        for message in check_neighbor_tables(options.neighbors, data):
            warn(message)
        progress(f"finding {options.neighbors} nearest neighbours of every point")
        data = [add_neighbors(t, options.neighbors, progress.bar) for t in data]
    compared = None
    if options.compare is not None:
        compared = compare_spaces(options.compare, data, prefixes, keys, progress)
        data = [with_comparison(t, compared) for t in data]
    # After the neighbours, which are found in the model's own space.
    narrowed = Cut(data) if options.dims is None else reduce_tables(options.dims, data, progress)
    data = narrowed.tensors
    # How each tensor was cut, for the manifest.
    cut = sampled.how.keys() | narrowed.how.keys()
    reduced = {name: {**sampled.how.get(name, {}), **narrowed.how.get(name, {})} for name in cut}

    advice = advise_sizes(assign_files(data, [() for _ in data]), options)
    for message in advice.values():
        warn(message)
    if options.projections:
        progress(f"computing {', '.join(options.projections)} of every tensor")
    # The bookmarks are the exact projections of the vectors shipped, as the projector sees them.
    fits = compared.fits if compared is not None else {}  # the compared spaces' PCA, fitted already
    projections = [compute_projections(t.matrix, options.projections, fit=fits.get(t.name)) for t in data]
    layouts = [[Layout(p.kind.upper(), p.coords, None) for p in shown] for shown in projections]
    trust: list[TrustView] = []
    if compared is not None:
        layouts, projections = aligned_layouts(compared, data, layouts, projections)
        progress(f"measuring how far each layout keeps each point's {compared.k} nearest neighbours")
        data, trust = trusted(compared, data, layouts)
    marks = [
        [
            *bookmarks(t, p, [s.frame for s in shown]),
            *cluster_bookmarks(clusterings.get(t.name), t.matrix.shape, label_option=t.label_by),
        ]
        for t, p, shown in zip(data, projections, layouts, strict=True)
    ]
    tensors = assign_files(data, marks)
    tensors = carry_extras(tensors, own)
    if options.first_view:
        tensors = add_first_view(tensors, projections[0])
    light = len(tensors) > len(data)  # nothing is added where the first tensor has 3 dimensions or no PCA
    if light and data[0].name in clusterings:
        # The light view shows the same points: the same cluster bookmarks, after its own.
        tensors[0] = replace(
            tensors[0],
            bookmarks=(
                *tensors[0].bookmarks,
                *cluster_bookmarks(clusterings[data[0].name], tensors[0].matrix.shape, label_option=data[0].label_by),
            ),
        )

    page = describe_page(
        refs,
        [e.name for e in own],
        tensors,
        command=options.command,
        created=options.created or utc_time(),
        projector_link=None if options.base_url is None else projector_link(options.base_url),
        geometry=geometry_views(geometry),
        first_view=light,
        clusters=cluster_legends(tensors, clusterings),
        comparison=comparison_views(compared, data) if compared is not None else (),
        trust=tuple(trust),
    )
    html = render_page(page)

    progress(f"writing {options.out}")
    if options.tsv == EXACT:
        from projector_bundle.output.tsvfloat import build_problem

        slow = build_problem()
        if slow is not None:
            progress(f"formatting the vectors TSV in Python (the same values, longer text, slower): {slow}")
    revision = refs[0].revision if len(refs) == 1 else None
    provenance = Provenance(__version__, page.model_name, revision, options.command, page.created)
    written = write_bundle(
        options.out,
        tensors,
        html,
        provenance,
        tsv=options.tsv,
        base_url=options.base_url,
        force=options.force,
        progress=progress.bar,
        extra_json={GEOMETRY_JSON: geometry_document(geometry)} if geometry else {},
        reduced=reduced,
    )
    for problem in written.warnings:
        warn(problem.message)
    vector_tsvs = {t.files.tsv for t in tensors}
    # The tensors' own files were advised about before writing; this is for the others (the page, the projector).
    advised = {name for t in tensors if t.name in advice for name in (t.files.bytes, t.files.tsv, t.files.metadata)}
    others = {name: size for name, size in written.sizes.items() if name not in advised}
    if options.max_file_mb is not None:
        oversize = size_warning(others, options.max_file_mb, vector_tsvs)
        if oversize:
            warn(oversize)
    else:
        note = git_size_note(written.sizes)
        if note:
            progress(note)
    summary = tuple((t.name, *t.matrix.shape) for t in tensors)
    return BundleResult(options.out, summary, written.sizes)


def check_options(options: BundleOptions) -> None:
    """Every rule between options, checked once, before any slow step: the CLI has no checks
    of its own, so a mistake reads the same from `export.py` (exit 2) as from `build_bundle`."""
    unknown = [k for k in options.tensors if k not in TENSOR_KINDS]
    if unknown:
        raise UsageError(f"--tensors {unknown[0]}: unknown; choose from {', '.join(TENSOR_KINDS)}")
    given = {
        "--layer": options.layers,
        "--trajectories": options.trajectories,
        "--words": options.words,
        "--max-points": options.max_points is not None,
        "--keep-special": options.keep_special,
    }
    texts = options.texts or options.text_table is not None  # a file, or a list handed in (`from_texts`)
    if texts:  # a --layer picks the hidden state the texts are pooled from too
        del given["--layer"]
    needs = next((flag for flag, value in given.items() if value), None)
    if needs is not None and not options.sentences:
        raise UsageError(f"{needs} needs --sentences ({NEEDS_SENTENCES[needs]})")
    given = {"--text-column": options.text_column != TEXT_COLUMN, "--pooling": options.pooling is not None}
    needs = next((flag for flag, value in given.items() if value), None)
    if needs is not None and not texts:
        raise UsageError(f"{needs} needs --texts (it says how the texts are read or embedded)")
    logged = next((e.name for e in options.embeddings if e.bookmarks or e.sprite is not None), None)
    if options.sample is not None and logged is not None:
        raise UsageError(f"--sample: tensor {logged} has a sprite or bookmarks, which number its points; keep it whole")
    if options.metadata is not None and options.vectors is None:
        raise UsageError("--metadata needs --vectors (it gives the columns of those vectors)")
    if options.max_points is not None:
        check_max_points(options.max_points)
    if options.neighbors is not None:
        check_neighbor_count(options.neighbors)
    if options.clusters is not None:
        check_clusters(options.clusters)
    if options.first_view and PCA not in options.projections:
        raise UsageError("--first-view light: needs the PCA bookmark (--projections pca)")
    if UMAP in options.projections and not umap_available():  # not a usage mistake: exit 1
        raise ExportError("--projections umap: needs the umap-learn package (pip install umap-learn)")
    if options.compare is not None:
        check_compare(options)


def check_compare(options: BundleOptions) -> None:
    """`--compare` needs two spaces or more, a K the neighbour search takes, and the full vectors."""
    check_neighbor_count(options.compare or 0, "--compare")
    if options.dims is not None:
        raise UsageError(
            f"--compare: not with --dims {options.dims} (the aligned views are the full vectors' projections)"
        )
    several_layers = bool(options.sentences or options.texts) and (len(options.layers) > 1 or "all" in options.layers)
    if len(options.models) < 2 and not several_layers:
        raise UsageError(NOTHING_TO_COMPARE)


def follow_rows(values: list[str | None], rows: np.ndarray | None) -> list[str | None]:
    """A tensor's per-row `values` after a cut that kept `rows` (all of them where None)."""
    return values if rows is None else [values[i] for i in rows.tolist()]


def sample_tables(count: int, seed: int, data: Sequence[TensorData], progress: Progress, *, first: bool = True) -> Cut:
    """`--sample`: the same seeded rows of every tensor with more than `count` points. The first
    tensor (the one the user asked about, unless `first` is False: the texts, sampled before
    they were embedded) must have more; smaller ones and paths stay whole."""
    if first:
        check_sample(count, data[0].matrix.shape[0])
    sampled = []
    how: dict[str, dict[str, object]] = {}
    kept: dict[str, np.ndarray] = {}
    warnings = []
    for t in data:
        points = t.matrix.shape[0]
        if points <= count or is_paths(t):
            why = "its rows are paths through the layers" if is_paths(t) else f"it has only {points:,} points"
            if t is not data[0] or not first:
                warnings.append(f"--sample {count}: tensor {t.name} is kept whole ({why})")
            sampled.append(t)
            continue
        progress(f"sampling {count:,} of the {points:,} points of {t.name} (seed {seed})")
        rows = sample_rows(points, count, seed)
        sampled.append(sample_tensor(t, rows))
        kept[t.name] = rows
        how[t.name] = {"sample": {"points": points, "seed": seed}}
    return Cut(sampled, how, tuple(warnings), kept)


def reduce_tables(dims: int, data: Sequence[TensorData], progress: Progress) -> Cut:
    """`--dims`: every tensor wider than `dims` on its top principal axes; the share of variance
    kept goes to the progress lines and to the manifest."""
    out = []
    how: dict[str, dict[str, object]] = {}
    for t in data:
        dimension = t.matrix.shape[1]
        if dimension <= dims:
            out.append(t)
            continue
        t, kept = reduce_tensor(t, dims)
        progress(f"--dims {dims}: {t.name} keeps {kept:.1%} of its variance in {dims} of {dimension} dimensions")
        how[t.name] = {"dims": {"dimension": dimension, "variance_kept": round(kept, 6)}}
        out.append(t)
    return Cut(out, how)


def advise_sizes(tensors: Sequence[Tensor], options: BundleOptions) -> dict[str, str]:
    """Before writing: each tensor too heavy for a page (points, or a file over --max-file-mb),
    with only the reductions that fix it, by tensor name. File sizes are estimated from
    rows spread over each tensor, formatted as the writers would."""
    from projector_bundle.output.writers import estimate_metadata_bytes, estimate_tsv_bytes_per_value

    limit = None if options.max_file_mb is None else int(options.max_file_mb * MIB)
    advice = {}
    for t in tensors:
        points, dim = t.matrix.shape
        per_value = None if options.tsv is None else estimate_tsv_bytes_per_value(t.matrix, options.tsv)
        sizes = planned_sizes(points, dim, tsv_bytes_per_value=per_value)
        files = [PlannedFile(t.files.bytes, sizes["bytes"], "bytes")]
        if "tsv" in sizes:
            files.append(PlannedFile(t.files.tsv, sizes["tsv"], "tsv"))
        files.append(PlannedFile(t.files.metadata, estimate_metadata_bytes(t.header, t.rows), "metadata"))
        found = size_advice(points, dim, files, limit)
        if found is not None:
            advice[t.name] = found.message(t.name)
    return advice


def check_neighbor_tables(k: int, data: Sequence[TensorData]) -> list[str]:
    """K must be below the first tensor's points (the one the user asked about); a smaller
    table (two token types, say) lists all its other points: the warnings say which."""
    check_neighbors(k, data[0].matrix.shape[0], data[0].name)
    return [
        f"--neighbors {k}: tensor {t.name} has {t.matrix.shape[0]:,} points; "
        f"its column lists the other {t.matrix.shape[0] - 1:,}"
        for t in data[1:]
        if k >= t.matrix.shape[0]
    ]


def uses_models(options: BundleOptions) -> bool:
    """Whether any model must be resolved: for its tables, for texts or for sentences (not for vectors alone)."""
    return bool(options.tensors or options.texts or options.text_table or options.sentences)


def read_own_texts(options: BundleOptions, progress: Progress) -> Texts | None:
    """`--texts`: read whole before any model loads, empty ones skipped, `--sample` drawn."""
    from projector_bundle.inputs.texts import read_texts, select_texts

    if options.text_table is not None:
        texts = select_texts(options.text_table, options.text_column, sample=options.sample, seed=options.seed)
    elif options.texts is not None:
        progress(f"reading the texts of {options.texts}")
        texts = read_texts(options.texts, options.text_column, sample=options.sample, seed=options.seed)
    else:
        return None
    if options.sample is not None:
        progress(f"sampled {len(texts.texts):,} of the {texts.rows_read:,} texts (seed {options.seed})")
    return texts


def read_own_vectors(options: BundleOptions, progress: Progress) -> list[EmbeddingInput]:
    """`--vectors` (with `--metadata`) and the matrices handed in, in that order."""
    from projector_bundle.inputs.vectors import read_vectors

    own = []
    if options.vectors is not None:
        progress(f"reading the vectors of {options.vectors}")
        own.append(read_vectors(options.vectors, options.metadata))
    return own + list(options.embeddings)


@dataclass(frozen=True)
class Clustered:
    """What `--clusters` made: the tensors (with their Cluster columns), each clustering by
    tensor name, and the warnings about tensors left without one."""

    tensors: list[TensorData]
    clusterings: dict[str, Clustering]
    warnings: tuple[str, ...] = ()


def cluster_tables(options: BundleOptions, data: Sequence[TensorData], progress: Progress) -> Clustered:
    """`--clusters`: a Cluster column on each tensor it applies to. A tensor too small to
    cluster keeps its columns, with a warning where --clusters asked for it."""
    out, clusterings, warnings = [], {}, []
    for t in data:
        count = options.clusters if options.clusters is not None else default_clusters(t)
        if count == NONE or is_paths(t):
            out.append(t)
            continue
        points = t.matrix.shape[0]
        progress(f"clustering the {points:,} points of {t.name} ({count})")
        clustered, clustering = add_clusters(t, count, options.seed)
        if clustering is not None:
            clusterings[t.name] = clustering
            sizes = ", ".join(f"{n} ({s:,})" for n, s in zip(clustering.names, clustering.sizes(), strict=True))
            progress(f"{t.name}: {len(clustering.names)} clusters: {sizes}")
        elif options.clusters is not None:
            warnings.append(
                f"--clusters {count}: tensor {t.name} has {points:,} points, too few to cluster "
                f"(at least {MIN_POINTS}); it gets no Cluster column"
            )
        out.append(clustered)
    return Clustered(out, clusterings, tuple(warnings))


def cluster_legends(tensors: Sequence[Tensor], clusterings: dict[str, Clustering]) -> tuple[ClusterLegend, ...]:
    """The page's list of each clustered tensor's clusters, linked to their bookmarks in the first
    tensor that carries them (the light first view, where there is one)."""
    legends = []
    by_name = {t.name: t for t in tensors}
    for name, clustering in clusterings.items():
        metadata = by_name[name].files.metadata
        shown = next(t for t in tensors if t.files.metadata == metadata)  # the light view shares the full one's
        numbers = {m.get(CLUSTER_KEY): i + 1 for i, m in enumerate(shown.bookmarks) if CLUSTER_KEY in m}
        entries = tuple(
            LegendEntry(n, size, numbers[n]) for n, size in zip(clustering.names, clustering.sizes(), strict=True)
        )
        rest = int((clustering.named < 0).sum())
        legends.append(ClusterLegend(shown.name, CLUSTER_HEADER, entries, rest))
    return tuple(legends)


def carry_extras(tensors: Sequence[Tensor], own: Sequence[EmbeddingInput]) -> list[Tensor]:
    """The bookmarks and sprite images that the user's vectors came with (a TensorBoard log's,
    `label_img`), on their tensors: the logged bookmarks after the bundle's own, which the page opens on."""
    extras = {e.name: e for e in own if e.bookmarks or e.sprite is not None}
    return [
        replace(t, bookmarks=(*t.bookmarks, *extras[t.name].bookmarks), sprite=extras[t.name].sprite)
        if t.name in extras
        else t
        for t in tensors
    ]


def read_model(
    ref: ModelRef, options: BundleOptions, corpus: Corpus | None, texts: Texts | None, progress: Progress
) -> ModelData:
    """Read every table `options` asks of one model, and run it over the texts and the sentences."""
    from projector_bundle.context.contextual import check_layers, corpus_warnings, layer_count
    from projector_bundle.models.loader import (
        first_position_row,
        load_model,
        own_code_warning,
        positions_without_table,
        read_embedding_table,
        read_word_embeddings,
    )

    read = ModelData()
    if WORD in options.tensors:
        progress(f"reading the embedding matrix and vocabulary of {ref.name}")
        read.words = read_word_embeddings(ref, options.limit)
        if options.limit is not None and options.limit > read.words.vocab_rows:
            rows = f"{read.words.vocab_rows:,} vocabulary rows"
            read.warnings.append(f"--limit {options.limit:,} is more than the {rows}; exporting all of them")
        read.warnings += read.words.warnings  # an unrecognised tokenizer scheme; rows and tokens that disagree
    if own_code := own_code_warning(ref):  # after the read, which refuses a type transformers does not know
        read.warnings.append(own_code)
    tables = [kind for kind in (POSITION, TYPE) if kind in options.tensors]
    if not tables and corpus is None and texts is None:
        return read
    model = load_model(ref)
    if texts is not None:
        read.texts = embed_own_texts(ref, model, texts, options, progress)
        truncated = truncation_warning(ref, texts, read.texts)
        if truncated:
            read.warnings.append(truncated)
    for kind in tables:
        matrix = read_embedding_table(model, TENSOR_SUFFIXES[kind])
        if matrix is None:
            how = positions_without_table(model) if kind == POSITION else None
            raise ExportError(
                f"--tensors {kind}: {ref.name} has no {TENSOR_SUFFIXES[kind]} ({type(model).__name__})"
                + (f": {how}" if how else "")
            )
        read.tables[kind] = matrix
        if kind == POSITION:
            read.first_position = first_position_row(model)
    if corpus is not None:
        count = layer_count(model)
        layers = check_layers(expand_layers(options.layers, count), count, ref.name)
        read.context = run_over_corpus(ref, model, corpus, layers, options, progress)
        read.warnings += corpus_warnings(corpus.source, read.context, options.max_points)
    return read


def embed_own_texts(
    ref: ModelRef, model: PreTrainedModel, texts: Texts, options: BundleOptions, progress: Progress
) -> TextVectors:
    """A vector per text, pooled as the model prescribes (or --pooling), for each --layer (default: the last)."""
    from projector_bundle.context.contextual import check_layers, layer_count
    from projector_bundle.context.textvectors import embed_texts
    from projector_bundle.models.loader import is_decoder_only, load_tokenizer, sentence_transformers_root
    from projector_bundle.models.pooling import read_pooling

    pooling = read_pooling(sentence_transformers_root(ref), options.pooling, decoder_only=is_decoder_only(model))
    layers: list[int | None] = [None]
    if options.layers:
        count = layer_count(model)
        layers = list(check_layers(expand_layers(options.layers, count), count, ref.name))
    count = len(texts.texts)
    progress(f"embedding {count:,} texts with {ref.name}: {pooling.describe()}")
    start = time.perf_counter()
    with progress.bar(f"{ref.name} over {texts.source}", count, unit="text") as advance:
        vectors = embed_texts(model, load_tokenizer(ref), texts.texts, pooling, layers, advance=advance)
    seconds = max(time.perf_counter() - start, 1e-9)
    progress(f"embedded {count:,} texts in {seconds:.1f} s ({count / seconds:,.0f} texts/s)")
    return vectors


def truncation_warning(ref: ModelRef, texts: Texts, vectors: TextVectors) -> str | None:
    """One line counting the texts the model's limit cut, with their lines; None when none was cut."""
    from projector_bundle.inputs.texts import lines

    if not vectors.truncated:
        return None
    listed = [texts.lines[i] for i in vectors.truncated_rows]
    return (
        f"--texts {texts.source}: {vectors.truncated:,} of {len(texts.texts):,} texts are longer than "
        f"{ref.name}'s {vectors.max_tokens:,} tokens and were cut to it ({lines(listed, vectors.truncated)})"
    )


def text_tensors(prefix: str, vectors: TextVectors, texts: Texts) -> list[TensorData]:
    """`<model>/texts` (or one per --layer): labelled by the shortened text, the other columns
    after it; the tensors share one list of metadata rows."""
    names = [
        f"{prefix}/{TEXTS_SUFFIX}" if layer is None else f"{prefix}/{TEXTS_SUFFIX}_layer{layer}"
        for layer in vectors.layers
    ]
    matrices = list(vectors.layers.values())
    first = own_tensor(names[0], matrices[0], texts.columns, texts.column)
    return [first, *(replace(first, name=n, matrix=m) for n, m in zip(names[1:], matrices[1:], strict=True))]


def run_over_corpus(
    ref: ModelRef,
    model: PreTrainedModel,
    corpus: Corpus,
    layers: Sequence[int],
    options: BundleOptions,
    progress: Progress,
) -> ContextualEmbeddings:
    """The model's points over the corpus, read lazily, with a bar in sentences per second."""
    from projector_bundle.context.contextual import PointChoice, corpus_memory, embed_corpus
    from projector_bundle.models.loader import load_tokenizer

    choice = PointChoice(options.words, options.max_points, options.keep_special, options.seed)
    which = f"the words {', '.join(options.words)} in " if options.words else ""
    progress(f"running {ref.name} over {which}{corpus.source} (layers {', '.join(map(str, layers))})")
    start = time.perf_counter()
    with progress.bar(f"{ref.name} over {corpus.source}", None, unit="sentence") as advance:
        memory = corpus_memory(corpus.source)
        context = embed_corpus(
            model, load_tokenizer(ref), corpus.read(), layers, choice, advance=advance, memory=memory
        )
    counts, seconds = context.counts, max(time.perf_counter() - start, 1e-9)
    progress(
        f"read {counts.sentences:,} sentences in {seconds:.1f} s ({counts.sentences / seconds:,.0f} sentences/s), "
        f"ran the model over {counts.embedded:,}, kept {len(context.occurrences):,} points"
    )
    if not context.occurrences and options.words:
        raise ExportError(
            f"--words {','.join(options.words)}: none occurs in the {counts.sentences:,} sentences of {corpus.source}"
        )
    if not context.occurrences:
        raise ExportError(f"--sentences: {ref.name} found no tokens in the sentences")
    return context


def label_model(prefix: str, read: ModelData, options: BundleOptions, progress: Progress) -> list[TensorData]:
    """The model's tensors with their metadata: label columns for the vocabulary, indices for
    the other tables, token and sentence for the contextual layers."""
    tensors = []
    if read.words is not None:
        progress(f"labelling {len(read.words.tokens):,} tokens")
        chosen = needed_columns(select_columns(options.labels), read.words.tokens)  # `is byte` only where bytes are
        columns = ensure_colourable(chosen, read.words.tokens)
        if len(columns) > len(chosen):
            keys = ",".join(c.key for c in chosen)
            progress(f"no column of --labels {keys} can colour points; adding {columns[-1].key}")
        tensors.append(word_tensor(prefix, read.words.matrix, read.words.tokens, columns))
    tensors += [table_tensor(prefix, kind, matrix, read.first_position) for kind, matrix in read.tables.items()]
    if read.context is not None:
        tensors += contextual_tensors(prefix, read.context)
        if options.trajectories:
            words = bool(read.context.words)
            tensors.append(TensorData(*build_paths(prefix, read.context.layers, read.context.occurrences, words=words)))
    return tensors


def measure_context(context: ContextualEmbeddings) -> list[LayerGeometry]:
    """The geometry of each layer, on its raw vectors, over the kept token occurrences (a
    --words point counts as its word, whatever pieces it was split into)."""
    occurrences = context.occurrences
    return measure_layers(context.layers, [o.sentence for o in occurrences], [o.word or o.token for o in occurrences])


def bookmarks(
    tensor: TensorData, projections: Sequence[Projection], frames: Sequence[Frame | None] = ()
) -> list[dict[str, object]]:
    """One bookmark per projection of the full tensor; a projection drawn in a frame shared with
    other tensors' (`--compare`) carries it."""
    dim = tensor.matrix.shape[1]
    states = []
    for index, p in enumerate(projections):
        state = bookmark_state(p, dim, label_option=tensor.label_by, color_option=tensor.colour_by)
        frame = frames[index] if index < len(frames) else None
        if frame is not None:
            state[FRAME] = [list(pair) for pair in frame]
        states.append(state)
    return states


# --- --compare: spaces over the same items, their aligned layouts, and each layout's trust ---


def token_keys(tokens: Sequence[Token]) -> list[str | None]:
    """What matches a word table's rows with another model's: the readable token (`▁of` in every
    scheme), none for a row without a token."""
    return [str(word(t)) if t.text is not None else None for t in tokens]


def compare_spaces(
    k: int, data: Sequence[TensorData], prefixes: Sequence[str], keys: dict[str, list[str | None]], progress: Progress
) -> BundleComparison:
    """Every group of spaces over the same items compared, after saying what the exact searches will cost."""
    groups = comparison_groups([t.name for t in data], prefixes)
    if not groups:
        raise ExportError(NOTHING_TO_COMPARE)
    sizes = {t.name: t.matrix.shape for t in data}
    searches = [sizes[name] for g in groups for name in (g.reference, *g.others)]
    work = sum(search_work(points, dim) for points, dim in searches)
    seconds = work / calibrate_rate(max(dim for _, dim in searches))
    spaces = ", ".join(f"{g.reference} with {', '.join(g.others)} (by {g.by})" for g in groups)
    progress(
        f"comparing {spaces}: {len(searches)} exact searches of {k} neighbours, "
        f"about {seconds:,.0f} s on this machine now"
    )
    return compare_tensors(data, groups, keys, k, progress.bar)


# What `--compare` says when the bundle has one space per kind of item.
NOTHING_TO_COMPARE = (
    "--compare: needs two or more spaces over the same items: repeat --model (models sharing a vocabulary, "
    "or two checkpoints), or give --sentences or --texts with two or more --layer"
)


def with_comparison(tensor: TensorData, compared: BundleComparison) -> TensorData:
    found = next((c for c in compared.comparisons if c.name == tensor.name), None)
    return tensor if found is None else add_comparison(tensor, found)


def aligned_layouts(
    compared: BundleComparison,
    data: Sequence[TensorData],
    layouts: list[list[Layout]],
    projections: list[list[Projection]],
) -> tuple[list[list[Layout]], list[list[Projection]]]:
    """Each later space's aligned projection, first among its bookmarks (the page opens on it),
    drawn in one frame with its group's first PCA and the other aligned ones."""
    index = {t.name: i for i, t in enumerate(data)}
    layouts = [list(shown) for shown in layouts]
    projections = [list(shown) for shown in projections]
    for group in compared.groups:
        first = index[group.reference]
        pca = next((p for p in projections[first] if p.kind == PCA), None)
        aligned = [c for c in compared.comparisons if c.reference == group.reference]
        frame = layout_frame(([pca.coords] if pca is not None else []) + [c.aligned.coords for c in aligned])
        if pca is not None:
            slot = projections[first].index(pca)
            layouts[first][slot] = replace(layouts[first][slot], frame=frame)
        for c in aligned:
            layouts[index[c.name]].insert(0, Layout(ALIGNED, c.aligned.coords, frame))
            projections[index[c.name]].insert(0, c.aligned)
    return layouts, projections


def trusted(
    compared: BundleComparison, data: Sequence[TensorData], layouts: Sequence[Sequence[Layout]]
) -> tuple[list[TensorData], list[TrustView]]:
    """A trust column per layout of every compared tensor, and each layout's mean for the page."""
    out, views = [], []
    for t, shown in zip(data, layouts, strict=True):
        if t.name not in compared.knn or not shown:
            out.append(t)
            continue
        t, means = add_trust(t, shown, compared.knn[t.name])
        out.append(t)
        views.append(TrustView(t.name, tuple((name, f"{mean:.3f}") for name, mean in means.items())))
    return out, views


def comparison_views(compared: BundleComparison, data: Sequence[TensorData]) -> tuple[ComparisonView, ...]:
    points = {t.name: t.matrix.shape[0] for t in data}
    labels = {t.name: [row[0] for row in t.rows] for t in data}
    return tuple(comparison_view(c, labels[c.name], points[c.name], points[c.reference]) for c in compared.comparisons)
