"""Helpers the tests share: a tiny real BERT saved to disk, and checks that a failed run lost nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from projector_bundle import cli

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
