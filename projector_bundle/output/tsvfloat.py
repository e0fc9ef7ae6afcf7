"""Fast exact float32 text for the vectors TSV: a small C formatter, built on first use.

Python's formatting tops out near 2 million floats a second; the C routine in
`tsvfloat.c` writes the shortest exact form of each float32 at about 70 million a
second per core (110 million where the CPU has AVX-512), and ctypes releases the
GIL while it runs, so chunks format on every core at once. Without a C compiler
`format_rows` returns None and the caller falls back to the slow, exact Python path.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

import numpy as np

SOURCE = Path(__file__).with_name("tsvfloat.c")
# Never -ffast-math: the exactness checks rely on IEEE rounding of every operation.
CFLAGS = ["-O3", "-shared", "-fPIC", "-fno-math-errno", "-ffp-contract=off"]
# Scheduling for this CPU, no instructions beyond the baseline (so a shared cache stays
# safe): about 1.4x the speed of -O2 here. Dropped if the compiler refuses it.
TUNE = ["-mtune=native"]


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "projector_bundle"


@cache
def load_library() -> ctypes.CDLL | None:
    """The compiled formatter, built into the user cache when the source changed; None without a compiler."""
    compiler = os.environ.get("CC", "cc")
    source = SOURCE.read_bytes()
    tag = hashlib.sha256(source + " ".join([compiler, *CFLAGS, *TUNE, sys.platform]).encode()).hexdigest()[:16]
    library = cache_dir() / f"tsvfloat-{tag}.so"
    if not library.is_file() and not _compile(compiler, library):
        return None
    lib = ctypes.CDLL(str(library))
    lib.tsvfloat_format_rows.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_void_p]
    lib.tsvfloat_format_rows.restype = ctypes.c_size_t
    lib.tsvfloat_max_bytes.restype = ctypes.c_size_t
    return lib


def _compile(compiler: str, library: Path) -> bool:
    try:
        library.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(suffix=".so", dir=library.parent)
        os.close(fd)
    except OSError:
        return False
    # Build beside the target and rename, so concurrent first runs never load half a file.
    partial = Path(name)
    for flags in ([*CFLAGS, *TUNE], CFLAGS):
        try:
            subprocess.run([compiler, *flags, "-o", str(partial), str(SOURCE), "-lm"], check=True, capture_output=True)
            partial.replace(library)
            return True
        except (OSError, subprocess.CalledProcessError):
            continue
    partial.unlink(missing_ok=True)
    return False


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
