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
time and peak RSS, bytes written and TSV size. Then it runs the default model over a
generated corpus (`--corpus-lines`, 2,000 by default) as `--sentences` does, and prints
sentences per second (the model's load not counted) and peak RSS.

`bench/bench.py --write-corpus FILE --corpus-lines N` only writes such a corpus.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import random
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


# The corpus throughput, run in a child process: the model loaded first, then timed over the file.
CORPUS_ROUTE = """
import json, sys, time
from projector_bundle.context.contextual import embed_corpus, layer_count
from projector_bundle.models.loader import load_model, load_tokenizer, resolve_model
from projector_bundle.context.sentences import iter_sentences

ref = resolve_model(None)
model, tokenizer = load_model(ref), load_tokenizer(ref)
start = time.perf_counter()
context = embed_corpus(model, tokenizer, iter_sentences(sys.argv[1]), [layer_count(model)])
wall = time.perf_counter() - start
print(json.dumps({"sentences": context.counts.sentences, "points": len(context.occurrences), "seconds": wall}))
"""

# Words for generated sentences: common English, plus "bank" in a few senses and forms.
FILLER = (
    "the a an of to in on at by for with from about after before over under near this that these those "
    "we they she he it you people children workers farmers students city town river road market school "
    "house garden field water money account loan interest morning evening winter summer week year "
    "walked opened closed found kept paid said took gave moved built watched crossed waited asked "
    "quiet old new small large early late green heavy bright slow quick careful busy empty full"
).split()
BANK_FORMS = ("bank", "bank", "bank", "Bank", "bank,", "banks", "banking", "bank's")


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
    parser.add_argument("--corpus-lines", type=int, default=2_000, help="lines of the corpus run (default 2000)")
    parser.add_argument("--write-corpus", type=Path, metavar="FILE", help="only write a corpus of --corpus-lines")
    args = parser.parse_args()
    if args.write_corpus:
        write_corpus(args.write_corpus, args.corpus_lines)
        return 0
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args.work.mkdir(parents=True, exist_ok=True)

    from projector_bundle.models.loader import resolve_model
    from projector_bundle.output.tsvfloat import load_library

    load_library()  # build the C formatter once, outside the timings
    # Byte-compile the package once too, as any Python does on its first import unless told
    # not to; the libraries' caches came with their wheels. Where PYTHONDONTWRITEBYTECODE is
    # set (as on the machines this was measured on), every timed run would compile our
    # 7,000 lines again: 0.07 s of route (b).
    compileall.compile_dir(ROOT / "projector_bundle", quiet=1)
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
    corpus = write_corpus(args.work / f"corpus-{args.corpus_lines}.txt", args.corpus_lines)
    print(f"corpus, default model, every token of {corpus.name}: {measure_corpus(corpus)}")
    return 0


def write_corpus(path: Path, lines: int, bank_every: int = 50, seed: int = 0) -> Path:
    """`lines` generated sentences of 5 to 30 words; about one in `bank_every` holds a form of "bank"."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as out:
        for _ in range(lines):
            words = rng.choices(FILLER, k=rng.randint(5, 30))
            if rng.randrange(bank_every) == 0:
                words[rng.randrange(len(words))] = rng.choice(BANK_FORMS)
            out.write(" ".join(words).capitalize() + ".\n")
    return path


def measure_corpus(corpus: Path) -> str:
    """Sentences per second of the default model over `corpus`, and the peak RSS of its process."""
    probe = (
        "import json, resource, subprocess, sys\n"
        "subprocess.run(sys.argv[1:], check=True)\n"
        "print(json.dumps(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n"
    )
    command = [sys.executable, "-c", probe, sys.executable, "-c", CORPUS_ROUTE, str(corpus)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if result.returncode != 0:
        raise SystemExit(f"error: the corpus run failed:\n{result.stderr[-2000:]}")
    *_, figures, maxrss_kb = result.stdout.strip().splitlines()
    run = json.loads(figures)
    rate = run["sentences"] / run["seconds"]
    return (
        f"{rate:,.0f} sentences/s ({run['sentences']:,} sentences, {run['points']:,} points, "
        f"{run['seconds']:.1f} s), peak RSS {int(maxrss_kb) / 1024:.0f} MB"
    )


def time_tsv_writer(model: Path, path: Path) -> str:
    """The vectors TSV writer in this process, on the matrix it just exported."""
    from projector_bundle.models.loader import ModelRef, read_word_embeddings
    from projector_bundle.output.writers import write_tensor_tsv

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
    """Wall time and peak RSS of `command`, run by a fresh child so that RUSAGE_CHILDREN is its own.
    The disk is synced first, so no run pays for writing back the files of the run before it."""
    os.sync()
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
