"""--compare benchmark: time and peak memory of whole exports, each in a fresh process.

  tables   two bert-base-sized models (30,522 x 768 word tables): a one-layer BERT with the
           real bert-base vocabulary, and its copy with the table rotated by a random
           orthogonal matrix and 200 tokens given other tokens' vectors; exported with and
           without --compare (--no-tsv), so the comparison's own cost shows
  layers   six layers of the packaged model over a generated corpus, 20,000 points kept
           (--max-points), with and without --compare
  finding  the packaged model's layer 0 against its last layer over examples/sentences.txt:
           the tokens that moved most, the mean overlap and each layout's trust

Models and corpus are built once into .bench/. A benchmark, not a test: it asserts nothing.
Usage: python bench/compare.py [stage ...]
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".bench" / "compare"
STAGES = ("tables", "layers", "finding")
SWAPPED = 200
CORPUS_LINES = 1_500


def build_models() -> tuple[Path, Path]:
    """A one-layer BERT of bert-base's table size with the packaged model's vocabulary (bert-base-uncased's),
    and its changed copy."""
    base, changed = WORK / "base", WORK / "changed"
    if (changed / "config.json").is_file():
        return base, changed
    import numpy as np
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer

    from projector_bundle.models.loader import resolve_model

    vocab = resolve_model(None).path / "vocab.txt"
    base.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(vocab, base / "vocab.txt")
    BertTokenizer(str(base / "vocab.txt")).save_pretrained(base)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=30_522, hidden_size=768, num_hidden_layers=1, num_attention_heads=12,
                        intermediate_size=64, max_position_embeddings=64)  # fmt: skip
    model = BertModel(config)
    model.save_pretrained(base)
    rng = np.random.default_rng(0)
    rotation, _ = np.linalg.qr(rng.standard_normal((768, 768)))
    table = model.embeddings.word_embeddings.weight.detach().numpy().astype(np.float64) @ rotation
    takers = rng.choice(30_522, SWAPPED, replace=False)
    table[takers] = table[rng.choice(30_522, SWAPPED, replace=False)]
    with torch.no_grad():
        model.embeddings.word_embeddings.weight.copy_(torch.from_numpy(table.astype(np.float32)))
    changed.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(changed)
    for p in base.iterdir():
        if p.suffix in (".txt", ".json") and p.name != "config.json":
            shutil.copyfile(p, changed / p.name)
    return base, changed


def build_corpus() -> Path:
    """Generated sentences from a few hundred common words: 20,000 points are a sample of ~25,000."""
    corpus = WORK / "corpus.txt"
    if corpus.is_file():
        return corpus
    import numpy as np

    words = (ROOT / "examples" / "sentences.txt").read_text(encoding="utf-8").lower().split()
    words = sorted({re.sub(r"[^a-z]", "", w) for w in words} - {""})
    rng = np.random.default_rng(1)
    WORK.mkdir(parents=True, exist_ok=True)
    lines = [" ".join(words[i] for i in rng.integers(0, len(words), 14)) + "." for _ in range(CORPUS_LINES)]
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return corpus


def export(args: list[str]) -> dict[str, object]:
    """One export in a fresh process: wall time, its own peak RSS (from wait4), its progress lines."""
    WORK.mkdir(parents=True, exist_ok=True)
    log = WORK / "export.log"
    start = time.perf_counter()
    with open(log, "w", encoding="utf-8") as err:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "export.py"), "bundle", *args, "--force"],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    return {
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
        "code": os.waitstatus_to_exitcode(status),
        "log": log.read_text(encoding="utf-8"),
    }


def report(name: str, result: dict[str, object]) -> None:
    log = str(result.pop("log"))
    lines = [line for line in log.splitlines() if "comparing" in line or "error" in line or "measuring how far" in line]
    print(json.dumps({"run": name, **result, "notes": lines, "load": os.getloadavg()[0]}), flush=True)


def stage_tables() -> None:
    base, changed = build_models()
    out = WORK / "site-tables"
    common = ["--model", str(base), "--model", str(changed), "--out", str(out), "--no-tsv"]
    report("two 30,522 x 768 tables", export(common))
    report("two 30,522 x 768 tables --compare", export([*common, "--compare"]))
    moved = top_moved(out, 1)
    print(json.dumps({"swapped tokens among the 200 most moved": moved}), flush=True)


def top_moved(site: Path, index: int) -> str:
    config = json.loads((site / "projector_config.json").read_text())["embeddings"][index]
    lines = (site / config["metadataPath"]).read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    moved = [int(line.split("\t")[header.index("moved")]) for line in lines[1:]]
    return f"{sum(rank <= SWAPPED for rank in moved)} rows ranked 1..{SWAPPED}"


def stage_layers() -> None:
    corpus = build_corpus()
    out = WORK / "site-layers"
    common = ["--sentences", str(corpus), "--layer", "1,2,3,4,5,6", "--max-points", "20000", "--out", str(out)]
    report("six layers x 20,000 points", export([*common, "--no-tsv"]))
    report("six layers x 20,000 points --compare", export([*common, "--no-tsv", "--compare"]))


def stage_finding() -> None:
    out = WORK / "site-finding"
    args = ["--sentences", str(ROOT / "examples" / "sentences.txt"), "--layer", "0,6", "--compare", "--out", str(out)]
    result = export(args)
    report("packaged model, layer 0 vs 6, examples/sentences.txt", result)
    page = (out / "index.html").read_text(encoding="utf-8")
    mean = re.search(r'class="mean-overlap">([0-9.]+)<', page)
    moved = re.findall(r'search=[^"]*">([^<]*)</a></td>\s*<td class="number">([0-9.]+)</td>', page)
    trust = re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td><td class=\"number\">([0-9.]+)</td></tr>", page)
    print(json.dumps({"mean overlap": mean.group(1) if mean else None, "most moved": moved[:20], "trust": trust}))


if __name__ == "__main__":
    for name in sys.argv[1:] or STAGES:
        globals()[f"stage_{name}"]()
