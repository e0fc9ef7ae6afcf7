"""Replace a bundle folder without ever leaving half of one: build beside the target, then swap.

`check_target` is the policy (what may be replaced); `staging_folder` and `swap_in` are the
mechanism (a temporary folder beside the target, and one atomic exchange where Linux has it).
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from . import ExportError
from .formats import MANIFEST_JSON
from .manifest import is_our_bundle

STAGING_SUFFIX = ".partial"
RETIRED_SUFFIX = ".old"


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


@contextmanager
def staging_folder(out: Path) -> Iterator[Path]:
    """A fresh, servable folder beside `out`, removed again unless it was swapped in."""
    target = out.resolve()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=STAGING_SUFFIX, dir=target.parent))
    except OSError as exc:
        raise ExportError(f"--out {out}: cannot create a folder in {target.parent}: {exc.strerror}") from None
    try:
        os.chmod(staging, 0o755)  # mkdtemp makes it private; a bundle is meant to be served
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # after a swap it holds the old bundle, or is gone


def swap_in(staging: Path, out: Path) -> None:
    """Put `staging` in place of `out`; the old bundle is removed only once the new one is there.

    Ctrl-C is held back meanwhile, so an interrupt cannot fall between the two renames.
    """
    out = out.resolve()
    with interrupts_deferred():
        if not out.exists():
            staging.rename(out)
            return
        if _exchange(staging, out):  # one atomic step: `out` never disappears, even for a web server
            return  # `staging` now holds the old bundle; the caller removes it
        retired = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=RETIRED_SUFFIX, dir=out.parent))
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
def interrupts_deferred() -> Iterator[None]:
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
