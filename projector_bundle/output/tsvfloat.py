"""Fast exact float32 text for the vectors TSV: a small C formatter, built on first use.

Python's formatting tops out near 2 million floats a second; the C routine in
`tsvfloat.c` writes the shortest exact form of each float32 at about 70 million a
second per core (110 million where the CPU has AVX-512), and ctypes releases the
GIL while it runs, so chunks format on every core at once.

The build, decided once (see `load_library`):
- `$CC` (default `cc`) compiles `tsvfloat.c` with baseline flags only (no -march or
  -mtune), so the library runs on any CPU of its architecture; the AVX-512 road is
  chosen at run time inside it.
- It goes to `$XDG_CACHE_HOME/projector_bundle/` (default `~/.cache/...`), named by a
  hash of the source, the compiler and flags, the OS and the machine architecture, so a
  home shared between x86-64 and aarch64 hosts keeps one library each.
- Where that folder cannot be written (a read-only or missing home) it is built in a
  private temporary folder, loaded, and deleted: same bytes, one compile per process.
- Without a working compiler `format_rows` returns None and the writer falls back to
  Python (`%.9g`: the same float32 values, longer text, about 30 times slower);
  `build_problem` says why, for one notice.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

SOURCE = Path(__file__).with_name("tsvfloat.c")
# Never -ffast-math: the exactness checks rely on IEEE rounding of every operation.
CFLAGS = ["-O3", "-shared", "-fPIC", "-fno-math-errno", "-ffp-contract=off"]


class Build(NamedTuple):
    """The loaded formatter, or None and why it could not be built or loaded."""

    library: ctypes.CDLL | None
    problem: str | None = None


def cache_dir() -> Path | None:
    """Where built libraries are kept; None without a home to put them in."""
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except (RuntimeError, KeyError):  # no HOME and no password entry
            return None
    return Path(base) / "projector_bundle"


def library_name(compiler: str) -> str:
    """The cached library's file name: a hash of everything that makes it differ."""
    parts = [compiler, *CFLAGS, sys.platform, platform.machine()]
    return f"tsvfloat-{hashlib.sha256(SOURCE.read_bytes() + ' '.join(parts).encode()).hexdigest()[:16]}.so"


@cache
def build() -> Build:
    """The formatter from the user cache, compiled there first when missing; compiled in a
    temporary folder when the cache cannot be written; `Build(None, why)` without a compiler."""
    compiler = os.environ.get("CC", "cc")
    folder = cache_dir()
    if folder is not None:
        library = folder / library_name(compiler)
        if library.is_file():
            loaded = _load(library)
            if loaded.library is not None:
                return loaded
        if _writable(folder):
            problem = _compile(compiler, library)
            return Build(None, problem) if problem is not None else _load(library)
    with tempfile.TemporaryDirectory(prefix="projector_bundle-") as private:
        library = Path(private) / "tsvfloat.so"
        problem = _compile(compiler, library)
        # Once loaded, the library stays mapped after its file is deleted with the folder.
        return Build(None, problem) if problem is not None else _load(library)


def load_library() -> ctypes.CDLL | None:
    return build().library


def build_problem() -> str | None:
    """Why the C formatter is not there (the writer then formats in Python), or None."""
    return build().problem


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def _compile(compiler: str, library: Path) -> str | None:
    """Build `library`; None on success, else what went wrong, in one line."""
    try:
        fd, name = tempfile.mkstemp(suffix=".so", dir=library.parent)
        os.close(fd)
    except OSError as exc:
        return f"{library.parent} cannot be written ({exc.strerror or exc})"
    # Build beside the target and rename, so concurrent first runs never load half a file.
    partial = Path(name)
    try:
        subprocess.run([compiler, *CFLAGS, "-o", str(partial), str(SOURCE), "-lm"], check=True, capture_output=True)
        partial.replace(library)
        return None
    except FileNotFoundError:
        return f"no C compiler ({compiler} is not on PATH; set CC to use another)"
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = exc.stderr.decode(errors="replace").strip() if isinstance(exc, subprocess.CalledProcessError) else ""
        return f"{compiler} could not build {SOURCE.name}: {(detail or str(exc)).splitlines()[0]}"
    finally:
        partial.unlink(missing_ok=True)


def _load(library: Path) -> Build:
    try:
        lib = ctypes.CDLL(str(library))
    except OSError as exc:  # a library from another machine, or cut short
        return Build(None, f"{library} cannot be loaded ({exc})")
    lib.tsvfloat_format_rows.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_void_p]
    lib.tsvfloat_format_rows.restype = ctypes.c_size_t
    lib.tsvfloat_max_bytes.restype = ctypes.c_size_t
    return Build(lib)


def buffer_bytes(values: int) -> int:
    """The room `format_rows` needs for `values` values (None without the formatter)."""
    lib = load_library()
    return max(values, 1) * (32 if lib is None else int(lib.tsvfloat_max_bytes()))


def format_rows(matrix: np.ndarray, out: np.ndarray | None = None) -> memoryview | None:
    """TSV lines for the rows of a float32 matrix, or None when the C formatter is unavailable.

    The text is written into `out` (bytes, at least `buffer_bytes(matrix.size)`) when given:
    reusing a buffer saves the page faults of a fresh one, a third of the time for a large TSV.
    """
    lib = load_library()
    if lib is None:
        return None
    values = np.ascontiguousarray(matrix, dtype=np.float32)
    rows, dim = values.shape
    needed = buffer_bytes(values.size)
    if out is None or out.nbytes < needed:
        out = np.empty(needed, dtype=np.uint8)
    size = lib.tsvfloat_format_rows(values.ctypes.data, rows, dim, out.ctypes.data)
    return out[:size].data
