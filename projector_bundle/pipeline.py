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
from projector_bundle.inputs.vectors import EmbeddingInput
from projector_bundle.output.publish import DEFAULT_MAX_FILE_MB, projector_link, size_warning
from projector_bundle.output.writers import EXACT, TsvDigits
from projector_bundle.points.labels import DEFAULT_LABELS, needed_columns, select_columns
from projector_bundle.points.neighbors import check_neighbor_count, check_neighbors
from projector_bundle.points.projections import (
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
    add_neighbors,
    assign_files,
    check_finite,
    contextual_tensors,
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
from projector_bundle.projector.formats import DEFAULT_OUT, MB
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
    base_url: str | None = None  # where the bundle will be served (adds the remote config)
    tsv: TsvDigits | None = EXACT  # the vectors TSV: EXACT, N significant digits, or None (the .bytes only)
    max_file_mb: float = DEFAULT_MAX_FILE_MB  # warn about larger files
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
        return (*models, *sentences)


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
    context: ContextualEmbeddings | None = None
    texts: TextVectors | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Cut:
    """A reduction step's tensors, how it cut each (by name, for the manifest), and its warnings."""

    tensors: list[TensorData]
    how: dict[str, dict[str, object]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


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
    for ref, prefix in zip(refs, model_prefixes([r.public_name for r in refs]), strict=True):
        read = read_model(ref, options, corpus, texts, progress)
        for message in read.warnings:
            warn(message)
        if read.texts is not None and texts is not None:
            embedded += text_tensors(prefix, read.texts, texts)
        data += label_model(prefix, read, options, progress)
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
    how = dict(sampled.how)
    if texts is not None and options.sample is not None:
        how |= {t.name: {"sample": {"points": texts.rows_read, "seed": options.seed}} for t in embedded}
    sampled = Cut(embedded + sampled.tensors, how)
    data = [check_finite(t) for t in sampled.tensors]
    if options.dims is not None:
        check_dims(options.dims, data[0].matrix.shape[1])  # before the neighbours' search
    if options.neighbors:
        for message in check_neighbor_tables(options.neighbors, data):
            warn(message)
        progress(f"finding {options.neighbors} nearest neighbours of every point")
        data = [add_neighbors(t, options.neighbors, progress.bar) for t in data]
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
    projections = [compute_projections(t.matrix, options.projections) for t in data]
    tensors = assign_files(data, [bookmarks(t, p) for t, p in zip(data, projections, strict=True)])
    tensors = carry_extras(tensors, own)
    if options.first_view:
        tensors = add_first_view(tensors, projections[0])
    light = len(tensors) > len(data)  # nothing is added where the first tensor has 3 dimensions or no PCA

    page = describe_page(
        refs,
        [e.name for e in own],
        tensors,
        command=options.command,
        created=options.created or utc_time(),
        projector_link=None if options.base_url is None else projector_link(options.base_url),
        geometry=geometry_views(geometry),
        first_view=light,
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
    oversize = size_warning(others, options.max_file_mb, vector_tsvs)
    if oversize:
        warn(oversize)
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
    if options.first_view and PCA not in options.projections:
        raise UsageError("--first-view light: needs the PCA bookmark (--projections pca)")
    if UMAP in options.projections and not umap_available():  # not a usage mistake: exit 1
        raise ExportError("--projections umap: needs the umap-learn package (pip install umap-learn)")


def sample_tables(count: int, seed: int, data: Sequence[TensorData], progress: Progress, *, first: bool = True) -> Cut:
    """`--sample`: the same seeded rows of every tensor with more than `count` points. The first
    tensor (the one the user asked about, unless `first` is False: the texts, sampled before
    they were embedded) must have more; smaller ones and paths stay whole."""
    if first:
        check_sample(count, data[0].matrix.shape[0])
    sampled = []
    how: dict[str, dict[str, object]] = {}
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
        sampled.append(sample_tensor(t, sample_rows(points, count, seed)))
        how[t.name] = {"sample": {"points": points, "seed": seed}}
    return Cut(sampled, how, tuple(warnings))


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

    limit = int(options.max_file_mb * MB)
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
        load_model,
        own_code_warning,
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
            raise ExportError(f"--tensors {kind}: {ref.name} has no {TENSOR_SUFFIXES[kind]} ({type(model).__name__})")
        read.tables[kind] = matrix
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
    tensors += [table_tensor(prefix, kind, matrix) for kind, matrix in read.tables.items()]
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


def bookmarks(tensor: TensorData, projections: Sequence[Projection]) -> list[dict[str, object]]:
    """One bookmark per projection of the full tensor."""
    dim = tensor.matrix.shape[1]
    return [bookmark_state(p, dim, label_option=tensor.label_by, color_option=tensor.colour_by) for p in projections]
