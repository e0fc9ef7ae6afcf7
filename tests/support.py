"""Helpers the tests share: a tiny real BERT saved to disk, and checks that a failed run lost nothing."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from projector_bundle import cli
from projector_bundle.projector.colouring import MAX_CATEGORIES
from projector_bundle.projector.formats import CONFIG_JSON, DEFAULT_FILES

ROOT = Path(__file__).resolve().parent.parent

# A small WordPiece vocabulary covering the label cases: specials, unused slots,
# whole words, continuations, numbers and prepositions.
TINY_VOCAB = [
    "[PAD]", "[unused0]", "[unused1]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    "the", "of", "in", "hello", "world", "and", "welcome", "##w", "##ing",
    "42", "1990", "café", "into", "river", "bank", "account", "##s",
]  # fmt: skip

# Sentences in the tiny vocabulary: "bank" twice, in two senses.
TINY_SENTENCES = ["the river bank", "Hellow world and welcome", "the bank account"]

# Without a trailing slash, to exercise its normalisation.
PUBLISHED_BASE_URL = "https://example.github.io/tiny"


def save_tiny_bert(folder: Path, vocab: list[str] = TINY_VOCAB, seed: int = 0) -> Path:
    """A real BertModel (hidden 8) and BertTokenizer written with save_pretrained."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    BertTokenizer(str(folder / "vocab.txt")).save_pretrained(folder)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=8,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
        max_position_embeddings=32,
    )
    BertModel(config).save_pretrained(folder)
    return folder


def sentences_bundle(model: Path, folder: Path, *flags: str) -> Path:
    """`folder/site`: a bundle of `model` run over TINY_SENTENCES (written to `folder`), with `flags`."""
    sentences = folder / "sentences.txt"
    sentences.write_text("\n".join(TINY_SENTENCES) + "\n", encoding="utf-8")
    out = folder / "site"
    assert cli.main(["bundle", "--model", str(model), "--out", str(out), "--sentences", str(sentences), *flags]) == 0
    return out


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def run_failing(args: list[str], capsys: pytest.CaptureFixture[str], code: int = 1) -> str:
    assert cli.main(args) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.parent.iterdir() if p.name.startswith(f".{folder.name}."))


def write_tensors(out: Path, tensors: list, title: str = "hand-made") -> None:
    """A bundle of hand-built `Tensor`s through the real writer, page and swap (no model)."""
    from projector_bundle.output.bundle import write_bundle
    from projector_bundle.output.manifest import Provenance
    from projector_bundle.projector.page import PageInfo, TensorSummary, render_page

    summaries = tuple(TensorSummary(t.name, *t.matrix.shape) for t in tensors)
    page = PageInfo(title, title, summaries, "0", "2026-01-01T00:00:00Z", "-", "-")
    provenance = Provenance(page.tool_version, page.model_name, None, page.command, page.created)
    write_bundle(out, tensors, render_page(page), provenance, tsv=None)


def read_tensor_tsv(path: Path) -> np.ndarray:
    """A vectors TSV read back, as float32."""
    return np.loadtxt(path, dtype=np.float32, delimiter="\t", ndmin=2)


def read_tensor_bytes(path: Path, dim: int) -> np.ndarray:
    """A `.bytes` file read back: little-endian float32 rows of `dim` values."""
    return np.fromfile(path, dtype="<f4").reshape(-1, dim)


# More distinct words than the projector has colours.
WIDE_VOCAB = [*TINY_VOCAB, *(f"word{i}" for i in range(MAX_CATEGORIES))]


DEFAULT_HEADER = ["Word", "Length", "# vowels", "is number", "is preposition", "is subword", "is special", "Token"]


def tiny_matrix(tiny_model: Path) -> np.ndarray:
    return load_file(tiny_model / "model.safetensors")["embeddings.word_embeddings.weight"]


def every_kind_of_float32(count: int = 200_000, seed: int = 0) -> np.ndarray:
    """Random bit patterns (every exponent, subnormals, NaNs, infinities) plus the classic edges."""
    bits = np.random.default_rng(seed).integers(0, 2**32, size=count, dtype=np.uint64).astype(np.uint32)
    edges = np.array(
        [0.0, -0.0, 1e-45, -1e-45, 1.1754944e-38, 3.4028235e38, -3.4028235e38, 0.1, 0.5, 1.0, 100.0, 16777216.0,
         1e10, 1e-7, 5e-5, 123456.79, 0.33333334, np.inf, -np.inf, np.nan],
        dtype=np.float32,
    )  # fmt: skip
    return np.concatenate([edges, bits.view(np.float32)]).reshape(-1, 10)


def bundle_args(model: Path, out: Path, *extra: str) -> list[str]:
    return ["bundle", "--model", str(model), "--out", str(out), "--quiet", *extra]


def save_big_bert(folder: Path, rows: int = 20_000, dim: int = 128) -> Path:
    """A random BERT whose vectors TSV takes long enough to write that a SIGINT lands mid-file."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder.mkdir(parents=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *(f"w{i}" for i in range(rows - 5))]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizerFast(str(folder / "vocab.txt")).save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=rows, hidden_size=dim, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=16, max_position_embeddings=16)  # fmt: skip
    BertModel(config).save_pretrained(folder)
    return folder


def writing_tsv(out: Path) -> bool:
    """Whether an export into `out` has started writing its vectors TSV in its staging folder."""
    for staging in out.parent.glob(f".{out.name}.*.partial"):
        with contextlib.suppress(FileNotFoundError):  # the export may remove it meanwhile
            if (staging / DEFAULT_FILES.tsv).stat().st_size > 0:
                return True
    return False


@contextlib.contextmanager
def mounted(target: Path, *options: str) -> Iterator[bool]:
    """Mount a tmpfs (or remount a bind) at `target` as root; False where mounting is not allowed."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        yield False
        return
    result = subprocess.run(["mount", *options, str(target)], capture_output=True, check=False)
    if result.returncode != 0:
        yield False
        return
    try:
        yield True
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


@contextlib.contextmanager
def unwritable_home(folder: Path) -> Iterator[Path]:
    """A home nothing can be written under, root included: a read-only tmpfs where mounting is
    allowed; else a folder without write permission for a user other than root; else (root in
    a container, as in CI) a regular file, under which no folder can be made."""
    folder.mkdir()
    with mounted(folder, "-t", "tmpfs", "-o", "ro", "tmpfs") as real:
        if not real and os.geteuid() != 0:
            folder.chmod(0o555)
        elif not real:
            folder.rmdir()
            folder.write_bytes(b"")
        try:
            with pytest.raises(OSError):
                (folder / ".cache").mkdir()
            yield folder
        finally:
            if not real and folder.is_dir():
                folder.chmod(0o755)  # so that pytest can remove it


# --compare: a vocabulary large enough for neighbourhoods to mean something at K = 10 (the tiny
# one, then made-up words), and the tokens that take other tokens' vectors in a changed copy.
COMPARE_VOCAB = [*TINY_VOCAB, *(f"word{i}" for i in range(276))]
SWAPS = [("river", "word10"), ("hello", "word20"), ("café", "word30"), ("account", "word40"), ("word5", "word50")]


def changed_copy(source: Path, folder: Path, *, swaps: list[tuple[str, str]], seed: int = 5) -> np.ndarray:
    """`source`'s model saved to `folder` with its word table rotated by a random orthogonal matrix,
    and each taker's row given its giver's (rotated) vector; returns the rotation."""
    from transformers import BertModel

    model = BertModel.from_pretrained(source)
    table = model.embeddings.word_embeddings.weight.detach().numpy().astype(np.float64)
    rotation, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((table.shape[1],) * 2))
    rotated = table @ rotation
    for taker, giver in swaps:
        rotated[COMPARE_VOCAB.index(taker)] = rotated[COMPARE_VOCAB.index(giver)]
    import torch

    with torch.no_grad():
        model.embeddings.word_embeddings.weight.copy_(torch.from_numpy(rotated.astype(np.float32)))
    model.save_pretrained(folder)
    for name in ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json"):
        if (source / name).exists():
            shutil.copyfile(source / name, folder / name)
    return rotation


def copy_model(tiny_model: Path, folder: Path) -> Path:
    shutil.copytree(tiny_model, folder)
    return folder


def assert_untouched(out: Path, before: dict[str, bytes]) -> None:
    assert snapshot(out) == before
    assert leftovers(out) == []


# Points in four topics, for the clustering tests.
TOPIC_WORDS = [
    ["river", "boat", "water", "fish"],
    ["guitar", "drum", "song", "band"],
    ["comet", "orbit", "planet", "star"],
    ["bread", "oven", "flour", "yeast"],
]
PER_TOPIC = 30


def topic_data(seed: int = 3, dim: int = 24) -> tuple[np.ndarray, list[int], list[str]]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(TOPIC_WORDS), dim)) * 4
    matrix, topics, texts = [], [], []
    for topic, words in enumerate(TOPIC_WORDS):
        for i in range(PER_TOPIC):
            matrix.append(centres[topic] + rng.normal(size=dim))
            topics.append(topic)
            picked = rng.choice(words, 2, replace=False)
            texts.append(f"the {picked[0]} and the {picked[1]}, note {i}")
    return np.asarray(matrix, dtype=np.float32), topics, texts


def write_vectors(folder: Path, rows: int | None = None) -> list[str]:
    matrix, topics, texts = topic_data()
    rows = rows or len(matrix)
    np.save(folder / "v.npy", matrix[:rows])
    lines = ["text\ttopic_id"] + [f"{t}\t{k}" for t, k in zip(texts[:rows], topics[:rows], strict=True)]
    (folder / "meta.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ["--vectors", str(folder / "v.npy"), "--metadata", str(folder / "meta.tsv")]


def read_bundle(out: Path) -> tuple[list[str], list[list[str]], list[dict]]:
    lines = (out / "metadata.tsv").read_text(encoding="utf-8").splitlines()
    config = json.loads((out / CONFIG_JSON).read_text())["embeddings"][0]
    marks = json.loads((out / config["bookmarksPath"]).read_text())
    return lines[0].split("\t"), [line.split("\t") for line in lines[1:]], marks
