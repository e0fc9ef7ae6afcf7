"""The Python API: bundles built from a notebook or a script, in TensorBoard's `add_embedding` shape.

    import projector_bundle as pb

    bundle = pb.Bundle("site")                        # was: writer = SummaryWriter("runs")
    bundle.add_embedding(mat, metadata=labels, tag="words")
    bundle.show()                                     # written (atomic, validated), served, shown

    pb.from_model(limit=5000).show()                  # export.py bundle --limit 5000
    pb.from_texts(["a text", "another"]).show()       # export.py bundle --texts FILE --tensors none
    pb.from_tensorboard("runs").show()                # export.py from-tensorboard runs
    pb.show("site")                                   # export.py serve --directory site, in the notebook

Every route builds one `BundleOptions` and calls `pipeline.build_bundle`, as the CLI does, so a
bundle written here has the same files, page, manifest and checks as one from `export.py`.
Mistakes raise `ExportError` with the message the CLI would print.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from projector_bundle import ExportError
from projector_bundle.inputs.tables import TEXT_COLUMN, RawTable
from projector_bundle.inputs.vectors import EmbeddingInput
from projector_bundle.notebook import IFRAME_HEIGHT, show_bundle
from projector_bundle.output.writers import EXACT
from projector_bundle.pipeline import BundleOptions, BundleResult, build_bundle
from projector_bundle.points.clusters import NONE
from projector_bundle.points.labels import DEFAULT_LABELS
from projector_bundle.points.projections import PCA
from projector_bundle.points.tensors import WORD, SpriteImage
from projector_bundle.progress import SILENT, Progress, warn_on_stderr
from projector_bundle.projector.formats import DEFAULT_OUT
from projector_bundle.projector.sprites import png_bytes, sprite_grid

PathLike = str | os.PathLike[str]
# The tag of an embedding added without one, as in TensorBoard.
DEFAULT_TAG = "default"
# The column of metadata given as a plain list of labels (the file has no header then).
LABEL_COLUMN = "label"


@dataclass(frozen=True)
class Site:
    """A written bundle folder: what `Bundle.write()` and the `from_*` helpers return."""

    out: Path
    result: BundleResult  # the pipeline's: tensors, file sizes
    warnings: tuple[str, ...] = ()  # what the user should know, also printed on stderr as it came

    def show(self, port: int = 0, height: int = IFRAME_HEIGHT) -> None:
        """Serve the folder on loopback from this process and show it in the notebook (an IFrame);
        outside a notebook, print its URL. `port` 0 picks a free one; name one you have forwarded."""
        show_bundle(self.out, port=port, height=height)

    @property
    def tensors(self) -> tuple[tuple[str, int, int], ...]:
        """(name, points, dimensions) of each tensor written."""
        return self.result.tensors


class Bundle:
    """A bundle of the matrices a notebook holds, added as `SummaryWriter.add_embedding` adds them.

    Args:
        out: the bundle folder (replaced as a whole by `write()`; a non-empty folder this tool
            did not write is refused unless `force`, which writes into it and keeps its other files).
        projections: full-data projections shipped as bookmarks (`pca`, `umap`); () for none.
        neighbors: add a column with each point's K nearest points.
        dims: ship each tensor on its top N principal axes.
        base_url: where the bundle will be published (adds the config with absolute URLs).
        first_view: open on the first tensor's exact 3-D PCA coordinates (a light first view).
        clusters: "auto" or a number adds a Cluster column of named groups; "none" (the default)
            keeps the metadata as `add_embedding` was given it, as TensorBoard shows it.
        tsv: write the vectors TSV besides the .bytes file.
        progress: print the pipeline's steps on stderr.
    """

    def __init__(
        self,
        out: PathLike = DEFAULT_OUT,
        *,
        projections: Sequence[str] = (PCA,),
        neighbors: int | None = None,
        dims: int | None = None,
        base_url: str | None = None,
        first_view: bool = False,
        clusters: str | int = NONE,
        tsv: bool = True,
        force: bool = False,
        progress: bool = False,
    ) -> None:
        self.out = Path(out)
        self._options = BundleOptions(
            out=self.out,
            models=(),
            tensors=(),
            projections=tuple(projections),
            neighbors=neighbors,
            dims=dims,
            base_url=base_url,
            first_view=first_view,
            clusters=clusters,
            tsv=EXACT if tsv else None,
            force=force,
            command="projector_bundle.Bundle(...).write()",
        )
        self._progress = progress
        self._embeddings: list[EmbeddingInput] = []
        self._written: Site | None = None

    def add_embedding(
        self,
        mat: object,
        metadata: object = None,
        metadata_header: Sequence[str] | None = None,
        tag: str | None = None,
        global_step: int | None = None,
        label_img: object = None,
    ) -> None:
        """Add a tensor: `mat` (points x dimensions: a numpy array, a torch tensor, nested lists)
        and its metadata, as `SummaryWriter.add_embedding` takes them.

        `metadata` is a list of labels (one column), or rows of cells named by `metadata_header`,
        or columns by name: a dict of lists, a pandas or polars DataFrame. Numbers stay numbers
        (the projector colours them by a gradient); everything else is text. The tensor is named
        `tag` (default "default"), or `tag:00042` with a `global_step` of 42, as TensorBoard names it.
        `label_img` (N, C, H, W), floats in [0, 1] or uint8, becomes the sprite: a thumbnail per point.
        """
        name = tag or DEFAULT_TAG
        if global_step is not None:
            name = f"{name}:{global_step:05d}"
        if any(e.name == name for e in self._embeddings):
            raise ExportError(f"add_embedding(tag={name!r}): this bundle has a tensor of that name; pass another tag")
        columns = metadata_columns(metadata, metadata_header)
        source = f"add_embedding(tag={name!r})"
        embedding = EmbeddingInput.from_arrays(name, as_array(mat), columns, source=source)
        if label_img is not None:
            embedding = replace(embedding, sprite=sprite_of(label_img, embedding.matrix.shape[0], source))
        self._embeddings.append(embedding)
        self._written = None

    def write(self) -> Site:
        """Write the bundle: every file into a staging folder, validated, then swapped in for `out`,
        so a failed write leaves the last good bundle as it was."""
        if not self._embeddings:
            raise ExportError(f"{self.out}: nothing to write; add_embedding() first")
        options = replace(self._options, embeddings=tuple(self._embeddings))
        self._written = run(options, self._progress)
        return self._written

    def show(self, port: int = 0, height: int = IFRAME_HEIGHT) -> None:
        """Show the bundle in the notebook (writing it first if it has changed since the last write)."""
        (self._written or self.write()).show(port=port, height=height)


def from_model(
    model: str | Sequence[str] | None = None,
    out: PathLike = DEFAULT_OUT,
    *,
    limit: int | None = None,
    labels: Sequence[str] = DEFAULT_LABELS,
    tensors: Sequence[str] = (WORD,),
    sentences: PathLike | None = None,
    layers: Sequence[int | str] = (),
    words: Sequence[str] = (),
    sample: int | None = None,
    seed: int = 0,
    projections: Sequence[str] = (PCA,),
    neighbors: int | None = None,
    dims: int | None = None,
    base_url: str | None = None,
    first_view: bool = False,
    force: bool = False,
    progress: bool = False,
) -> Site:
    """`export.py bundle` from Python: a model's embedding tables with their label columns, and
    with `sentences` (a file, one a line) its contextual vectors of them at `layers`.

    `model` is a hub id, a folder, or several to compare; None is the packaged all-MiniLM-L6-v2.
    """
    models = (model,) if model is None or isinstance(model, str) else tuple(model)
    options = BundleOptions(
        out=Path(out),
        models=models,
        limit=limit,
        labels=tuple(labels),
        tensors=tuple(tensors),
        sentences=None if sentences is None else str(sentences),
        layers=tuple(layers),
        words=tuple(words),
        sample=sample,
        seed=seed,
        projections=tuple(projections),
        neighbors=neighbors,
        dims=dims,
        base_url=base_url,
        first_view=first_view,
        force=force,
        command="projector_bundle.from_model(...)",
    )
    return run(options, progress)


def from_texts(
    texts: Sequence[str] | PathLike,
    model: str | Sequence[str] | None = None,
    out: PathLike = DEFAULT_OUT,
    *,
    metadata: object = None,
    text_column: str = TEXT_COLUMN,
    pooling: str | None = None,
    layers: Sequence[int | str] = (),
    sample: int | None = None,
    seed: int = 0,
    projections: Sequence[str] = (PCA,),
    neighbors: int | None = None,
    base_url: str | None = None,
    force: bool = False,
    progress: bool = False,
) -> Site:
    """`export.py bundle --texts FILE --tensors none` from Python: a vector per text, pooled as
    the model prescribes (or `pooling`), labelled by the text, with `metadata` columns after it.

    `texts` is a list of texts, or a file (.txt, .csv, .tsv, .jsonl, .parquet) whose
    `text_column` holds them; `metadata` (columns for a list: a dict of lists or a DataFrame)
    goes with a list only, as a file brings its own columns.
    """
    table = None
    path: str | None = None
    if isinstance(texts, str | os.PathLike):
        if metadata is not None:
            raise ExportError("from_texts: metadata goes with a list of texts; a file brings its own columns")
        path = str(texts)
    else:
        table = text_table(texts, metadata, text_column)
    models = (model,) if model is None or isinstance(model, str) else tuple(model)
    options = BundleOptions(
        out=Path(out),
        models=models,
        tensors=(),
        texts=path,
        text_table=table,
        text_column=text_column,
        pooling=pooling,
        layers=tuple(layers),
        sample=sample,
        seed=seed,
        projections=tuple(projections),
        neighbors=neighbors,
        base_url=base_url,
        force=force,
        command="projector_bundle.from_texts(...)",
    )
    return run(options, progress)


def from_tensorboard(
    logdir: PathLike,
    out: PathLike = DEFAULT_OUT,
    *,
    base_url: str | None = None,
    clusters: str | int = NONE,
    tsv: bool = True,
    force: bool = False,
    progress: bool = False,
) -> Site:
    """`export.py from-tensorboard LOGDIR` from Python: every embedding of a TensorBoard log
    (`SummaryWriter.add_embedding`'s), with its metadata, bookmarks and sprite, as a static bundle."""
    from projector_bundle.inputs.tensorboard import logged_inputs, read_tensorboard_log

    log = read_tensorboard_log(Path(logdir))
    options = BundleOptions(
        out=Path(out),
        models=(),
        tensors=(),
        embeddings=logged_inputs(log),
        clusters=clusters,
        base_url=base_url,
        tsv=EXACT if tsv else None,
        force=force,
        command="projector_bundle.from_tensorboard(...)",
    )
    return run(options, progress, read=log.warnings)


def show(out: PathLike = DEFAULT_OUT, port: int = 0, height: int = IFRAME_HEIGHT) -> None:
    """Show a bundle folder written earlier (by any route) in the notebook, as `Site.show` does."""
    show_bundle(Path(out), port=port, height=height)


def model_folder(model: str | None = None) -> Path:
    """The local folder of a model, for transformers' `from_pretrained`: None (or the default's
    names) is the packaged all-MiniLM-L6-v2, which needs no network."""
    from projector_bundle.models.loader import resolve_model

    return resolve_model(model).path


def run(options: BundleOptions, progress: bool, read: Sequence[str] = ()) -> Site:
    """Build the bundle; its warnings (after those of reading the input, `read`) go to stderr as
    they come, as the CLI shows them, and to the `Site`."""
    steps = Progress(sys.stderr) if progress else SILENT
    warnings: list[str] = []

    def collect(message: str) -> None:
        warn_on_stderr(message)
        warnings.append(message)

    for message in read:
        collect(message)
    result = build_bundle(options, steps, collect)
    return Site(result.out, result, tuple(warnings))


# --- what notebooks hold, as the pipeline's columns ---


def as_array(mat: object) -> object:
    """`mat` as something numpy reads: a torch tensor is detached and moved to the CPU first."""
    detach = getattr(mat, "detach", None)
    if callable(detach):  # torch, without importing it
        tensor = detach().cpu()
        if str(tensor.dtype) == "torch.bfloat16":  # numpy has no bfloat16
            tensor = tensor.float()
        return tensor.numpy()
    return mat


def sprite_of(label_img: object, points: int, source: str) -> SpriteImage:
    """`label_img` as a PNG sprite with a thumbnail per point."""
    images = np.asarray(as_array(label_img))
    grid = sprite_grid(images, source)
    if images.shape[0] != points:
        raise ExportError(f"{source}: label_img has {images.shape[0]:,} images but the vectors have {points:,}")
    return SpriteImage(png_bytes(grid), ".png", (images.shape[3], images.shape[2]))


def metadata_columns(metadata: object, header: Sequence[str] | None) -> dict[str, list[object]] | None:
    """Column name -> values, from what `add_embedding` accepts as metadata."""
    if metadata is None:
        if header is not None:
            raise ExportError("metadata_header: given without metadata")
        return None
    named = named_columns(metadata)
    if named is not None:
        if header is not None:
            raise ExportError("metadata_header: the metadata names its own columns (a dict or a DataFrame)")
        return named
    values = values_of(metadata)
    if header is None:
        if any(isinstance(v, list | tuple) for v in values):
            raise ExportError("metadata: rows of several cells need metadata_header, the names of their columns")
        return {LABEL_COLUMN: values}
    names = [str(h) for h in header]
    rows = [values_of(row) for row in values]
    bad = next((i for i, row in enumerate(rows) if len(row) != len(names)), None)
    if bad is not None:
        raise ExportError(f"metadata row {bad}: {len(rows[bad])} cells, but metadata_header names {len(names)} columns")
    return {name: [row[i] for row in rows] for i, name in enumerate(names)}


def named_columns(metadata: object) -> dict[str, list[object]] | None:
    """A dict of columns, or a pandas or polars DataFrame (told by its `columns`, not imported)."""
    if isinstance(metadata, Mapping):
        return {str(name): values_of(values) for name, values in metadata.items()}
    columns = getattr(metadata, "columns", None)
    if columns is not None and hasattr(metadata, "__getitem__"):
        return {str(name): values_of(metadata[name]) for name in list(columns)}
    return None


def values_of(values: object) -> list[object]:
    """A column or row as a list: numpy arrays, torch tensors and pandas or polars series by their
    own list method, so numpy scalars become Python numbers; a text is one value."""
    for method in ("tolist", "to_list"):
        convert = getattr(values, method, None)
        if callable(convert):
            listed = convert()
            return listed if isinstance(listed, list) else [listed]
    if isinstance(values, str | bytes) or not hasattr(values, "__iter__"):
        return [values]
    return list(values)


def text_table(texts: Sequence[str], metadata: object, column: str) -> RawTable:
    """A list of texts and their metadata columns as the table `--texts` reads from a file."""
    columns = metadata_columns(metadata, None) or {}
    if column in columns:
        raise ExportError(f"from_texts: the metadata has a column {column!r}, the name of the texts' column")
    other = next((len(values) for values in columns.values() if len(values) != len(texts)), None)
    if other is not None:
        raise ExportError(f"from_texts: {len(texts):,} texts, but metadata columns of {other:,} rows")
    values: list[list[object]] = [list(texts), *columns.values()]
    return RawTable("texts", (column, *columns), tuple(values), list(range(1, len(texts) + 1)))
