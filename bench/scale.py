"""Scale benchmark: an XLM-R-sized table (250,002 x 768) and a 1,000,000-line corpus.

Each stage runs in a fresh process, so its peak RSS is its own:
  pca        blocked PCA of the table, read through a memory map of the safetensors file
  write      .bytes, exact TSV and metadata through the streaming writers (hashes included)
  corpus     the corpus read in batches, `bank` sentences kept by a 2,000-point reservoir
  neighbors  exact 10 nearest neighbours of 30,522 x 768 points (bert-base-sized)

Inputs are random and built once into .bench/. A benchmark, not a test: it asserts nothing.
Usage: python bench/scale.py [stage ...]
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".bench"
TABLE = WORK / "xlmr-sized.safetensors"
CORPUS = WORK / "corpus-1m.txt"
ROWS, DIM = 250_002, 768
CORPUS_LINES = 1_000_000
STAGES = ("pca", "write", "corpus", "neighbors")


def build_table() -> None:
    """A safetensors file with one float32 tensor, written in blocks (no torch needed)."""
    if TABLE.is_file():
        return
    WORK.mkdir(exist_ok=True)
    size = ROWS * DIM * 4
    header = {"embeddings.word_embeddings.weight": {"dtype": "F32", "shape": [ROWS, DIM], "data_offsets": [0, size]}}
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    rng = np.random.default_rng(0)
    partial = TABLE.with_suffix(".partial")
    with open(partial, "wb") as out:
        out.write(struct.pack("<Q", len(text)) + text)
        for start in range(0, ROWS, 16_384):
            rows = min(16_384, ROWS - start)
            out.write((rng.standard_normal((rows, DIM), dtype=np.float32) * 0.05).tobytes())
    partial.replace(TABLE)


def build_corpus() -> None:
    """One million short lines; one in fifty mentions "bank"."""
    if CORPUS.is_file():
        return
    WORK.mkdir(exist_ok=True)
    words = ["the", "river", "money", "account", "walked", "along", "opened", "quiet", "water", "loan"]
    rng = np.random.default_rng(1)
    partial = CORPUS.with_suffix(".partial")
    with open(partial, "w", encoding="utf-8") as out:
        for n in range(CORPUS_LINES):
            picked = [words[i] for i in rng.integers(0, len(words), 8)]
            if n % 50 == 0:
                picked[3] = "bank"
            out.write(" ".join(picked) + ".\n")
    partial.replace(CORPUS)


def mapped_table() -> np.ndarray:
    with open(TABLE, "rb") as file:
        (length,) = struct.unpack("<Q", file.read(8))
    return np.memmap(TABLE, dtype="<f4", mode="r", offset=8 + length, shape=(ROWS, DIM))


def peak_rss_mb() -> float:
    # VmHWM of this process alone (ru_maxrss would include the parent's before exec).
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM"))
    return int(line.split()[1]) / 1024


def stage_pca() -> dict[str, object]:
    from projector_bundle.points.projections import compute_pca

    projection = compute_pca(mapped_table())
    return {"label": projection.label}


def stage_write() -> dict[str, object]:
    from projector_bundle.output.writers import write_metadata, write_tensor_bytes, write_tensor_tsv

    out = WORK / "scale-out"
    out.mkdir(exist_ok=True)
    matrix = mapped_table()
    times = {}
    start = time.perf_counter()
    written = {"bytes": write_tensor_bytes(out / "vectors.bytes", matrix)}
    times["bytes_s"] = time.perf_counter() - start
    start = time.perf_counter()
    written["tsv"] = write_tensor_tsv(out / "vectors.tsv", matrix)
    times["tsv_s"] = time.perf_counter() - start
    start = time.perf_counter()
    rows = ([f"▁token{i}", str(len(str(i)) + 6)] for i in range(ROWS))
    written["metadata"] = write_metadata(out / "metadata.tsv", ["Word", "Length"], rows)
    times["metadata_s"] = time.perf_counter() - start
    sizes = {name: f"{w.size / 1e6:.1f} MB" for name, w in written.items()}
    return {**{k: round(v, 2) for k, v in times.items()}, "sizes": sizes}


def stage_corpus() -> dict[str, object]:
    from projector_bundle.context.corpus import Reservoir, mentions_any
    from projector_bundle.context.sentences import iter_sentence_batches

    reservoir: Reservoir[int] = Reservoir(2000, seed=0)
    lines = 0
    for batch in iter_sentence_batches(str(CORPUS), 256):
        lines += len(batch)
        for sentence in batch:
            if mentions_any(sentence.text, ["bank"], lowercase=True):
                reservoir.offer("bank", sentence.line)
    return {"lines": lines, "bank_seen": reservoir.seen("bank"), "kept": len(reservoir.items("bank"))}


def stage_neighbors() -> dict[str, object]:
    from projector_bundle.points.neighbors import nearest_neighbors

    matrix = np.ascontiguousarray(mapped_table()[:30_522])
    start = time.perf_counter()
    nearest_neighbors(matrix, 10)
    return {"points": 30_522, "search_s": round(time.perf_counter() - start, 2)}


def run_stage(name: str) -> None:
    """Inside the child process: run one stage and print its figures as JSON."""
    start = time.perf_counter()
    figures = globals()[f"stage_{name}"]()
    print(json.dumps({"stage": name, "seconds": round(time.perf_counter() - start, 2),
                      "peak_rss_mb": round(peak_rss_mb()), **figures}))  # fmt: skip


def main(stages: list[str]) -> None:
    build_table()
    build_corpus()
    for name in stages or STAGES:
        done = subprocess.run([sys.executable, __file__, "--stage", name], capture_output=True, text=True, check=False)
        print(done.stdout.strip() or f"{name}: failed\n{done.stderr}", flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--stage"]:
        run_stage(sys.argv[2])
    else:
        main(sys.argv[1:])
