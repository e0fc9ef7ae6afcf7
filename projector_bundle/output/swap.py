"""Replace a bundle folder without ever leaving half of one: build beside the target, then swap.

`check_target` is the policy (what may be replaced); `staging_folder` and `swap_in` are the
mechanism (a temporary folder beside the target, and one atomic exchange where Linux has it).
Only the files the old manifest lists are replaced: `carry_others` hard-links every other
file of the target into the new bundle before the exchange (docs/reliability.md).

Every run claims a token with a lock file `.NAME.TOKEN.lock` holding its pid and start time,
and names its folders after it: `.NAME.TOKEN.partial` (the new bundle being built) and, where
the exchange is missing, `.NAME.TOKEN.old` (the old bundle between two renames). A run killed
with SIGKILL leaves them behind; the next run finds their owner gone, puts an `.old` back if
the target is missing, and removes the rest.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import shutil
import stat
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from projector_bundle import ExportError
from projector_bundle.files import make_folders, read_bounded
from projector_bundle.output.manifest import is_our_bundle, listed_files
from projector_bundle.projector.formats import MANIFEST_JSON
from projector_bundle.signals import interrupts_deferred

STAGING_SUFFIX = ".partial"
RETIRED_SUFFIX = ".old"
LOCK_SUFFIX = ".lock"
# tempfile's random names: 8 characters of this alphabet.
_TOKEN = r"[a-z0-9_]{8}"
# A lock holds one short line, written right after the file is made: one still empty
# after this many seconds was left by a run that could not write it (a full disk).
EMPTY_LOCK_SECONDS = 10
MAX_LOCK_BYTES = 100
# Room kept for the longest name of a file inside a bundle (a model prefix and a tensor file).
BUNDLE_NAME_BYTES = 100


# --- the policy ---


def check_target(out: Path, *, force: bool = False, inputs: Sequence[tuple[str, Path]] = ()) -> None:
    """Fail before any work if `out` cannot become a bundle folder, overlaps one of the run's
    `inputs` (flag, path), or is a folder this tool did not write and --force was not given.

    Leftovers of earlier killed runs are cleared first, so the check sees the bundle
    that a kill between two renames left aside.
    """
    target = resolve_target(out)
    check_no_dangling_link(out)
    if target.parent == target:
        raise ExportError(f"--out {out}: cannot replace the root folder")
    check_apart_from_inputs(out, target, inputs)
    check_name_lengths(out, target)
    clear_leftovers(target)
    check_replaceable(out, target, force=force)


def check_replaceable(out: Path, target: Path, *, force: bool) -> None:
    """The part of `check_target` that is checked again at swap time: what is at `target` now."""
    if target.exists() and not target.is_dir():
        raise ExportError(f"--out {out}: is a file, not a folder")
    if target.parent.exists() and not target.parent.is_dir():
        raise ExportError(f"--out {out}: {target.parent} is not a folder")
    if os.path.ismount(target):
        # rename(2) cannot move a mount point: the swap would fail after all the work.
        raise ExportError(
            f"--out {out}: is a mount point, which export.py cannot swap for a new folder; "
            f"use a folder inside it, such as --out {out / 'site'}"
        )
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
            "pass --force to write the bundle into it (files of the same names are replaced, the others kept)"
        )


def check_apart_from_inputs(out: Path, target: Path, inputs: Sequence[tuple[str, Path]]) -> None:
    """Refuse an `out` that is, holds or lies inside an input, --force or not: the swap would
    replace the input (a model folder's weights and tokenizer) with the bundle."""
    for flag, path in inputs:
        try:
            source = path.expanduser().resolve(strict=True)
        except (OSError, RuntimeError):
            continue  # missing or unreadable: its own reader says so
        if source == target:
            relation = "is"
        elif source.is_relative_to(target):
            relation = "holds"
        elif target.is_relative_to(source):
            relation = "lies inside"
        else:
            continue
        raise ExportError(
            f"--out {out}: {relation} the {flag} input {path}; the bundle must go to a folder apart from its inputs"
        )


def check_no_dangling_link(out: Path) -> None:
    """Refuse an `out` that is (or passes through) a link to nothing: the run would create
    folders wherever the link points, which is rarely what was meant."""
    path = Path(os.path.abspath(out))
    for each in (path, *path.parents):
        if os.path.islink(each) and not os.path.exists(each):
            raise ExportError(
                f"--out {out}: {each} is a link to {os.readlink(each)}, which does not exist; "
                "create that folder or remove the link"
            )


def resolve_target(out: Path) -> Path:
    """`out` as an absolute path with its links followed, or one error line saying why not."""
    loop = ExportError(f"--out {out}: cannot follow it: a loop of symbolic links")
    try:
        return out.resolve()
    except RuntimeError:  # Python 3.11 reports a loop of links this way
        raise loop from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise loop from None
        if exc.errno == errno.ENOENT:  # a relative path from a folder that was removed
            raise ExportError(
                f"--out {out}: the current folder no longer exists (an earlier run may have replaced it); "
                "cd into it again"
            ) from None
        raise ExportError(f"--out {out}: {exc.strerror}") from None


def check_name_lengths(out: Path, target: Path) -> None:
    """Refuse a name the file system would refuse at the end of the run (ENAMETOOLONG)."""
    existing = next((p for p in (target, *target.parents) if os.path.isdir(p)), None)
    if existing is None:
        return
    try:
        path_max = os.pathconf(existing, "PC_PATH_MAX")
    except (OSError, ValueError):
        path_max = None
    # The longest path the run makes: a file of the bundle in the staging folder beside the target.
    longest = len(os.fsencode(target.parent / staging_name(target.name, "x" * 8))) + 1 + BUNDLE_NAME_BYTES
    if path_max is not None and longest >= path_max:
        raise ExportError(
            f"--out {out}: its full path is {len(os.fsencode(target)):,} bytes; with the staging folder's name "
            f"and the bundle's file names the run would need {longest:,}, and this system allows {path_max - 1:,}"
        )
    try:
        limit = os.pathconf(existing, "PC_NAME_MAX")
    except (OSError, ValueError):
        return  # no limit known: the file system will say so itself
    if existing == target:
        missing: list[str] = []
    else:
        missing = list(target.relative_to(existing).parts[:-1])
    for part in missing:
        if len(os.fsencode(part)) > limit:
            raise ExportError(
                f"--out {out}: the name {part[:20]}… is {len(os.fsencode(part))} bytes; this file system allows {limit}"
            )
    length = len(os.fsencode(staging_name(target.name, "x" * 8)))
    if length > limit:
        room = limit - (length - len(os.fsencode(target.name)))
        raise ExportError(
            f"--out {out}: the folder name is {len(os.fsencode(target.name))} bytes; the staging folder "
            f"beside it needs {length - len(os.fsencode(target.name))} more and this file system allows "
            f"{limit}, so use a name of at most {room} bytes"
        )


# --- the mechanism ---


def staging_name(name: str, token: str) -> str:
    return f".{name}.{token}{STAGING_SUFFIX}"


@contextmanager
def staging_folder(out: Path) -> Iterator[Path]:
    """A fresh, servable folder beside `out`, removed again unless it was swapped in.
    Its caller has run `check_target`, which cleared the leftovers of killed runs."""
    target = resolve_target(out)
    lock: Path | None = None
    staging: Path | None = None
    try:
        # Stop signals wait for the few steps that create the lock and the folder, so a
        # signal never leaves one of them without the other, or a lock without a run.
        with interrupts_deferred():
            make_folders(target.parent)
            lock = claim_token(target)
            staging = target.with_name(staging_name(target.name, lock.name.split(".")[-2]))
            staging.mkdir()
            os.chmod(staging, 0o755)  # a bundle is meant to be served, whatever the umask
    except BaseException as exc:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        if lock is not None:
            lock.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise ExportError(f"--out {out}: cannot create a folder in {target.parent}: {exc.strerror}") from None
        raise
    try:
        yield staging
    finally:
        with interrupts_deferred():
            shutil.rmtree(staging, ignore_errors=True)  # after a swap it holds the old bundle, or is gone
            lock.unlink(missing_ok=True)  # last: until now it marks the folder as a living run's


def claim_token(target: Path) -> Path:
    """A lock file `.NAME.TOKEN.lock` beside `target` naming this process, made before any
    folder with its token, so no folder of a living run is ever without its lock."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=LOCK_SUFFIX, dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as file:
            file.write(owner_line(os.getpid()))
    except BaseException:  # a full disk: no lock may stay behind, empty or not
        os.unlink(name)
        raise
    return Path(name)


def swap_in(staging: Path, out: Path, *, force: bool = False) -> None:
    """Put `staging` in place of `out`; the old bundle is removed only once the new one is there.

    Stop signals are held back meanwhile, so none can fall between the check and the swap,
    or between two renames.
    """
    target = resolve_target(out)
    with interrupts_deferred():
        # Again, at the last moment: a folder may have appeared at --out during the run.
        check_replaceable(out, target, force=force)
        if not target.exists():
            try:
                os.rename(staging, target)
            except OSError as exc:
                if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                    check_replaceable(out, target, force=force)
                raise
            return
        carry_others(target, staging, listed_files(target) or set())
        if _exchange(staging, target):  # one atomic step: `out` never disappears, even for a web server
            return  # `staging` now holds the old bundle; the caller removes it
        retired = staging.with_name(staging.name.removesuffix(STAGING_SUFFIX) + RETIRED_SUFFIX)
        os.rename(target, retired)
        # A SIGKILL here leaves no bundle at `out`; the next run puts `retired` back (clear_leftovers).
        try:
            os.rename(staging, target)
        except BaseException:
            os.rename(retired, target)
            raise
        shutil.rmtree(retired, ignore_errors=True)


def carry_others(old: Path, new: Path, ours: set[str]) -> None:
    """Hard-link into `new` every file and folder of `old` that is not ours: neither listed in
    the old manifest (`ours`) nor written again in `new`. A CNAME, .nojekyll, .git/ or notes
    so cross into the new bundle, while a file an earlier run wrote and this one does not
    is left behind with the old bundle.

    Links, not moves: until the swap the old folder keeps every file, so a run killed at
    any point loses nothing. Where a link cannot be made (another file system), a regular
    file is copied.
    """
    folders = {str(Path(name).parent) for name in ours}
    owned = {str(p) for name in folders for p in (Path(name), *Path(name).parents)} - {"."}
    stack = [""]
    made: list[Path] = []  # folders of ours made here only to hold someone's files
    while stack:
        relative = stack.pop()
        with os.scandir(old / relative) as entries:
            found = list(entries)
        for entry in found:
            name = f"{relative}/{entry.name}" if relative else entry.name
            there = new / name
            is_dir = entry.is_dir(follow_symlinks=False)
            if os.path.lexists(there):
                if is_dir and there.is_dir() and not there.is_symlink():
                    stack.append(name)  # a folder of both: look for someone's files inside
                continue  # a name the new bundle writes: the new file replaces the old
            if name in ours:
                continue  # a file an earlier run wrote and this one does not
            if is_dir and name in owned:
                there.mkdir()
                made.append(there)
                stack.append(name)
            elif is_dir:
                link_tree(Path(entry.path), there)
            else:
                link_entry(Path(entry.path), there)
    for folder in reversed(made):
        if not any(folder.iterdir()):
            folder.rmdir()


def link_tree(source: Path, destination: Path) -> None:
    """`destination` as a copy of the folder `source` whose files are hard links; a loop, not recursion."""
    stack = [(source, destination)]
    folders = []
    while stack:
        src, dst = stack.pop()
        dst.mkdir()
        folders.append((src, dst))
        with os.scandir(src) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append((Path(entry.path), dst / entry.name))
                else:
                    link_entry(Path(entry.path), dst / entry.name)
    for src, dst in reversed(folders):  # last, so adding the files did not touch their times
        shutil.copystat(src, dst, follow_symlinks=False)


def link_entry(source: Path, destination: Path) -> None:
    """A hard link to `source` (a link itself is linked, not followed); a copy of a regular
    file or link where the file system refuses the hard link."""
    try:
        os.link(source, destination, follow_symlinks=False)
        return
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.EACCES):
            raise
        failed = exc
    if source.is_symlink():
        os.symlink(os.readlink(source), destination)
    elif stat.S_ISREG(source.lstat().st_mode):
        shutil.copy2(source, destination)
    else:
        raise failed


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


# --- leftovers of killed runs ---


def clear_leftovers(target: Path) -> None:
    """Remove the folders and locks that killed runs left beside `target`, after putting back
    the old bundle if a kill between two renames left `target` missing.

    Only names of our own pattern whose owner is gone are touched: a lock naming a living
    process keeps its folders.
    """
    pattern = re.compile(rf"\.{re.escape(target.name)}\.({_TOKEN})(\.partial|\.old|\.lock)")
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return  # no parent yet, or unreadable: nothing of ours there
    found: dict[str, dict[str, Path]] = {}
    for entry in entries:
        if match := pattern.fullmatch(entry.name):
            found.setdefault(match[1], {})[match[2]] = entry
    orphans = {token: paths for token, paths in found.items() if not lock_is_alive(paths.get(LOCK_SUFFIX))}
    retired = [paths[RETIRED_SUFFIX] for paths in orphans.values() if RETIRED_SUFFIX in paths]
    keep: Path | None = None
    if retired and not os.path.lexists(target):
        keep = max(retired, key=lambda p: p.stat().st_mtime)
        with contextlib.suppress(OSError):  # another run may have put it back first
            os.rename(keep, target)
    for paths in orphans.values():
        for suffix in (STAGING_SUFFIX, RETIRED_SUFFIX):
            if paths.get(suffix) == keep and not os.path.lexists(target):
                continue  # the only copy of the old bundle, which could not be put back
            if suffix in paths and paths[suffix].is_dir() and not paths[suffix].is_symlink():
                shutil.rmtree(paths[suffix], ignore_errors=True)
        if LOCK_SUFFIX in paths:
            paths[LOCK_SUFFIX].unlink(missing_ok=True)


def owner_line(pid: int) -> str:
    """What a lock file holds: the pid, and its start time so a reused pid is told apart."""
    return f"{pid} {process_start(pid) or '-'}\n"


def process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc/PID/stat, field 22); None without /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()  # the command name in parentheses may hold spaces
    return fields[19] if len(fields) > 19 else None


def lock_is_alive(lock: Path | None) -> bool:
    """Whether the run that wrote `lock` may still be running; a missing lock means it is not."""
    if lock is None:
        return False
    try:
        text = read_bounded(lock, MAX_LOCK_BYTES).decode("ascii")
        if not text and time.time() - lock.stat().st_mtime > EMPTY_LOCK_SECONDS:
            return False  # made, never written: its run failed at once (older versions left these)
    except FileNotFoundError:
        return False
    except (OSError, UnicodeDecodeError):
        return True  # cannot tell: leave it alone
    parts = text.split()
    if len(parts) != 2 or not parts[0].isdigit() or int(parts[0]) <= 0:
        return True  # being written right now, or not ours to judge
    pid, started = int(parts[0]), parts[1]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, under another user
    except OverflowError:
        return False
    now = process_start(pid)
    return started == "-" or now is None or now == started
