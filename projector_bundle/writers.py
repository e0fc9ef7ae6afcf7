"""Writers for the bundle's files: the only module besides `bundle` that touches disk."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import orjson

# Rows per chunk of the TSV writer: bounded memory, whatever the vocabulary size.
TSV_CHUNK_ROWS = 2048

# The projector splits metadata rows on raw "\n" and fields on raw "\t", with no
# quoting, and skips lines that are blank after trimming; so control characters
# become their visible Unicode "control pictures" (U+2400 + code), and an empty
# or whitespace-only cell is spelled out as code points.
_CONTROL_PICTURES = {code: 0x2400 + code for code in range(0x20)} | {0x7F: 0x2421}


def escape_cell(text: str) -> str:
    """A metadata cell that keeps its row and stays visible in the projector."""
    if text == "":
        return "[empty]"
    if text.isspace():
        return "".join(f"[U+{ord(ch):04X}]" for ch in text)
    return text.translate(_CONTROL_PICTURES)


def write_metadata(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """A metadata TSV; the header row is written only when there are two or more columns,
    because the projector takes a first line with a tab as the header and one without as data."""
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        if len(header) > 1:
            out.write("\t".join(escape_cell(h) for h in header) + "\n")
        for row in rows:
            out.write("\t".join(escape_cell(cell) for cell in row) + "\n")


def write_tensor_bytes(path: Path, matrix: np.ndarray) -> None:
    """Raw little-endian float32, row-major: what the projector reads from a `.bytes` path."""
    np.ascontiguousarray(matrix, dtype="<f4").tofile(path)


def write_tensor_tsv(path: Path, matrix: np.ndarray) -> None:
    """One row per vector, tab-separated, no header; every value parses back to the same float32.

    `%.9g` is enough digits for any float32 to round-trip.
    """
    rows, dim = matrix.shape
    line = "\t".join(["%.9g"] * dim)
    with open(path, "w", encoding="ascii", newline="\n") as out:
        for start in range(0, rows, TSV_CHUNK_ROWS):
            chunk = matrix[start : start + TSV_CHUNK_ROWS].astype(np.float64).tolist()
            out.write("".join(line % tuple(row) + "\n" for row in chunk))


def write_json(path: Path, value: object, *, indent: bool = True) -> None:
    """Indented for files people read; compact for the megabytes of per-point bookmarks."""
    option = orjson.OPT_INDENT_2 if indent else 0
    path.write_bytes(orjson.dumps(value, option=option) + b"\n")


def read_tensor_tsv(path: Path) -> np.ndarray:
    """Read a vectors TSV back (for tests and `validate`)."""
    return np.loadtxt(path, dtype=np.float32, delimiter="\t", ndmin=2)


def read_tensor_bytes(path: Path, dim: int) -> np.ndarray:
    return np.fromfile(path, dtype="<f4").reshape(-1, dim)
