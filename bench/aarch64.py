#!/usr/bin/env python3
"""A check (not a test): the TSV formatter built for aarch64 writes the same bytes as here.

    bench/aarch64.py [--values 2000000]

Builds `tsvfloat.c` with the run-time flags (`tsvfloat.CFLAGS`) and a small driver with
the Debian cross compiler (`make cross`), statically, runs it under qemu-user
(`apt-get install qemu-user`) on random bit patterns and embedding-like weights, and
compares its text byte for byte with the library built here. On x86-64 this also
proves the AVX-512 road and the baseline road agree with the aarch64 build, which has
neither SSE2 nor AVX-512.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from projector_bundle.output import tsvfloat

CROSS_CC = "aarch64-linux-gnu-gcc"
QEMU = "qemu-aarch64"
DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>
size_t tsvfloat_format_rows(const float *values, size_t rows, size_t dim, char *out);
size_t tsvfloat_max_bytes(void);
int main(int argc, char **argv) {
    size_t rows = strtoul(argv[2], NULL, 10), dim = strtoul(argv[3], NULL, 10);
    float *values = malloc(rows * dim * sizeof(float));
    char *out = malloc(rows * dim * tsvfloat_max_bytes() + 1);
    FILE *in = fopen(argv[1], "rb");
    if (!values || !out || !in || fread(values, sizeof(float), rows * dim, in) != rows * dim) return 1;
    fwrite(out, 1, tsvfloat_format_rows(values, rows, dim, out), stdout);
    return 0;
}
"""


def sample_values(count: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    bits = rng.integers(0, 2**32, size=count // 2, dtype=np.uint64).astype(np.uint32).view(np.float32)
    scale = rng.choice([-1, 1], count // 2) * 10 ** rng.uniform(-16, 8, count // 2)
    weights = np.concatenate([rng.standard_normal(count // 4) * 0.02, scale[: count // 4]]).astype(np.float32)
    values = np.concatenate([bits, weights])
    return values[: len(values) // 8 * 8].reshape(-1, 8)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=2_000_000)
    args = parser.parse_args()
    missing = [tool for tool in (CROSS_CC, QEMU) if shutil.which(tool) is None]
    if missing:
        print(f"missing: {', '.join(missing)} (apt-get install gcc-aarch64-linux-gnu qemu-user)", file=sys.stderr)
        return 2
    if tsvfloat.load_library() is None:
        print(f"no native formatter: {tsvfloat.build_problem()}", file=sys.stderr)
        return 2
    matrix = sample_values(args.values)
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        (folder / "driver.c").write_text(DRIVER)
        program = folder / "tsvfloat-aarch64"
        flags = [f for f in tsvfloat.CFLAGS if f not in ("-shared", "-fPIC")]
        build = [
            CROSS_CC,
            *flags,
            "-static",
            "-Wall",
            "-o",
            str(program),
            str(folder / "driver.c"),
            str(tsvfloat.SOURCE),
        ]
        subprocess.run([*build, "-lm"], check=True)
        matrix.tofile(folder / "values.f32")
        start = time.perf_counter()
        run = [QEMU, str(program), str(folder / "values.f32"), *map(str, matrix.shape)]
        theirs = subprocess.run(run, check=True, capture_output=True).stdout
        seconds = time.perf_counter() - start
    ours = bytes(tsvfloat.format_rows(matrix))
    same = ours == theirs
    print(
        f"{CROSS_CC} ({subprocess.run([CROSS_CC, '-dumpversion'], capture_output=True, text=True).stdout.strip()}), "
        f"{matrix.size:,} values, {len(theirs):,} bytes under {QEMU} in {seconds:.1f} s: "
        f"{'byte-identical' if same else 'DIFFERENT'} to the {platform.machine()} build"
    )
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
