"""TensorBoard projector logs, read as TensorBoard's projector plugin reads them.

`SummaryWriter.add_embedding` (torch) and `tensorboard.plugins.projector` leave a log folder
with `projector_config.pbtxt` (a `ProjectorConfig` text protobuf, tensorboard's
`plugins/projector/projector_config.proto`) naming, per embedding, a tensor TSV, and
perhaps a metadata TSV, a bookmarks JSON and a sprite image. TensorBoard serves such a
folder live; `export.py from-tensorboard` reads it here and writes it as a static bundle.

The facts followed, from tensorboard 2.21's `projector_plugin.py`: asset paths are relative
to the folder of the config and may not resolve outside it; a tensor file is a TSV (blank
lines skipped, one float32 row a line), or raw float32 of `tensor_shape` where it is not
text; an embedding without `tensor_path` is a variable of a TensorFlow checkpoint. Each
sub-folder holding a config is a run of its own.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import orjson

from projector_bundle import ExportError
from projector_bundle.inputs.vectors import EmbeddingInput
from projector_bundle.points.tensors import SpriteImage
from projector_bundle.projector.formats import FLOAT32_BYTES, JS_WHITESPACE
from projector_bundle.text import one_line, plural

if TYPE_CHECKING:
    from tensorboard.plugins.projector.projector_config_pb2 import EmbeddingInfo, ProjectorConfig

# The file tensorboard's `visualize_embeddings` and torch's `add_embedding` write into a run's folder.
PROJECTOR_PBTXT = "projector_config.pbtxt"
# Rows of a tensor TSV parsed at once.
TSV_BLOCK_ROWS = 2048


@dataclass(frozen=True)
class LoggedSprite:
    """A sprite image of thumbnails, one per point, and one thumbnail's [width, height]."""

    image: Path
    single_image_dim: tuple[int, int]


@dataclass(frozen=True)
class LoggedEmbedding:
    """One embedding of a log: its vectors (float32) and metadata as the projector would show them."""

    name: str  # tensor_name, with the run's folder in front where the log has several runs
    matrix: np.ndarray
    header: tuple[str, ...]  # the metadata columns; () where the embedding has no metadata
    rows: list[list[str]] | None  # one list of cells per point; None where there is no metadata
    bookmarks: list[dict[str, object]]  # the projector's saved States, as logged
    sprite: LoggedSprite | None


@dataclass(frozen=True)
class TensorboardLog:
    """Every embedding of a log folder, in the order of its configs, and what the user should know."""

    embeddings: tuple[LoggedEmbedding, ...]
    warnings: tuple[str, ...]


def read_tensorboard_log(logdir: Path) -> TensorboardLog:
    """Read every embedding that the `projector_config.pbtxt` files under `logdir` describe.

    Raises:
        ExportError: no config, a checkpoint-backed tensor, or a file that is not what its format says.
    """
    configs = find_configs(logdir)
    root = logdir if logdir.is_dir() else logdir.parent
    embeddings: list[LoggedEmbedding] = []
    warnings: list[str] = []
    for config_path in configs:
        run = config_path.parent.relative_to(root).as_posix()
        prefix = "" if run == "." else run + "/"
        config = parse_projector_config(config_path)
        seen: set[str] = set()
        for info in config.embeddings:
            name = prefix + tensor_name(info)
            if name in seen:
                warnings.append(f"{config_path}: tensor {name} is listed twice; the first entry is read")
                continue
            seen.add(name)
            embedding, found = read_embedding(config_path, info, name)
            embeddings.append(embedding)
            warnings += found
    return TensorboardLog(tuple(embeddings), tuple(warnings))


def logged_inputs(log: TensorboardLog) -> tuple[EmbeddingInput, ...]:
    """The log's embeddings as the pipeline takes a user's own vectors: checked as float32, the
    metadata typed by column as any input's, the bookmarks and the sprite image carried along."""
    inputs = []
    for e in log.embeddings:
        columns = None
        if e.rows is not None:
            columns = {name: [row[i] for row in e.rows] for i, name in enumerate(e.header)}
        embedding = EmbeddingInput.from_arrays(e.name, e.matrix, columns, source=f"tensor {e.name}")
        sprite = None
        if e.sprite is not None:
            sprite = SpriteImage(read_bytes(e.sprite.image), image_suffix(e.sprite.image), e.sprite.single_image_dim)
        inputs.append(replace(embedding, bookmarks=tuple(e.bookmarks), sprite=sprite))
    return tuple(inputs)


def image_suffix(path: Path) -> str:
    """The sprite's suffix in the bundle: its own where it is a plain one (`.png`), else `.img`
    (browsers tell an image by its bytes; a URL must not hold `%`, `?` or `#`)."""
    suffix = path.suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,5}", suffix) else ".img"


def find_configs(logdir: Path) -> list[Path]:
    """The log's configs: `logdir` itself if it names one, else every one under it, in path order."""
    if logdir.is_file() and logdir.name == PROJECTOR_PBTXT:
        return [logdir]
    if not logdir.is_dir():
        raise ExportError(f"{logdir}: no such folder")
    configs = sorted(logdir.rglob(PROJECTOR_PBTXT), key=lambda p: (len(p.relative_to(logdir).parts), str(p)))
    if not configs:
        raise ExportError(
            f"{logdir}: no {PROJECTOR_PBTXT} in it or below it; SummaryWriter.add_embedding writes one into "
            "its log folder"
        )
    return configs


def parse_projector_config(path: Path) -> ProjectorConfig:
    """The `ProjectorConfig` text protobuf at `path`, parsed by protobuf with tensorboard's own message type."""
    from google.protobuf import text_format
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    text = read_utf8(path)
    config = ProjectorConfig()
    try:
        text_format.Parse(text, config)
    except text_format.ParseError as exc:
        raise ExportError(f"{path}: not a projector config ({one_line(exc)})") from None
    if not config.embeddings:
        checkpoint = " (only a checkpoint, which export.py cannot read)" if config.model_checkpoint_path else ""
        raise ExportError(f"{path}: lists no embeddings{checkpoint}")
    return config


def tensor_name(info: EmbeddingInfo) -> str:
    """The embedding's name as the plugin shows it: without a variable's `:0`, the tensor file's name if unset."""
    name = str(info.tensor_name).removesuffix(":0")
    return name or os.path.basename(str(info.tensor_path))


def read_embedding(config: Path, info: EmbeddingInfo, name: str) -> tuple[LoggedEmbedding, list[str]]:
    """One embedding's files, checked against each other."""
    if not info.tensor_path:
        raise ExportError(
            f"{config}: tensor {name} is a variable of a TensorFlow checkpoint (it has no tensor_path); "
            "export.py reads tensors from files: log it with SummaryWriter.add_embedding, or save it as a "
            "tensors TSV and name that file in tensor_path"
        )
    shape = tuple(int(n) for n in info.tensor_shape)
    matrix = read_tensor_file(asset_path(config, info.tensor_path, "tensor_path"), shape)
    points = matrix.shape[0]
    header: tuple[str, ...] = ()
    rows: list[list[str]] | None = None
    warnings: list[str] = []
    if info.metadata_path:
        metadata = asset_path(config, info.metadata_path, "metadata_path")
        header, rows, warnings = read_metadata(metadata)
        if len(rows) != points:
            after = " after the header" if len(header) > 1 else ""
            raise ExportError(
                f"{metadata}: {plural(len(rows), 'row')}{after}, but tensor {name} has {plural(points, 'point')}"
            )
    bookmarks = read_bookmarks(asset_path(config, info.bookmarks_path, "bookmarks_path")) if info.bookmarks_path else []
    sprite = None
    if info.HasField("sprite") and info.sprite.image_path:
        dims = tuple(int(n) for n in info.sprite.single_image_dim)
        if len(dims) != 2 or min(dims) < 1:
            raise ExportError(f"{config}: tensor {name}: sprite single_image_dim must be [width, height], got {dims}")
        sprite = LoggedSprite(asset_path(config, info.sprite.image_path, "sprite image_path"), (dims[0], dims[1]))
    return LoggedEmbedding(name, matrix, header, rows, bookmarks, sprite), warnings


def asset_path(config: Path, path: str, field: str) -> Path:
    """A path of the config, relative to its folder, which it may not leave (as the plugin requires)."""
    folder = config.parent.resolve()
    candidate = (folder / Path(path).expanduser()).resolve()
    if not candidate.is_relative_to(folder):
        raise ExportError(f"{config}: {field} {path!r} resolves outside the config's folder {folder}")
    if not candidate.is_file():
        raise ExportError(f"{config}: {field} {path!r}: no such file")
    return candidate


def read_tensor_file(path: Path, shape: Sequence[int]) -> np.ndarray:
    """A tensor file as float32 rows: a TSV, or raw float32 of `shape` where the file is not text."""
    data = read_bytes(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return read_binary_tensor(path, data, shape)
    return parse_tensor_tsv(path, text)


def parse_tensor_tsv(path: Path, text: str) -> np.ndarray:
    """A tensor TSV: a row a line, values split by tabs, blank lines skipped."""
    numbered = [(number, line) for number, line in enumerate(text.split("\n"), 1) if line.strip()]
    if not numbered:
        raise ExportError(f"{path}: no vectors in it")
    first_number, first = numbered[0]
    dim = first.count("\t") + 1
    for number, line in numbered:
        fields = line.count("\t") + 1
        if fields != dim:
            raise ExportError(
                f"{path} line {number:,}: {plural(fields, 'value')}, expected {dim:,} as on line {first_number:,}"
            )
    # Parsed a block of rows at a time into the float32 matrix: numpy's C parser, and no list of
    # every value as text (the whole vocabulary of bert-base is 23 million values).
    matrix = np.empty((len(numbered), dim), dtype=np.float32)
    for start in range(0, len(numbered), TSV_BLOCK_ROWS):
        block = numbered[start : start + TSV_BLOCK_ROWS]
        try:
            values = np.loadtxt([line for _, line in block], delimiter="\t", dtype=np.float64, comments=None, ndmin=2)
        except ValueError:
            raise ExportError(f"{path}: {first_bad_value(block)}") from None
        # float64 first, then float32: a value written with more digits rounds once, as the plugin rounds it.
        matrix[start : start + len(block)] = values
    return matrix


def first_bad_value(numbered: Sequence[tuple[int, str]]) -> str:
    """Where the first value that is not a number is, for a message."""
    for number, line in numbered:
        for cell in line.rstrip("\r").split("\t"):
            try:
                float(cell)
            except ValueError:
                return f"line {number:,}: {cell[:40]!r} is not a number"
    return "a value that is not a number"


def read_binary_tensor(path: Path, data: bytes, shape: Sequence[int]) -> np.ndarray:
    """Raw little-endian float32 values of `shape` (the config's tensor_shape)."""
    if len(shape) != 2 or min(shape) < 1:
        raise ExportError(
            f"{path}: not a text TSV, and the config gives no [rows, dimensions] tensor_shape to read it as "
            f"float32 (got {list(shape)})"
        )
    rows, dim = shape
    if len(data) != rows * dim * FLOAT32_BYTES:
        raise ExportError(
            f"{path}: {len(data):,} bytes, but tensor_shape {rows:,} x {dim:,} needs {rows * dim * FLOAT32_BYTES:,}"
        )
    return np.frombuffer(data, dtype="<f4").reshape(rows, dim).astype(np.float32)


def read_metadata(path: Path) -> tuple[tuple[str, ...], list[list[str]], list[str]]:
    """A metadata TSV as the projector reads it: blank lines skipped, a first line with a tab is
    the header, every other line a row of cells. Rows with more or fewer cells than the header
    are cut or padded with empty cells, as the projector shows them, with a warning."""
    lines = [line.removesuffix("\r") for line in read_utf8(path).split("\n")]
    numbered = [(number, line) for number, line in enumerate(lines, 1) if line.strip(JS_WHITESPACE)]
    if not numbered:
        return (), [], []
    header: tuple[str, ...] = ()
    if "\t" in numbered[0][1]:
        header = tuple(numbered[0][1].split("\t"))
        numbered = numbered[1:]
    columns = max(len(header), 1)
    rows = []
    uneven = None
    for number, line in numbered:
        cells = line.split("\t")
        if len(cells) != columns:
            uneven = uneven or (number, len(cells))
            cells = (cells + [""] * columns)[:columns]
        rows.append(cells)
    warnings = []
    if uneven is not None:
        expected = f"{columns} as in the header" if header else "1, as the first line has no tab"
        warnings.append(
            f"{path} line {uneven[0]:,}: {plural(uneven[1], 'cell')}, expected {expected}; read as the projector "
            "reads it (extra cells dropped, missing ones empty)"
        )
    return header or ("label",), rows, warnings


def read_bookmarks(path: Path) -> list[dict[str, object]]:
    """The projector's saved States: a JSON list of objects."""
    try:
        value = orjson.loads(read_bytes(path))
    except orjson.JSONDecodeError as exc:
        raise ExportError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(value, list) or not all(isinstance(state, dict) for state in value):
        raise ExportError(f"{path}: expected a JSON list of bookmark objects")
    return value


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ExportError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def read_utf8(path: Path) -> str:
    data = read_bytes(path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ExportError(f"{path}: not UTF-8 (byte {exc.start:,})") from None
