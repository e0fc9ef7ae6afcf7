"""Check a projector bundle, ours or hand-made, the way the standalone projector will read it.

The rules follow tensorboard's `vz_projector/data-provider.ts` and
`data-provider-demo.ts`: the config is `ProjectorConfig`/`EmbeddingInfo` as JSON;
a `tensorPath` ending in `.bytes` is raw float32 (`tensorShape[1]` values a row),
any other is a TSV; the metadata and vectors TSVs are split on raw "\\n" and "\\t",
lines empty after JavaScript's trim() are skipped, and a first metadata line with
a tab is the header. Every check returns `Problem`s; nothing here raises or writes.
"""

from __future__ import annotations

import codecs
import errno
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple, TypeGuard, cast

import numpy as np
import orjson

from projector_bundle.files import TooLargeError, read_bounded
from projector_bundle.output.manifest import sha256_file
from projector_bundle.projector.formats import (
    BYTES_SUFFIX,
    CONFIG_JSON,
    FLOAT32_BYTES,
    GITHUB_FILE_LIMIT,
    JS_WHITESPACE,
    MANIFEST_JSON,
    PROJECTOR_CHUNK_BYTES,
    ROLE_TSV,
)
from projector_bundle.projector.schema import (
    CONFIG_KEYS,
    JSON_KEYS,
    KEY_EMBEDDINGS,
    KEY_MODEL_CHECKPOINT_DIR,
    KEY_MODEL_CHECKPOINT_PATH,
    PATH_FIELDS,
    SPRITE_JSON_KEYS,
    EmbeddingInfo,
    SpriteInfo,
)
from projector_bundle.text import plural

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


def folder_problem(folder: Path) -> str | None:
    """Why `folder` is no bundle folder to read (missing, a file, a name the system refuses), or None."""
    try:
        is_folder = folder.is_dir()
    except (OSError, ValueError) as exc:  # a name too long, or a NUL byte in it
        return f"{folder!s:.200}: cannot be opened ({_why(exc)})"
    if is_folder:
        return None
    return f"{folder}: {'not a folder' if os.path.lexists(folder) else 'no such folder'}"


def validate_bundle(folder: Path, *, reread: bool = True, check_sizes: bool = True) -> list[Problem]:
    """Every problem the projector would hit loading `folder`, in file order.

    The bundle step, which has just hashed the files, checked the vectors were finite
    before writing them, written the bookmarks from a list and reports sizes itself, turns
    `reread` (the manifest's hashes, TSV shapes, the `.bytes` values and the bookmarks'
    JSON) and `check_sizes` off.
    """
    missing = folder_problem(folder)
    if missing is not None:
        return [error(missing)]
    config = read_json(folder, CONFIG_JSON)
    if isinstance(config, Problem):
        return [config]
    problems, infos = check_config(config)
    for info in infos:
        problems += check_embedding_files(folder, info, reread=reread)
    problems += check_manifest(folder, reread=reread)
    problems += check_links(folder)
    if check_sizes:
        problems += check_file_sizes(folder)
    return list(dict.fromkeys(problems))  # a link out is found both by the config and by the walk


# --- the config: pure checks on the parsed JSON ---


def check_config(config: object) -> tuple[list[Problem], list[EmbeddingInfo]]:
    """The schema of `ProjectorConfig`, and the embeddings whose files can be checked."""
    if not isinstance(config, dict):
        return [error(f"{CONFIG_JSON}: expected a JSON object, got {_json_type(config)}")], []
    problems = [warning(f"{CONFIG_JSON}: unknown key {key!r}") for key in config if key not in CONFIG_KEYS]
    for key in (KEY_MODEL_CHECKPOINT_PATH, KEY_MODEL_CHECKPOINT_DIR):
        if key in config:  # unused by a static bundle, but never a path outside it
            problems += check_relative_path(CONFIG_JSON, key, config[key])
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


def check_embedding_files(folder: Path, info: EmbeddingInfo, *, reread: bool = True) -> list[Problem]:
    problems: list[Problem] = []
    rows, dim = info.tensor_shape
    tensor = _inside(folder, info.tensor_path)
    if isinstance(tensor, Problem):
        problems.append(tensor)
    elif info.tensor_path.endswith(BYTES_SUFFIX):
        problems += check_tensor_bytes(tensor, info.tensor_path, rows, dim, scan=reread)
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
        if isinstance(bookmarks, Problem):
            problems.append(bookmarks)
        elif reread:
            problems += check_bookmarks(bookmarks, info.bookmarks_path, rows)
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
        inside = resolved.is_relative_to(folder.resolve())
        is_file = resolved.is_file()
    except RuntimeError:  # Python 3.11 reports a loop of links this way
        return error(f"{relative}: a loop of symbolic links")
    except OSError as exc:  # missing, a loop of links, a name too long
        if exc.errno == errno.ELOOP:
            return error(f"{relative}: a loop of symbolic links")
        return error(f"{relative}: missing")
    except ValueError:  # a NUL byte, which no file name can hold
        return error(f"{relative!r}: not a possible file name (it holds a NUL byte)")
    if not inside:
        return error(f"{relative}: a link to {resolved}, outside the bundle folder")
    if not is_file:
        return error(f"{relative}: not a file")
    return resolved


# JSON files a bundle describes itself with are small; a larger one is not ours to read whole.
MAX_JSON_BYTES = 64 * 1024 * 1024


def read_json(folder: Path, name: str) -> object | Problem:
    """A small JSON file of the bundle, read only when it stays inside the folder."""
    path = _inside(folder, name)
    if isinstance(path, Problem):
        return path
    try:
        return orjson.loads(read_bounded(path, MAX_JSON_BYTES))
    except TooLargeError as exc:
        return error(f"{name}: {exc.strerror}; expected a JSON file")
    except orjson.JSONDecodeError as exc:
        return error(f"{name}: not valid JSON ({exc})")
    except OSError as exc:
        return error(f"{name}: cannot be read ({exc.strerror})")


def _why(exc: Exception) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


# Bytes read at once by the streaming checks: memory stays near this whatever the file size.
READ_BYTES = 1 << 22


def check_tensor_bytes(path: Path, name: str, rows: int, dim: int, *, scan: bool = True) -> list[Problem]:
    """The size the shape implies, and (with `scan`) only finite values, read `READ_BYTES` at a time."""
    expected = rows * dim * FLOAT32_BYTES
    size = path.stat().st_size
    if size != expected:
        return [
            error(f"{name}: {size:,} bytes, expected {rows:,} rows x {dim} dimensions x {FLOAT32_BYTES} = {expected:,}")
        ]
    if not scan:
        return []
    bad = 0
    first = -1
    buffer = bytearray(READ_BYTES - READ_BYTES % FLOAT32_BYTES)
    done = 0  # values checked so far
    with open(path, "rb") as file:
        while count := file.readinto(buffer):
            values = np.frombuffer(buffer, dtype="<f4", count=count // FLOAT32_BYTES)
            where = np.flatnonzero(~np.isfinite(values))
            if where.size and first < 0:
                first = done + int(where[0])
            bad += where.size
            done += values.size
    if bad == 0:
        return []
    # NaN or infinity breaks PCA and t-SNE for every point, not only its own.
    return [error(f"{name}: {plural(bad, 'NaN or infinite value')} (the first in row {first // dim + 1:,})")]


# A vectors TSV line longer than this per value is not numbers: `%.9g` needs at most 16 bytes.
MAX_TSV_BYTES_PER_VALUE = 64


def check_tensor_tsv(path: Path, name: str, rows: int, dim: int) -> list[Problem]:
    """Every non-blank line holds `dim` numbers; there are `rows` of them. Lines are read
    one at a time and never beyond what `dim` numbers could take."""
    problems: list[Problem] = []
    count = 0
    limit = dim * MAX_TSV_BYTES_PER_VALUE + 2
    for number, line in _lines(path, limit):
        if len(line) >= limit:
            problems.append(error(f"{name} line {number:,}: over {limit:,} bytes, too long for {dim} numbers"))
            return problems  # the rest of such a file is not worth reading
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


class _MetadataLine(NamedTuple):
    """What the metadata rules need of one line."""

    number: int
    tabs: int
    blank: bool  # empty after JavaScript's trim()
    last: str  # its last character, for the CRLF warning


def check_metadata(path: Path, name: str, rows: int) -> list[Problem]:
    """The header rule, one cell count for every row, no label lost, and one row per vector.

    Read in pieces of at most `READ_BYTES`, so memory stays bounded even for one huge line.
    """
    problems: list[Problem] = []
    crlf = False
    columns = 0  # of the first non-blank line; 0 until it is read
    data_rows = 0
    first_blank = 0
    mismatch: Problem | None = None
    try:
        for line in _metadata_lines(path, name, problems):
            crlf = crlf or line.last == "\r"
            if line.blank:
                # The projector skips lines that are blank after trim(): harmless between rows, but a
                # label that trims to nothing is lost, and every later label moves up one vector.
                first_blank = first_blank or line.number
                continue
            fields = line.tabs + 1
            if columns == 0:
                columns = fields
                if columns > 1:
                    continue  # the projector takes a first line with a tab as the header
            data_rows += 1
            if fields != columns and mismatch is None:
                expected = f"{columns} as in the header" if columns > 1 else "1, as the first line has no tab"
                mismatch = error(f"{name} line {line.number:,}: {plural(fields, 'field')}, expected {expected}")
    except _NotUtf8 as exc:
        return [error(f"{name}: not UTF-8 (byte {exc.offset:,}); the projector would show U+FFFD")]
    if crlf:
        problems.append(warning(f"{name}: CRLF line ends; the projector keeps the \\r in the last column"))
    if columns == 0:
        return [*problems, error(f"{name}: no rows, but the tensor has {rows:,}")]
    if mismatch is not None:
        problems.append(mismatch)
    if data_rows != rows:
        header = " after the header" if columns > 1 else ""
        lost = f" (line {first_blank:,} is blank, and the projector skips blank lines)" if first_blank else ""
        problems.append(error(f"{name}: {plural(data_rows, 'row')}{header}, but the tensor has {rows:,}{lost}"))
    return problems


class _NotUtf8(Exception):
    def __init__(self, offset: int) -> None:
        self.offset = offset


def _metadata_lines(path: Path, name: str, warnings: list[Problem]) -> Iterator[_MetadataLine]:
    """The lines of a metadata file, each summarised; chunk-boundary warnings go to `warnings`.

    The file is read and decoded `READ_BYTES` at a time and split into lines there (a
    readline and a decode per line took 1.5 us a line). A line that runs on past a piece
    is carried as its summary, never as its text.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    number = 1
    # The summary of the line read so far; its last character is "" until it has one.
    tabs, blank, last = 0, True, ""
    with open(path, "rb") as file:
        while piece := file.read(READ_BYTES):
            warnings += check_chunk_boundaries(piece, name, offset=offset, line=number)
            try:
                text = decoder.decode(piece, final=False)
            except UnicodeDecodeError as exc:
                raise _NotUtf8(offset + exc.start - len(exc.object) + len(piece)) from None
            offset += len(piece)
            *ended, rest = text.split("\n")
            for body in ended:
                yield _MetadataLine(
                    number, tabs + body.count("\t"), blank and not body.strip(JS_WHITESPACE), body[-1:] or last
                )
                number += 1
                tabs, blank, last = 0, True, ""
            if rest:
                tabs += rest.count("\t")
                blank = blank and not rest.strip(JS_WHITESPACE)
                last = rest[-1:]
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise _NotUtf8(offset - len(decoder.getstate()[0])) from None
    if last:  # a last line without a newline
        yield _MetadataLine(number, tabs, blank, last)


def check_chunk_boundaries(raw: bytes, name: str, *, offset: int = 0, line: int = 1) -> list[Problem]:
    """A character cut in two by a chunk boundary becomes U+FFFD in the projector.

    `raw` starts at byte `offset` of the file, on line `line`; it is a whole file or one piece of a line.
    """
    problems = []
    first = max(PROJECTOR_CHUNK_BYTES, -(-offset // PROJECTOR_CHUNK_BYTES) * PROJECTOR_CHUNK_BYTES)
    for boundary in range(first, offset + len(raw), PROJECTOR_CHUNK_BYTES):
        if raw[boundary - offset] & 0xC0 == 0x80:  # a UTF-8 continuation byte: the character began before
            at = line + raw.count(b"\n", 0, boundary - offset)
            problems.append(
                warning(
                    f"{name}: byte {boundary:,} is inside a multi-byte character on line {at:,}; the projector "
                    f"decodes {PROJECTOR_CHUNK_BYTES:,}-byte chunks separately and will show U+FFFD there"
                )
            )
    return problems


def check_bookmarks(path: Path, name: str, rows: int) -> list[Problem]:
    """A list of `State` objects whose `projections` (one object of coordinates per point) the
    projector's loadState can copy onto the tensor's points: read at most `MAX_JSON_BYTES`."""
    try:
        value = orjson.loads(read_bounded(path, MAX_JSON_BYTES))
    except TooLargeError as exc:
        return [error(f"{name}: {exc.strerror}; expected a JSON file")]
    except OSError as exc:
        return [error(f"{name}: cannot be read ({exc.strerror})")]
    except orjson.JSONDecodeError as exc:
        return [error(f"{name}: not valid JSON ({exc})")]
    if not isinstance(value, list):
        return [error(f"{name}: expected a JSON list of bookmarks, got {_json_type(value)}")]
    for number, state in enumerate(value, start=1):
        if not isinstance(state, dict):
            return [error(f"{name}: bookmark {number} is {_json_type(state)}, expected an object")]
        projections = state.get("projections")
        if not isinstance(projections, list) or not all(isinstance(p, dict) for p in projections):
            got = _json_type(projections) if not isinstance(projections, list) else "a list with a non-object"
            return [error(f"{name}: bookmark {number}: 'projections' must be a list of objects, got {got}")]
        if len(projections) > rows:
            # loadState copies projections[i] onto point i: one past the last point breaks the page.
            return [
                error(
                    f"{name}: bookmark {number}: {plural(len(projections), 'projection')}, but the tensor has {rows:,}"
                )
            ]
    return []


# --- the folder as a whole ---


def check_manifest(folder: Path, *, reread: bool = True) -> list[Problem]:
    """When a manifest is present: every file it lists keeps its size and, read again,
    its sha256, and the vectors TSVs it lists (the config names only the `.bytes`) hold
    their shapes. `reread=False` checks sizes only: for a bundle this process just wrote."""
    if not (folder / MANIFEST_JSON).exists() and not (folder / MANIFEST_JSON).is_symlink():
        return []
    manifest: Any = read_json(folder, MANIFEST_JSON)  # its shape is checked by the reads below
    if isinstance(manifest, Problem):
        return [manifest]
    try:
        files = [(str(name), entry["size"], entry["sha256"]) for name, entry in manifest["files"].items()]
        wrong = next(((n, z, d) for n, z, d in files if not _is_size(z) or not isinstance(d, str)), None)
        if wrong is not None:
            return [
                error(
                    f"{MANIFEST_JSON}: {wrong[0]}: size must be a whole number of bytes and sha256 a string, "
                    f"got {_show(wrong[1])} and {_show(wrong[2])}"
                )
            ]
        tsvs = [(t["files"][ROLE_TSV], *t["shape"]) for t in manifest.get("tensors", []) if ROLE_TSV in t["files"]]
        tsvs = [(str(name), int(rows), int(dim)) for name, rows, dim in tsvs]
    except (KeyError, TypeError, ValueError, AttributeError):
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


def check_links(folder: Path) -> list[Problem]:
    """Every symbolic link in the folder stays inside it: a link to / or .. would let a
    server or a host that follows links publish files that are not the bundle's."""
    root = folder.resolve()
    problems = []
    for path in sorted(_walk(folder, links=True)):
        if not path.is_symlink():
            continue
        name = path.relative_to(folder).as_posix()
        try:
            resolved = path.resolve(strict=False)
        except (RuntimeError, OSError):
            problems.append(error(f"{name}: a loop of symbolic links"))
            continue
        if not resolved.is_relative_to(root):
            problems.append(error(f"{name}: a link to {resolved}, outside the bundle folder"))
    return problems


def check_file_sizes(folder: Path) -> list[Problem]:
    limit_mib = GITHUB_FILE_LIMIT // (1024 * 1024)
    return [
        warning(f"{path.relative_to(folder).as_posix()}: {_mib(size)} MiB, over GitHub's {limit_mib} MiB file limit")
        for path, size in sorted(_file_sizes(folder))
        if size > GITHUB_FILE_LIMIT
    ]


def _file_sizes(folder: Path) -> Iterator[tuple[Path, int]]:
    """Every regular file under `folder`, links not followed, with its size."""
    for path in _walk(folder):
        yield path, path.stat(follow_symlinks=False).st_size


def _walk(folder: Path, *, links: bool = False) -> Iterator[Path]:
    """Every regular file under `folder` (and with `links` every symbolic link), links not
    followed; a stack, not recursion, so a folder nested a thousand levels deep is walked
    like any other."""
    stack = [folder]
    while stack:
        current = stack.pop()
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue  # unreadable or gone: nothing in it can be served either
        for entry in entries:
            if entry.is_symlink():
                if links:
                    yield Path(entry.path)
            elif entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
            elif entry.is_file(follow_symlinks=False):
                yield Path(entry.path)


def _lines(path: Path, limit: int) -> Iterator[tuple[int, bytes]]:
    """Lines without their newline; a line longer than `limit` comes cut to `limit` bytes."""
    with open(path, "rb") as file:
        number = 0
        while line := file.readline(limit):
            number += 1
            yield number, line.rstrip(b"\n")


def _mib(size: int) -> str:
    return f"{math.floor(size / (1024 * 1024) * 10) / 10:.1f}"


def _is_size(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


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
