"""`manifest.json`: what made a bundle, and the size and sha256 of every other file in it.

It is written last, so its presence also marks a folder this tool wrote completely:
`bundle` replaces such a folder freely and asks for --force for any other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson

from projector_bundle.files import read_bounded
from projector_bundle.projector.formats import MANIFEST_JSON

GENERATOR = "export.py"
_READ_CHUNK = 1 << 20
# A manifest lists a few dozen files in a few kB; a far larger one is not ours to read whole.
MAX_MANIFEST_BYTES = 16 * 2**20


@dataclass(frozen=True)
class Provenance:
    """How a bundle was made. `created` follows SOURCE_DATE_EPOCH when set."""

    tool_version: str
    model_name: str
    model_revision: str | None
    command: str
    created: str


def utc_time(seconds: float | None = None) -> str:
    """An ISO 8601 UTC time, to the second, as `created` is written: now, or `seconds` since 1970.

    Raises:
        ValueError, OverflowError, OSError: for seconds no date can hold.
    """
    moment = datetime.now(UTC) if seconds is None else datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class TensorEntry:
    name: str
    shape: tuple[int, int]
    columns: Sequence[str]
    files: dict[str, str]  # role (formats.ROLE_*) -> file name
    # How the shipped vectors were cut from the model's (`--sample`, `--dims`); empty when they were not.
    reduced: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class WrittenFile:
    """What the manifest needs of a file: taken while its bytes were written, or read back."""

    size: int
    sha256: str


def hash_files(folder: Path, known: Mapping[str, WrittenFile]) -> dict[str, WrittenFile]:
    """Size and sha256 of every file in `folder` but the manifest, by relative POSIX path:
    from `known` for the files whose writer hashed them, read back for the rest."""
    records = {}
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if path.is_file() and name != MANIFEST_JSON:
            records[name] = known.get(name) or WrittenFile(path.stat().st_size, sha256_file(path))
    return records


def build_manifest(
    provenance: Provenance, tensors: Sequence[TensorEntry], files: Mapping[str, WrittenFile]
) -> dict[str, object]:
    """The manifest: provenance, each tensor's shape, columns and files, and every file's size and hash."""
    return {
        "generator": GENERATOR,
        "version": provenance.tool_version,
        "created": provenance.created,
        "command": provenance.command,
        "model": {"name": provenance.model_name, "revision": provenance.model_revision},
        "tensors": [
            {
                "name": t.name,
                "shape": list(t.shape),
                "columns": list(t.columns),
                "files": dict(sorted(t.files.items())),
                **({"reduced": dict(t.reduced)} if t.reduced else {}),
            }
            for t in tensors
        ],
        "files": {name: {"size": r.size, "sha256": r.sha256} for name, r in sorted(files.items())},
    }


def read_our_manifest(folder: Path) -> dict[str, object] | None:
    """The manifest in `folder` if this tool wrote it; None for a missing, foreign or unreadable one
    (a FIFO, a link to /dev/zero or a file past `MAX_MANIFEST_BYTES` among them)."""
    try:
        manifest = orjson.loads(read_bounded(folder / MANIFEST_JSON, MAX_MANIFEST_BYTES))
    except (OSError, orjson.JSONDecodeError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("generator") == GENERATOR else None


def is_our_bundle(folder: Path) -> bool:
    """Whether `folder` holds a manifest this tool wrote."""
    return read_our_manifest(folder) is not None


def listed_files(folder: Path) -> set[str] | None:
    """The files of `folder` that this tool wrote, as its manifest lists them (and the manifest
    itself); None where the folder has no manifest of ours."""
    manifest = read_our_manifest(folder)
    if manifest is None:
        return None
    files = manifest.get("files")
    names = {name for name in files if isinstance(name, str)} if isinstance(files, dict) else set()
    return names | {MANIFEST_JSON}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(_READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
