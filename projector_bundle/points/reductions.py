"""When a tensor is too heavy for a page, and which of `--limit`, `--sample`, `--dims`,
`--no-tsv` and `--tsv-digits` would make it light enough. Pure: counts and sizes in, advice out.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np

from projector_bundle import UsageError
from projector_bundle.text import describe_size

# The projector keeps every point in WebGL buffers and its search and inspector loop over
# all of them: past about this many points a page opens slowly and stutters on a laptop.
MAX_PAGE_POINTS = 100_000

# The fewest dimensions `--dims` offers: below this a PCA keeps too little to be worth a page.
MIN_DIMS = 8

# An upper bound on the text of one `%.{digits}g` value and its tab: sign, "0.", the
# digits and a tab (an exponent is rare for embedding values and sometimes shorter).
TSV_OVERHEAD_BYTES = 5
TSV_DIGIT_CHOICES = range(6, 1, -1)  # the most digits that fit is offered first

# `--help` text for `--limit`, where the lead defines the flag.
LIMIT_HELP = (
    "keep only the first N rows; in BPE and SentencePiece vocabularies these are roughly the "
    "most frequent tokens, since merges are learned in order of frequency (not so for WordPiece)"
)


def check_sample(count: int, points: int) -> None:
    """`--sample` must keep at least one point and drop at least one."""
    if count < 1:
        raise UsageError(f"--sample {count}: expected 1 or more")
    if count >= points:
        raise UsageError(f"--sample {count}: the tensor has only {points:,} points; expected fewer, got {count:,}")


def sample_rows(points: int, count: int, seed: int = 0) -> np.ndarray:
    """`count` row indices drawn uniformly without replacement, seeded, in ascending order."""
    if count >= points:
        return np.arange(points)
    return np.sort(np.random.default_rng(seed).choice(points, size=count, replace=False))


@dataclass(frozen=True)
class PlannedFile:
    """A file the export is about to write: its name, size, and which part of the tensor it holds."""

    name: str
    size: int
    role: str  # "bytes", "tsv" (vectors TSV) or "metadata"


@dataclass(frozen=True)
class SizeAdvice:
    """Why a tensor is too heavy for a page, and each option that alone fixes it."""

    reasons: tuple[str, ...]
    ways: tuple[str, ...]

    def message(self, tensor: str) -> str:
        return f"tensor {tensor} is too heavy for a page: {'; '.join(self.reasons)}. Ways out: {', '.join(self.ways)}"


def size_advice(
    points: int,
    dim: int,
    files: Collection[PlannedFile],
    max_file_bytes: int,
    max_points: int = MAX_PAGE_POINTS,
) -> SizeAdvice | None:
    """None when the page is fine; otherwise the problems and only the reductions that fix all of them.

    Rows scale every file; `--dims` scales only the vectors; `--no-tsv` drops the vectors
    TSV (the page reads the `.bytes`); `--tsv-digits` shortens it. N values are rounded
    down to two significant figures so the suggestion is easy to type and still fits.
    """
    over = [f for f in files if f.size > max_file_bytes]
    reasons = []
    if points > max_points:
        reasons.append(f"{points:,} points, more than the {max_points:,} a page stays responsive with")
    reasons += [
        f"{f.name} is {_mb(f.size)}, over the {_mb(max_file_bytes)} file limit" for f in sorted(over, key=_name)
    ]
    if not reasons:
        return None
    ways = []
    rows = _rows_that_fit(points, files, max_file_bytes, max_points)
    if rows >= 1:
        ways += [f"--limit {rows} (the first rows)", f"--sample {rows} (a seeded uniform sample)"]
    if points <= max_points and over and all(f.role in ("bytes", "tsv") for f in over):
        dims = _dims_that_fit(dim, over, max_file_bytes)
        if dims is not None:
            ways.append(f"--dims {dims} (an exact PCA; --neighbors still uses all {dim} dimensions)")
    if points <= max_points and over and all(f.role == "tsv" for f in over):
        ways.append("--no-tsv (the page reads the .bytes file)")
        digits = _digits_that_fit(points, dim, max_file_bytes)
        if digits is not None:
            ways.append(f"--tsv-digits {digits} (a shorter, inexact vectors TSV)")
    return SizeAdvice(tuple(reasons), tuple(ways))


def _name(file: PlannedFile) -> str:
    return file.name


def _rows_that_fit(points: int, files: Collection[PlannedFile], max_file_bytes: int, max_points: int) -> int:
    bounds = [max_points, points - 1]
    bounds += [max_file_bytes * points // f.size for f in files if f.size > 0]
    return round_down(min(bounds))


def _dims_that_fit(dim: int, over: Collection[PlannedFile], max_file_bytes: int) -> int | None:
    dims = round_down(min(max_file_bytes * dim // f.size for f in over))
    dims = min(dims, dim - 1)
    return dims if dims >= MIN_DIMS else None


def _digits_that_fit(points: int, dim: int, max_file_bytes: int) -> int | None:
    for digits in TSV_DIGIT_CHOICES:
        if points * dim * (digits + TSV_OVERHEAD_BYTES) <= max_file_bytes:
            return digits
    return None


def round_down(n: int) -> int:
    """`n` rounded down to two significant figures (123,456 -> 120,000)."""
    if n < 100:
        return max(n, 0)
    scale = 10 ** (int(math.log10(n)) - 1)
    return n // scale * scale


def planned_sizes(points: int, dim: int, *, tsv_bytes_per_value: float | None) -> Mapping[str, int]:
    """Sizes of the vector files before writing: `.bytes` exactly, the TSV from a measured
    bytes-per-value (format a sample of rows and divide), or none without a TSV."""
    sizes = {"bytes": points * dim * 4}
    if tsv_bytes_per_value is not None:
        sizes["tsv"] = math.ceil(points * dim * tsv_bytes_per_value)
    return sizes


def _mb(size: int) -> str:
    """A size for a limit's message: in bytes where kB would round a file and a small limit alike."""
    return describe_size(size) if size >= 10_000 else f"{size:,} bytes"
