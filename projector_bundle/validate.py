"""Check a projector bundle, ours or hand-made, the way the standalone projector will read it.

The rules follow tensorboard's `vz_projector/data-provider.ts` and
`data-provider-demo.ts`: the config is `ProjectorConfig`/`EmbeddingInfo` as JSON;
a `tensorPath` ending in `.bytes` is raw float32 (`tensorShape[1]` values a row),
any other is a TSV; the metadata and vectors TSVs are split on raw "\\n" and "\\t",
lines empty after JavaScript's trim() are skipped, and a first metadata line with
a tab is the header. Every check returns `Problem`s; nothing here raises or writes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TypeGuard, cast

import numpy as np
import orjson

from .formats import (
    BYTES_SUFFIX,
    CONFIG_JSON,
    FLOAT32_BYTES,
    GITHUB_FILE_LIMIT,
    JS_WHITESPACE,
    MANIFEST_JSON,
    PROJECTOR_CHUNK_BYTES,
    ROLE_TSV,
)
from .manifest import sha256_file
from .schema import CONFIG_KEYS, JSON_KEYS, KEY_EMBEDDINGS, PATH_FIELDS, SPRITE_JSON_KEYS, EmbeddingInfo, SpriteInfo

ERROR = "error"
WARNING = "warning"

KEY_TENSOR_NAME, KEY_TENSOR_SHAPE, KEY_SPRITE = JSON_KEYS["tensor_name"], JSON_KEYS["tensor_shape"], JSON_KEYS["sprite"]
KEY_SPRITE_IMAGE_PATH, KEY_SPRITE_SINGLE_IMAGE_DIM = (
    SPRITE_JSON_KEYS["image_path"],
    SPRITE_JSON_KEYS["single_image_dim"],
)

# Bytes a vectors TSV may hold besides tabs and newlines: what `%.9g` and
# hand-written decimals use. Letters would be labels, "nan" or "inf".
_NUMBER_BYTES = b"0123456789.eE+-\r\n"


@dataclass(frozen=True)
class Problem:
    """One finding: an error makes the bundle unusable, a warning is worth knowing."""

    severity: str  # ERROR or WARNING
    message: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.message}"


def error(message: str) -> Problem:
    return Problem(ERROR, message)


def warning(message: str) -> Problem:
    return Problem(WARNING, message)


def has_errors(problems: list[Problem]) -> bool:
    return any(p.severity == ERROR for p in problems)


def validate_bundle(folder: Path, *, reread: bool = True, check_sizes: bool = True) -> list[Problem]:
    """Every problem the projector would hit loading `folder`, in file order.

    The bundle step, which has just hashed the files and reports sizes itself, turns
    `reread` (the manifest's hashes and TSV shapes) and `check_sizes` off.
    """
    if not folder.is_dir():
        return [error(f"{folder}: no such folder")]
    config_file = folder / CONFIG_JSON
    if not config_file.is_file():
        return [error(f"{CONFIG_JSON}: missing")]
    try:
        config = orjson.loads(config_file.read_bytes())
    except orjson.JSONDecodeError as exc:
        return [error(f"{CONFIG_JSON}: not valid JSON ({exc})")]
    problems, infos = check_config(config)
    for info in infos:
        problems += check_embedding_files(folder, info)
    problems += check_manifest(folder, reread=reread)
    if check_sizes:
        problems += check_file_sizes(folder)
    return problems


# --- the config: pure checks on the parsed JSON ---


def check_config(config: object) -> tuple[list[Problem], list[EmbeddingInfo]]:
    """The schema of `ProjectorConfig`, and the embeddings whose files can be checked."""
    if not isinstance(config, dict):
        return [error(f"{CONFIG_JSON}: expected a JSON object, got {_json_type(config)}")], []
    problems = [warning(f"{CONFIG_JSON}: unknown key {key!r}") for key in config if key not in CONFIG_KEYS]
    embeddings = config.get(KEY_EMBEDDINGS)
    if not isinstance(embeddings, list) or not embeddings:
        got = "an empty list" if embeddings == [] else "nothing" if embeddings is None else _json_type(embeddings)
        return [*problems, error(f"{CONFIG_JSON}: {KEY_EMBEDDINGS!r} must be a non-empty list, got {got}")], []
    infos: list[EmbeddingInfo] = []
    names: set[str] = set()
    for index, entry in enumerate(embeddings):
        found, info = check_embedding_info(index, entry)
        problems += found
        if info is None:
            continue
        if info.tensor_name in names:
            # The projector looks tensors up by name: the second one could never be shown.
            where = f"{KEY_EMBEDDINGS}[{index}] ({info.tensor_name})"
            problems.append(error(f"{CONFIG_JSON}: {where}: tensorName {info.tensor_name!r} is used twice"))
        names.add(info.tensor_name)
        infos.append(info)
    return problems, infos


def check_embedding_info(index: int, info: object) -> tuple[list[Problem], EmbeddingInfo | None]:
    """The schema of one `EmbeddingInfo`; the parsed entry when it holds."""
    where = f"{CONFIG_JSON}: {KEY_EMBEDDINGS}[{index}]"
    if not isinstance(info, dict):
        return [error(f"{where}: expected an object, got {_json_type(info)}")], None
    name = info.get(KEY_TENSOR_NAME)
    if isinstance(name, str) and name:
        where = f"{where} ({name})"
    problems = [warning(f"{where}: unknown key {key!r}") for key in info if key not in JSON_KEYS.values()]
    if not isinstance(name, str) or not name:
        problems.append(error(f"{where}: {KEY_TENSOR_NAME} must be a non-empty string, got {_show(name)}"))
    shape = info.get(KEY_TENSOR_SHAPE)
    if not _is_pair_of_positive_ints(shape):
        problems.append(error(f"{where}: {KEY_TENSOR_SHAPE} must be [rows, dimensions] > 0, got {_show(shape)}"))
    elif shape[1] < 2:
        # parseTensors refuses one-dimensional vectors.
        problems.append(error(f"{where}: {KEY_TENSOR_SHAPE} has {shape[1]} dimension; the projector needs 2 or more"))
    for field in PATH_FIELDS:
        key, value = JSON_KEYS[field], info.get(JSON_KEYS[field])
        if value is None and field == "tensor_path":
            # Without a tensorPath the projector reads a TensorFlow checkpoint, which a static bundle has not.
            problems.append(error(f"{where}: no {key}; a static bundle has no checkpoint to read from"))
        elif value is not None:
            problems += check_relative_path(where, key, value)
    sprite = info.get(KEY_SPRITE)
    if sprite is not None:
        problems += check_sprite(where, sprite)
    if has_errors(problems):
        return problems, None
    # Every field has passed its check above: the entry holds the schema's types.
    rows, dim = cast(list[int], shape)
    sprite_info = None
    if sprite is not None:
        width, height = sprite[KEY_SPRITE_SINGLE_IMAGE_DIM]
        sprite_info = SpriteInfo(sprite[KEY_SPRITE_IMAGE_PATH], (width, height))
    parsed = EmbeddingInfo(
        tensor_name=cast(str, name),
        tensor_shape=(rows, dim),
        tensor_path=info[JSON_KEYS["tensor_path"]],
        metadata_path=info.get(JSON_KEYS["metadata_path"]),
        bookmarks_path=info.get(JSON_KEYS["bookmarks_path"]),
        sprite=sprite_info,
    )
    return problems, parsed


def check_sprite(where: str, sprite: object) -> list[Problem]:
    if not isinstance(sprite, dict):
        return [error(f"{where}: {KEY_SPRITE} must be an object, got {_json_type(sprite)}")]
    known = SPRITE_JSON_KEYS.values()
    problems = [warning(f"{where}: {KEY_SPRITE}: unknown key {key!r}") for key in sprite if key not in known]
    dims = sprite.get(KEY_SPRITE_SINGLE_IMAGE_DIM)
    if not _is_pair_of_positive_ints(dims):
        problems.append(
            error(f"{where}: {KEY_SPRITE}.{KEY_SPRITE_SINGLE_IMAGE_DIM} must be [width, height] > 0, got {_show(dims)}")
        )
    path = sprite.get(KEY_SPRITE_IMAGE_PATH)
    return problems + check_relative_path(where, f"{KEY_SPRITE}.{KEY_SPRITE_IMAGE_PATH}", path)


def check_relative_path(where: str, key: str, value: object) -> list[Problem]:
    """A path the page can fetch from inside the bundle: relative, no `..`, not a URL."""
    if not isinstance(value, str) or not value:
        return [error(f"{where}: {key} must be a non-empty string, got {_show(value)}")]
    if "://" in value or value.startswith(("//", "data:", "blob:")):
        return [error(f"{where}: {key} {value!r} is a URL; a bundle must hold its own files")]
    if "\\" in value:
        return [error(f"{where}: {key} {value!r} uses a backslash; URLs need '/'")]
    if any(ch in value for ch in "?#%"):
        # The page fetches the path as a URL: these would start a query or fragment, or an escape.
        return [error(f"{where}: {key} {value!r} holds '?', '#' or '%', which a URL reads differently")]
    path = PurePosixPath(value)
    if path.is_absolute() or (path.parts and path.parts[0].endswith(":")):
        return [error(f"{where}: {key} {value!r} is absolute; it must be relative to the bundle")]
    if ".." in path.parts:
        return [error(f"{where}: {key} {value!r} leaves the bundle folder")]
    return []


# --- the files the config names ---


def check_embedding_files(folder: Path, info: EmbeddingInfo) -> list[Problem]:
    problems: list[Problem] = []
    rows, dim = info.tensor_shape
    tensor = _inside(folder, info.tensor_path)
    if isinstance(tensor, Problem):
        problems.append(tensor)
    elif info.tensor_path.endswith(BYTES_SUFFIX):
        problems += check_tensor_bytes(tensor, info.tensor_path, rows, dim)
    else:
        problems += check_tensor_tsv(tensor, info.tensor_path, rows, dim)
    if info.metadata_path is not None:
        metadata = _inside(folder, info.metadata_path)
        if isinstance(metadata, Problem):
            problems.append(metadata)
        else:
            problems += check_metadata(metadata, info.metadata_path, rows)
    if info.bookmarks_path is not None:
        bookmarks = _inside(folder, info.bookmarks_path)
        problems += [bookmarks] if isinstance(bookmarks, Problem) else check_bookmarks(bookmarks, info.bookmarks_path)
    if info.sprite is not None:
        sprite = _inside(folder, info.sprite.image_path)
        if isinstance(sprite, Problem):
            problems.append(sprite)
    return problems


def _inside(folder: Path, relative: str) -> Path | Problem:
    """The file `relative` names, if it exists and, symlinks followed, stays inside `folder`."""
    path = folder / relative
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return error(f"{relative}: missing")
    if not resolved.is_relative_to(folder.resolve()):
        return error(f"{relative}: a link to {resolved}, outside the bundle folder")
    if not resolved.is_file():
        return error(f"{relative}: not a file")
    return resolved


def check_tensor_bytes(path: Path, name: str, rows: int, dim: int) -> list[Problem]:
    expected = rows * dim * FLOAT32_BYTES
    size = path.stat().st_size
    if size != expected:
        return [
            error(f"{name}: {size:,} bytes, expected {rows:,} rows x {dim} dimensions x {FLOAT32_BYTES} = {expected:,}")
        ]
    values = np.memmap(path, dtype="<f4", mode="r") if size else np.zeros(0, "<f4")
    return _non_finite(name, values, dim)


def _non_finite(name: str, values: np.ndarray, dim: int) -> list[Problem]:
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size == 0:
        return []
    # NaN or infinity breaks PCA and t-SNE for every point, not only its own.
    return [error(f"{name}: {plural(bad.size, 'NaN or infinite value')} (the first in row {bad[0] // dim + 1:,})")]


def check_tensor_tsv(path: Path, name: str, rows: int, dim: int) -> list[Problem]:
    """Every non-blank line holds `dim` numbers; there are `rows` of them."""
    problems: list[Problem] = []
    count = 0
    for number, line in _lines(path):
        if not line.strip():
            continue  # parseTensors skips blank lines (bytes.strip covers ASCII; other bytes fail below)
        count += 1
        fields = line.count(b"\t") + 1
        if fields != dim:
            problems.append(error(f"{name} line {number:,}: {plural(fields, 'field')}, expected {dim}"))
        elif line.translate(None, b"\t" + _NUMBER_BYTES) or b"\t\t" in line or line.startswith(b"\t"):
            problems.append(error(f"{name} line {number:,}: a field is not a finite number"))
        if len(problems) >= 5:
            problems.append(error(f"{name}: stopped after 5 bad lines"))
            return problems
    if count != rows:
        problems.append(error(f"{name}: {plural(count, 'row')}, but {KEY_TENSOR_SHAPE} says {rows:,}"))
    return problems


def check_metadata(path: Path, name: str, rows: int) -> list[Problem]:
    """The header rule, one cell count for every row, no label lost, and one row per vector."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [error(f"{name}: not UTF-8 (byte {exc.start:,}); the projector would show U+FFFD")]
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the final newline ends the last row; it does not start a new one
    problems = check_chunk_boundaries(raw, name)
    if any(line.endswith("\r") for line in lines):
        problems.append(warning(f"{name}: CRLF line ends; the projector keeps the \\r in the last column"))
    # The projector skips lines that are blank after trim(): harmless between rows, but a
    # label that trims to nothing is lost, and every later label moves up one vector.
    data = [(number, line) for number, line in enumerate(lines, 1) if line.strip(JS_WHITESPACE)]
    blank = [number for number, line in enumerate(lines, 1) if not line.strip(JS_WHITESPACE)]
    if not data:
        return [*problems, error(f"{name}: no rows, but the tensor has {rows:,}")]
    first = data[0][1]
    columns = first.count("\t") + 1
    if columns > 1:
        data = data[1:]  # the projector takes a first line with a tab as the header
    for number, line in data:
        fields = line.count("\t") + 1
        if fields != columns:
            expected = f"{columns} as in the header" if columns > 1 else "1, as the first line has no tab"
            problems.append(error(f"{name} line {number:,}: {plural(fields, 'field')}, expected {expected}"))
            break
    if len(data) != rows:
        header = " after the header" if columns > 1 else ""
        lost = f" (line {blank[0]:,} is blank, and the projector skips blank lines)" if blank else ""
        problems.append(error(f"{name}: {plural(len(data), 'row')}{header}, but the tensor has {rows:,}{lost}"))
    return problems


def check_chunk_boundaries(raw: bytes, name: str) -> list[Problem]:
    """A character cut in two by a chunk boundary becomes U+FFFD in the projector."""
    problems = []
    for offset in range(PROJECTOR_CHUNK_BYTES, len(raw), PROJECTOR_CHUNK_BYTES):
        if raw[offset] & 0xC0 == 0x80:  # a UTF-8 continuation byte: the character began before
            line = raw.count(b"\n", 0, offset) + 1
            problems.append(
                warning(
                    f"{name}: byte {offset:,} is inside a multi-byte character on line {line:,}; the projector "
                    f"decodes {PROJECTOR_CHUNK_BYTES:,}-byte chunks separately and will show U+FFFD there"
                )
            )
    return problems


def check_bookmarks(path: Path, name: str) -> list[Problem]:
    try:
        value = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        return [error(f"{name}: not valid JSON ({exc})")]
    if not isinstance(value, list):
        return [error(f"{name}: expected a JSON list of bookmarks, got {_json_type(value)}")]
    return []


# --- the folder as a whole ---


def check_manifest(folder: Path, *, reread: bool = True) -> list[Problem]:
    """When a manifest is present: every file it lists keeps its size and, read again,
    its sha256, and the vectors TSVs it lists (the config names only the `.bytes`) hold
    their shapes. `reread=False` checks sizes only: for a bundle this process just wrote."""
    path = folder / MANIFEST_JSON
    if not path.is_file():
        return []
    try:
        manifest = orjson.loads(path.read_bytes())
        files = [(str(name), int(entry["size"]), str(entry["sha256"])) for name, entry in manifest["files"].items()]
        tsvs = [(t["files"][ROLE_TSV], *t["shape"]) for t in manifest.get("tensors", []) if ROLE_TSV in t["files"]]
        tsvs = [(str(name), int(rows), int(dim)) for name, rows, dim in tsvs]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        return [error(f"{MANIFEST_JSON}: not a manifest of this tool (expected 'files' with size and sha256)")]
    problems: list[Problem] = []
    for name, size, digest in files:
        file = _inside(folder, name) if not check_relative_path(MANIFEST_JSON, "file", name) else None
        if not isinstance(file, Path):
            problems.append(error(f"{name}: missing, but listed in {MANIFEST_JSON}"))
        elif file.stat().st_size != size:
            problems.append(error(f"{name}: {file.stat().st_size:,} bytes, but {MANIFEST_JSON} says {size:,}"))
        elif reread and sha256_file(file) != digest:
            problems.append(error(f"{name}: its sha256 differs from the one in {MANIFEST_JSON}"))
    for name, rows, dim in tsvs if reread else []:
        file = _inside(folder, name) if not check_relative_path(MANIFEST_JSON, "file", name) else None
        if isinstance(file, Path):
            problems += check_tensor_tsv(file, name, rows, dim)
    return problems


def check_file_sizes(folder: Path) -> list[Problem]:
    limit_mib = GITHUB_FILE_LIMIT // (1024 * 1024)
    return [
        warning(f"{path.relative_to(folder).as_posix()}: {_mib(size)} MiB, over GitHub's {limit_mib} MiB file limit")
        for path, size in sorted(_file_sizes(folder))
        if size > GITHUB_FILE_LIMIT
    ]


def _file_sizes(folder: Path) -> Iterator[tuple[Path, int]]:
    for path in folder.rglob("*"):
        if path.is_file():
            yield path, path.stat().st_size


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with open(path, "rb") as file:
        for number, line in enumerate(file, 1):
            yield number, line.rstrip(b"\n")


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def _mib(size: int) -> str:
    return f"{math.floor(size / (1024 * 1024) * 10) / 10:.1f}"


def _is_pair_of_positive_ints(value: object) -> TypeGuard[list[int]]:
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in value)
    )


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def _show(value: object) -> str:
    return "nothing" if value is None else orjson.dumps(value).decode()
