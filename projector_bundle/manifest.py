"""`manifest.json`: what made a bundle, and the size and sha256 of every other file in it.

It is written last, so its presence also marks a folder this tool wrote completely:
`bundle` replaces such a folder freely and asks for --force for any other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from .formats import MANIFEST_JSON

GENERATOR = "export.py"
_READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class Provenance:
    """How a bundle was made. `created` follows SOURCE_DATE_EPOCH when set."""

    tool_version: str
    model_name: str
    model_revision: str | None
    command: str
    created: str


@dataclass(frozen=True)
class TensorEntry:
    name: str
    shape: tuple[int, int]
    columns: Sequence[str]
    files: dict[str, str]  # role ("bytes", "tsv", "metadata") -> file name


def build_manifest(provenance: Provenance, tensors: Sequence[TensorEntry], folder: Path) -> dict[str, object]:
    """The manifest of the files now in `folder` (all of them but the manifest itself)."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.relative_to(folder).as_posix() != MANIFEST_JSON)
    return {
        "generator": GENERATOR,
        "version": provenance.tool_version,
        "created": provenance.created,
        "command": provenance.command,
        "model": {"name": provenance.model_name, "revision": provenance.model_revision},
        "tensors": [
            {"name": t.name, "shape": list(t.shape), "columns": list(t.columns), "files": dict(sorted(t.files.items()))}
            for t in tensors
        ],
        "files": {
            p.relative_to(folder).as_posix(): {"size": p.stat().st_size, "sha256": sha256_file(p)} for p in files
        },
    }


def write_manifest(folder: Path, manifest: dict[str, object]) -> None:
    (folder / MANIFEST_JSON).write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n")


def is_our_bundle(folder: Path) -> bool:
    """Whether `folder` holds a manifest this tool wrote."""
    try:
        manifest = orjson.loads((folder / MANIFEST_JSON).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return False
    return isinstance(manifest, dict) and manifest.get("generator") == GENERATOR


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(_READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
