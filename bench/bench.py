#!/usr/bin/env python3
"""Benchmark (not a test): `export.py bundle` against the TensorBoard route it replaces.

    bench/bench.py [--work .bench] [--pairs 5] [--skip-default]

For a bert-base-sized checkpoint (BertConfig() defaults, random weights, saved locally
with the bert-base-uncased vocabulary of the packaged model) and for the packaged
default model, it runs side by side, each route in its own process, alternately
(a, b, a, b, ...) so that a change in the machine's load falls on both:

  (a) the exercise's TensorBoard route: BertModel.from_pretrained, weight.detach(), four
      label columns, torch's SummaryWriter.add_embedding
  (b) export.py bundle with default options (PCA bookmark and exact TSV included)

and prints the median ratio a/b over the pairs with its range, each route's median wall
time and peak RSS, bytes written and TSV size.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")

# Route (a), run in a child process: what the exercise writes for TensorBoard.
TENSORBOARD_ROUTE = """
import sys
from torch.utils.tensorboard import SummaryWriter
from transformers import AutoTokenizer, BertModel

model_path, logdir = sys.argv[1], sys.argv[2]
model = BertModel.from_pretrained(model_path)
vocab = AutoTokenizer.from_pretrained(model_path).get_vocab()
tokens = [text for text, _ in sorted(vocab.items(), key=lambda item: item[1])]
weights = model.get_input_embeddings().weight.detach()
labels = [[t, str(len(t)), str(sum(c in "aeiou" for c in t.lower())), str(t.isnumeric())] for t in tokens]
writer = SummaryWriter(logdir)
writer.add_embedding(weights, metadata=labels, metadata_header=["token", "length", "vowels", "is number"],
                     tag="word_embeddings")
writer.close()
"""


@dataclass(frozen=True)
class Run:
    wall_s: float
    peak_rss_mb: float
    written_mb: float
    tsv_mb: float


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=ROOT / ".bench", help="scratch folder (default .bench)")
    parser.add_argument("--pairs", type=int, default=5, help="alternating (a, b) runs per model (default 5)")
    parser.add_argument("--skip-default", action="store_true", help="only the bert-base-sized checkpoint")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args.work.mkdir(parents=True, exist_ok=True)

    from projector_bundle.model import resolve_model
    from projector_bundle.tsvfloat import load_library

    load_library()  # build the C formatter once, outside the timings
    packaged = resolve_model(None).path
    cases = [("bert-base (random)", build_bert_base(args.work / "bert-base", packaged))]
    if not args.skip_default:
        cases.append(("default (MiniLM-L6)", None))

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f} at start", flush=True)
    rows = []
    for label, model in cases:
        folder = model or packaged
        old_command = [sys.executable, "-c", TENSORBOARD_ROUTE, str(folder), str(args.work / "tensorboard")]
        out = args.work / "site"
        new_command = [sys.executable, str(ROOT / "export.py"), "bundle", "--out", str(out), "--quiet"]
        new_command += ["--model", str(model)] if model else []
        pairs = []
        for n in range(args.pairs):
            fresh(args.work / "tensorboard")
            old = measure(old_command, args.work / "tensorboard", "tensors.tsv")
            fresh(out)
            new = measure(new_command, out, "vectors.tsv")
            pairs.append((old, new))
            print(f"  {label} pair {n + 1}: a {old.wall_s:.2f} s, b {new.wall_s:.2f} s", file=sys.stderr, flush=True)
        rows.append((label, pairs))
    writer = time_tsv_writer(cases[0][1], args.work / "writer.tsv")
    print(f"load {os.getloadavg()[0]:.2f} at the end\n")
    print(format_table(rows))
    print(f"\nTSV writer alone on {cases[0][0]}: {writer}")
    return 0


def time_tsv_writer(model: Path, path: Path) -> str:
    """The vectors TSV writer in this process, on the matrix it just exported."""
    from projector_bundle.model import ModelRef, read_word_embeddings
    from projector_bundle.writers import write_tensor_tsv

    matrix = read_word_embeddings(ModelRef(name=str(model), path=model, source="folder"), None).matrix
    start = time.perf_counter()
    write_tensor_tsv(path, matrix)
    wall = time.perf_counter() - start
    size = path.stat().st_size
    path.unlink()
    return f"{matrix.size / wall / 1e6:.1f} million floats/s ({wall:.2f} s, {size / matrix.size:.2f} bytes per value)"


def build_bert_base(folder: Path, vocabulary_from: Path) -> Path:
    """A bert-base-sized BertModel (BertConfig() defaults, seeded random weights), saved once."""
    if (folder / "model.safetensors").is_file():
        return folder
    import torch
    from transformers import BertConfig, BertModel

    print(f"building {folder} (once)", file=sys.stderr, flush=True)
    torch.manual_seed(0)
    partial = fresh(folder.with_name(folder.name + ".partial"))
    BertModel(BertConfig()).save_pretrained(partial)
    for name in TOKENIZER_FILES:  # the same 30,522-token bert-base-uncased vocabulary
        if (vocabulary_from / name).is_file():
            shutil.copyfile(vocabulary_from / name, partial / name)
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    return folder


def fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def measure(command: list[str], out: Path, tsv_name: str) -> Run:
    """Wall time and peak RSS of `command`, run by a fresh child so that RUSAGE_CHILDREN is its own."""
    probe = (
        "import json, resource, subprocess, sys, time\n"
        "start = time.perf_counter()\n"
        "subprocess.run(sys.argv[1:], check=True)\n"
        "wall = time.perf_counter() - start\n"
        "print(json.dumps([wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss]))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe, *command], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"error: {command[:3]} failed:\n{result.stderr[-2000:]}")
    wall, maxrss_kb = json.loads(result.stdout.strip().splitlines()[-1])
    files = [p for p in out.rglob("*") if p.is_file()]
    tsv = [p for p in files if p.name == tsv_name]
    return Run(
        wall_s=wall,
        peak_rss_mb=maxrss_kb / 1024,
        written_mb=sum(p.stat().st_size for p in files) / 1e6,
        tsv_mb=sum(p.stat().st_size for p in tsv) / 1e6,
    )


def median_run(runs: list[Run]) -> Run:
    return Run(*(statistics.median(getattr(r, f) for r in runs) for f in Run.__dataclass_fields__))


def format_table(rows: list[tuple[str, list[tuple[Run, Run]]]]) -> str:
    header = ("model", "route", "median wall s", "peak RSS MB", "written MB", "TSV MB")
    lines = []
    for label, pairs in rows:
        old, new = median_run([a for a, _ in pairs]), median_run([b for _, b in pairs])
        ratios = sorted(a.wall_s / b.wall_s for a, b in pairs)
        lines.append((label, "(a) TensorBoard", *figures(old)))
        lines.append(("", "(b) export.py bundle", *figures(new)))
        lines.append(
            (
                "",
                f"a/b over {len(pairs)} pairs",
                f"{statistics.median(ratios):.1f}x faster ({ratios[0]:.1f}-{ratios[-1]:.1f})",
                f"{old.peak_rss_mb / new.peak_rss_mb:.2f}x",
                f"{old.written_mb / new.written_mb:.2f}x",
                f"b = {new.tsv_mb / old.tsv_mb:.1%} of a",
            )
        )
    widths = [max(len(str(line[i])) for line in [header, *lines]) for i in range(len(header))]
    text = [" | ".join(str(cell).ljust(w) for cell, w in zip(line, widths, strict=True)) for line in [header, *lines]]
    text.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(text)


def figures(run: Run) -> tuple[str, str, str, str]:
    return f"{run.wall_s:.2f}", f"{run.peak_rss_mb:.0f}", f"{run.written_mb:.1f}", f"{run.tsv_mb:.1f}"


if __name__ == "__main__":
    raise SystemExit(main())
