"""Shared fixtures: a tiny real BERT and bundles of it, a real Chromium; helpers live in support.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support import PUBLISHED_BASE_URL, save_tiny_bert, sentences_bundle

from projector_bundle import cli

# Tests never reach the hub; the hub client would otherwise retry for a minute.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("SOURCE_DATE_EPOCH", "1767225600")  # 2026-01-01T00:00:00Z


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_bert(tmp_path_factory.mktemp("tiny") / "tiny-bert")


@pytest.fixture(scope="session")
def tiny_bundle(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle of the tiny model, built once through the CLI."""
    out = tmp_path_factory.mktemp("bundle") / "site"
    assert cli.main(["bundle", "--model", str(tiny_model), "--out", str(out), "--quiet"]) == 0
    return out


@pytest.fixture(scope="session")
def published_bundle(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny bundle built for publishing: --base-url adds absolute URLs and the projector link."""
    out = tmp_path_factory.mktemp("published") / "site"
    args = ["bundle", "--model", str(tiny_model), "--out", str(out), "--base-url", PUBLISHED_BASE_URL, "--quiet"]
    assert cli.main(args) == 0
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


# --- bad input: a good bundle that a failing run must leave untouched ---


@pytest.fixture
def previous(tiny_bundle: Path, tmp_path: Path) -> Path:
    """A copy of a good bundle that a failing run must leave untouched."""
    out = tmp_path / "site"
    out.mkdir()
    for p in tiny_bundle.iterdir():
        (out / p.name).write_bytes(p.read_bytes())
    return out


@pytest.fixture(scope="session")
def context_bundle(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle with every optional tensor of the tiny model, two contextual layers and neighbours."""
    flags = ["--layer", "0,1", "--tensors", "word,position,type", "--neighbors", "2", "--quiet"]
    return sentences_bundle(tiny_model, tmp_path_factory.mktemp("context"), *flags)
