"""Reading and making paths that come from the user: every read bounded, only regular files
opened, folders made without recursion.

A path from the command line, a model folder or a bundle can name a FIFO (opening it
waits for a writer for ever), a link to /dev/zero (reading it whole never ends), a sparse
file of gigabytes, or sit 2,000 folders deep. Each reader here fails such a path with an
`OSError` whose `strerror` says why, which the callers' existing `except OSError` turn
into their one error line.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from pathlib import Path
from typing import BinaryIO

from projector_bundle import ExportError


class NotAFileError(OSError):
    """A path that exists but is not a regular file (a FIFO, a device, a socket, a folder)."""

    def __init__(self, path: Path | str, kind: str) -> None:
        super().__init__(errno.EINVAL, f"not a regular file but {kind}", str(path))


class TooLargeError(OSError):
    """A file larger than its reader's bound."""

    def __init__(self, path: Path | str, size: int, limit: int) -> None:
        super().__init__(errno.EFBIG, f"{size:,} bytes, more than the {limit:,} expected at most", str(path))


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((kind for test, kind in kinds if test(mode)), "not a file")


def open_regular(path: Path | str) -> BinaryIO:
    """`path` opened for reading if, links followed, it is a regular file.

    Opened without blocking, so a FIFO is refused instead of waiting for a writer,
    and checked on the open file, so it cannot be swapped between the check and the read.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotAFileError(path, file_kind(mode))
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bounded(path: Path | str, limit: int) -> bytes:
    """The bytes of the regular file `path`, which must hold at most `limit` of them.

    The size is checked before the read and the read stops past `limit`, so a sparse
    file of gigabytes, or one that grows meanwhile, never fills memory.
    """
    with open_regular(path) as file:
        size = os.fstat(file.fileno()).st_size
        if size > limit:
            raise TooLargeError(path, size, limit)
        data = file.read(limit + 1)
    if len(data) > limit:
        raise TooLargeError(path, len(data), limit)
    return data


def make_folders(folder: Path) -> None:
    """`folder` and every missing folder above it, made from the top down in a loop:
    `Path.mkdir(parents=True)` recurses once per missing level (RecursionError at about 1,000)."""
    missing = []
    current = folder
    while not os.path.isdir(current):
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for each in reversed(missing):
        try:
            os.mkdir(each)
        except FileExistsError:
            if not os.path.isdir(each):
                raise


def unreadable_input(flag: str, source: str, exc: OSError) -> ExportError:
    """The one line for an input file (`--sentences`, `--texts`, ...) that cannot be opened."""
    if isinstance(exc, FileNotFoundError):
        return ExportError(f"{flag} {source}: no such file")
    if isinstance(exc, IsADirectoryError):
        return ExportError(f"{flag} {source}: is a folder, not a file")
    return ExportError(f"{flag} {source}: cannot read it: {exc.strerror}")
