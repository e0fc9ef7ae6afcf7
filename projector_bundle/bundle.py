"""Assemble a bundle: decide everything in memory, then write it into a temporary
folder beside the target and swap it in, so a failed run leaves the last good bundle."""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
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
    MANIFEST_JSON,
    PAGE_HTML,
    REMOTE_CONFIG_JSON,
    TensorFiles,
)
from .manifest import Provenance, TensorEntry, build_manifest, is_our_bundle, write_manifest
from .page import PageInfo, copy_projector, render_page
from .publish import build_remote_config
from .validate import ERROR, Problem, validate_bundle
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


def check_target(out: Path, *, force: bool = False) -> None:
    """Fail before any work if `out` cannot become a bundle folder, or is a folder
    this tool did not write and --force was not given."""
    if out.exists() and not out.is_dir():
        raise ExportError(f"--out {out}: is a file, not a folder")
    target = out.resolve()
    if target.parent == target:
        raise ExportError(f"--out {out}: cannot replace the root folder")
    if target.parent.exists() and not target.parent.is_dir():
        raise ExportError(f"--out {out}: {target.parent} is not a folder")
    if force or not target.is_dir() or is_our_bundle(target):
        return
    try:
        empty = next(target.iterdir(), None) is None
    except OSError as exc:
        raise ExportError(f"--out {out}: cannot read the folder: {exc.strerror}") from None
    if not empty:
        # A typo such as --out ~ must not delete a home folder.
        raise ExportError(
            f"--out {out}: the folder is not empty and has no {MANIFEST_JSON} from export.py; "
            "pass --force to replace it and everything in it"
        )


# Makes a progress bar for a step: (description, total rows) -> context giving the advance function.
ProgressBar = Callable[[str, int], AbstractContextManager[Callable[[int], None]]]


def no_progress(description: str, total: int) -> AbstractContextManager[Callable[[int], None]]:
    return nullcontext(lambda done: None)


def write_bundle(
    out: Path,
    tensors: Sequence[Tensor],
    page: PageInfo,
    *,
    tsv: bool = True,
    tsv_digits: int | None = None,
    base_url: str | None = None,
    model_revision: str | None = None,
    force: bool = False,
    progress: ProgressBar = no_progress,
) -> list[Problem]:
    """Write every file of the bundle into a fresh folder, validate it, then swap it in for `out`.

    `tsv_digits=None` writes exact TSVs; a `base_url` adds the config with absolute URLs.
    Returns the validator's warnings; its errors abort the export before the swap. File
    sizes are left to the caller, which knows the ways out (`publish.check_file_sizes`).
    """
    check_target(out, force=force)
    target = out.resolve()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    except OSError as exc:
        raise ExportError(f"--out {out}: cannot create a folder in {target.parent}: {exc.strerror}") from None
    try:
        os.chmod(staging, 0o755)  # mkdtemp makes it private; a bundle is meant to be served
        for t in tensors:
            write_tensor_bytes(staging / t.files.bytes, t.matrix)
            if tsv:
                with progress(f"writing {t.files.tsv}", t.matrix.shape[0]) as advance:
                    write_tensor_tsv(staging / t.files.tsv, t.matrix, advance, digits=tsv_digits)
            write_metadata(staging / t.files.metadata, t.header, t.rows)
            if t.bookmarks:
                write_json(staging / t.files.bookmarks, list(t.bookmarks), indent=False)
        config = build_config(tensors)
        write_json(staging / CONFIG_JSON, config)
        if base_url is not None:
            write_json(staging / REMOTE_CONFIG_JSON, build_remote_config(config, base_url))
        copy_projector(staging)
        (staging / PAGE_HTML).write_text(render_page(page), encoding="utf-8")
        provenance = Provenance(page.tool_version, page.model_name, model_revision, page.command, page.created)
        write_manifest(staging, build_manifest(provenance, [manifest_entry(t, tsv) for t in tensors], staging))
        problems = validate_bundle(staging, reread=False, check_sizes=False)
        errors = [p for p in problems if p.severity == ERROR]
        if errors:
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise ExportError(
                f"--out {out}: the new bundle is invalid, {out} was left as it was: {errors[0].message}{more}"
            )
        _swap_in(staging, target)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise ExportError(f"--out {out}: writing the bundle failed: {exc.strerror or exc}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [p for p in problems if p.severity != ERROR]


def manifest_entry(tensor: Tensor, tsv: bool) -> TensorEntry:
    files = {"bytes": tensor.files.bytes, "metadata": tensor.files.metadata}
    if tsv:
        files["tsv"] = tensor.files.tsv
    if tensor.bookmarks:
        files["bookmarks"] = tensor.files.bookmarks
    rows, dim = tensor.matrix.shape
    return TensorEntry(name=tensor.name, shape=(rows, dim), columns=tuple(tensor.header), files=files)


def _swap_in(staging: Path, out: Path) -> None:
    """Put `staging` in place of `out`; the old bundle is removed only once the new one is there.

    Ctrl-C is held back meanwhile, so an interrupt cannot fall between the two renames.
    """
    with _interrupts_deferred():
        if not out.exists():
            staging.rename(out)
            return
        if _exchange(staging, out):  # one atomic step: `out` never disappears, even for a web server
            shutil.rmtree(staging, ignore_errors=True)  # it now holds the old bundle
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


# renameat2(2) flags and "current directory" fd, from <linux/fs.h> and <fcntl.h>.
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders atomically with Linux's renameat2(RENAME_EXCHANGE); False where unsupported."""
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None) if sys.platform == "linux" else None
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # old kernel or a filesystem without it
        return False
    raise OSError(code, os.strerror(code), str(b))


@contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Hold SIGINT until the block ends, then raise KeyboardInterrupt as usual."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt
