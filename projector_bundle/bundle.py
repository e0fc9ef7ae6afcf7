"""Assemble a bundle: decide everything in memory, then write it into a temporary
folder beside the target and swap it in, so a failed run leaves the last good bundle."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import ExportError
from .formats import (
    CONFIG_JSON,
    KEY_BOOKMARKS_PATH,
    KEY_EMBEDDINGS,
    KEY_METADATA_PATH,
    KEY_TENSOR_NAME,
    KEY_TENSOR_PATH,
    KEY_TENSOR_SHAPE,
    PAGE_HTML,
    TensorFiles,
)
from .page import PageInfo, copy_projector, render_page
from .writers import write_json, write_metadata, write_tensor_bytes, write_tensor_tsv


@dataclass(frozen=True)
class Tensor:
    """One tensor of a bundle: its name in the projector, its vectors and their labels."""

    name: str
    matrix: np.ndarray
    header: Sequence[str]
    rows: Sequence[Sequence[str]]
    files: TensorFiles
    bookmarks: Sequence[Mapping[str, object]] = ()  # the projector's saved `State`s, if any

    def __post_init__(self) -> None:
        if len(self.rows) != self.matrix.shape[0]:
            raise ExportError(
                f"tensor {self.name}: metadata has {len(self.rows)} rows but the tensor has {self.matrix.shape[0]}"
            )


def build_config(tensors: Sequence[Tensor]) -> dict[str, object]:
    """The standalone projector's config; every path is relative to the page."""
    return {
        KEY_EMBEDDINGS: [
            {
                KEY_TENSOR_NAME: t.name,
                KEY_TENSOR_SHAPE: list(t.matrix.shape),
                KEY_TENSOR_PATH: t.files.bytes,
                KEY_METADATA_PATH: t.files.metadata,
            }
            | ({KEY_BOOKMARKS_PATH: t.files.bookmarks} if t.bookmarks else {})
            for t in tensors
        ]
    }


def check_target(out: Path) -> None:
    """Fail before any work if `out` cannot become a bundle folder."""
    if out.exists() and not out.is_dir():
        raise ExportError(f"--out {out}: is a file, not a folder")
    parent = out.resolve().parent
    if parent.exists() and not parent.is_dir():
        raise ExportError(f"--out {out}: {parent} is not a folder")


def write_bundle(out: Path, tensors: Sequence[Tensor], page: PageInfo, *, tsv: bool = True) -> None:
    """Write every file of the bundle into a fresh folder, then swap it in for `out`."""
    check_target(out)
    parent = out.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=parent))
    except OSError as exc:
        raise ExportError(f"--out {out}: cannot create a folder in {parent}: {exc.strerror}") from None
    try:
        os.chmod(staging, 0o755)  # mkdtemp makes it private; a bundle is meant to be served
        for t in tensors:
            write_tensor_bytes(staging / t.files.bytes, t.matrix)
            if tsv:
                write_tensor_tsv(staging / t.files.tsv, t.matrix)
            write_metadata(staging / t.files.metadata, t.header, t.rows)
            if t.bookmarks:
                write_json(staging / t.files.bookmarks, list(t.bookmarks), indent=False)
        write_json(staging / CONFIG_JSON, build_config(tensors))
        copy_projector(staging)
        (staging / PAGE_HTML).write_text(render_page(page), encoding="utf-8")
        _swap_in(staging, out.resolve())
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise ExportError(f"--out {out}: writing the bundle failed: {exc.strerror or exc}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _swap_in(staging: Path, out: Path) -> None:
    """Replace `out` by `staging` with two renames; the old bundle is removed only after."""
    if not out.exists():
        staging.rename(out)
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
    retired.rmdir()
    out.rename(retired)
    try:
        staging.rename(out)
    except OSError:
        retired.rename(out)
        raise
    shutil.rmtree(retired, ignore_errors=True)
