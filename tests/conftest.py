"""Shared fixtures: a tiny real BERT saved to disk, and helpers to run the CLI."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Tests never reach the hub; the hub client would otherwise retry for a minute.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("SOURCE_DATE_EPOCH", "1767225600")  # 2026-01-01T00:00:00Z

# A small WordPiece vocabulary covering the label cases: specials, unused slots,
# whole words, continuations, numbers and prepositions.
TINY_VOCAB = [
    "[PAD]", "[unused0]", "[unused1]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    "the", "of", "in", "hello", "world", "and", "welcome", "##w", "##ing",
    "42", "1990", "café", "into", "river", "bank", "account", "##s",
]  # fmt: skip


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


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_bert(tmp_path_factory.mktemp("tiny") / "tiny-bert")


@pytest.fixture(scope="session")
def tiny_bundle(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle of the tiny model, built once through the CLI."""
    import export

    out = tmp_path_factory.mktemp("bundle") / "site"
    assert export.main(["bundle", "--model", str(tiny_model), "--out", str(out), "--quiet"]) == 0
    return out


# Without a trailing slash, to exercise its normalisation.
PUBLISHED_BASE_URL = "https://example.github.io/tiny"


@pytest.fixture(scope="session")
def published_bundle(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny bundle built for publishing: --base-url adds absolute URLs and the projector link."""
    import export

    out = tmp_path_factory.mktemp("published") / "site"
    args = ["bundle", "--model", str(tiny_model), "--out", str(out), "--base-url", PUBLISHED_BASE_URL, "--quiet"]
    assert export.main(args) == 0
    return out


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium under Playwright. Missing Chromium fails the test: it never skips."""
    from browser import CHROMIUM, CHROMIUM_ARGS
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def projector(chromium):
    """A fresh page with the loopback guard on; yields (page, log) and checks the log after."""
    from browser import PageLog, guard

    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    log = PageLog()
    guard(page, log)
    yield page, log
    context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """A skipped browser test is a failure: CI must prove the page in a real browser."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and item.get_closest_marker("browser") is not None:
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid}: browser tests must run, never skip ({report.longrepr})"


# --- bad input: helpers to check that a failed run left the previous bundle intact ---


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture
def previous(tiny_bundle: Path, tmp_path: Path) -> Path:
    """A copy of a good bundle that a failing run must leave untouched."""
    out = tmp_path / "site"
    out.mkdir()
    for p in tiny_bundle.iterdir():
        (out / p.name).write_bytes(p.read_bytes())
    return out


def run_failing(args: list[str], capsys: pytest.CaptureFixture[str], code: int = 1) -> str:
    import export

    assert export.main(args) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.parent.iterdir() if p.name.startswith(f".{folder.name}."))


# Sentences in the tiny vocabulary: "bank" twice, in two senses.
TINY_SENTENCES = ["the river bank", "Hellow world and welcome", "the bank account"]


@pytest.fixture(scope="session")
def context_bundle(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle with every optional tensor of the tiny model, two contextual layers and neighbours."""
    import export

    folder = tmp_path_factory.mktemp("context")
    sentences = folder / "sentences.txt"
    sentences.write_text("\n".join(TINY_SENTENCES) + "\n", encoding="utf-8")
    out = folder / "site"
    args = ["bundle", "--model", str(tiny_model), "--out", str(out), "--sentences", str(sentences)]
    args += ["--layer", "0,1", "--tensors", "word,position,type", "--neighbors", "2", "--quiet"]
    assert export.main(args) == 0
    return out
