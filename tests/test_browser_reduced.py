"""A 250k-row vocabulary, reduced with --sample and --dims, opens in Chromium and answers a search."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from browser import serve_folder, wait_until_drawn
from families import build_xlmr_sized

from projector_bundle import cli
from projector_bundle.projector.formats import DEFAULT_FILES, MANIFEST_JSON

pytestmark = pytest.mark.browser

# XLM-R's vocabulary size; the width is small so the checkpoint is quick to write (96 MB).
ROWS, WIDTH = 250_002, 96
SAMPLE, DIMS = 20_000, 64


@pytest.fixture(scope="module")
def reduced_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("xlmr-sized")
    model = build_xlmr_sized(folder / "model", rows=ROWS, dim=WIDTH)
    out = folder / "site"
    flags = ["--sample", str(SAMPLE), "--dims", str(DIMS), "--quiet"]
    assert cli.main(["bundle", "--model", str(model), "--out", str(out), *flags]) == 0
    return out


def test_a_reduced_250k_vocabulary_opens_and_answers_a_search(reduced_bundle: Path, projector) -> None:
    page, log = projector
    entry = json.loads((reduced_bundle / MANIFEST_JSON).read_text())["tensors"][0]
    assert entry["reduced"]["sample"] == {"points": ROWS, "seed": 0}
    header, *rows = (line.split("\t") for line in (reduced_bundle / DEFAULT_FILES.metadata).read_text().splitlines())
    words = [row[header.index("Word")] for row in rows]
    # A query that matches several points but not all: the projector's search is a
    # case-insensitive substring match on the label column.
    query = words[len(words) // 2][-3:]
    matches = sum(query.lower() in w.lower() for w in words)
    assert 1 <= matches < SAMPLE
    with serve_folder(reduced_bundle) as url:
        page.goto(url)
        wait_until_drawn(page, SAMPLE, DIMS)
        page.locator("vz-projector-inspector-panel #search-box input").fill(query)
        page.get_by_text(f"{matches} matches.").wait_for()
    assert log.external_requests == []
    assert log.console_errors == []
