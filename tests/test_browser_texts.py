"""A `--texts` bundle in Chromium: the texts tensor opens labelled by its text, colours by the
user's columns (a number column as a gradient), and the projector's search finds a text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from browser import colour_options, read_dataset, serve_folder, wait_until_drawn
from playwright.sync_api import expect

from projector_bundle import cli

pytestmark = pytest.mark.browser

ROWS = [
    ("the river bank", "nature", 1.5),
    ("hello world and welcome", "greeting", 2),
    ("the bank account", "money", 3.25),
    ("welcome into the world", "greeting", 4),
    ("hello 1990", "time", ""),  # a gap in the number column
    ("the river bank and the world and the river bank and the world and the bank account", "nature", 6),
]
TENSOR = "tiny-bert/texts"


@pytest.fixture(scope="module")
def texts_bundle(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("texts")
    file = folder / "texts.csv"
    file.write_text("text,topic,score\n" + "".join(f'"{t}",{c},{s}\n' for t, c, s in ROWS), encoding="utf-8")
    out = folder / "site"
    args = ["bundle", "--model", str(tiny_model), "--texts", str(file), "--neighbors", "2", "--out", str(out)]
    assert cli.main([*args, "--quiet"]) == 0
    return out


def test_the_texts_tensor_opens_with_its_label_column_and_search_finds_a_text(texts_bundle: Path, projector) -> None:
    page, log = projector
    config = json.loads((texts_bundle / "projector_config.json").read_text())
    assert config["embeddings"][0]["tensorName"] == TENSOR
    with serve_folder(texts_bundle) as url:
        page.goto(url)
        wait_until_drawn(page, len(ROWS), 8)
        data = read_dataset(page)
        assert [p["text"] for p in data["metadata"]][:5] == [t for t, _, _ in ROWS[:5]]
        assert data["metadata"][5]["text"].endswith("…")  # shortened label, the full text beside it
        assert data["metadata"][5]["text (full)"] == ROWS[5][0]
        assert data["metadata"][4]["score"] is None  # the gap is null: the column stays numeric
        # The bookmark's label and colour, applied by the page once the tensor is drawn.
        expect(page.locator("vz-projector-data-panel #labelby input")).to_have_value("text")
        expect(page.locator("vz-projector-data-panel #colorby input")).to_have_value("topic")
        assert {"topic", "score"} <= set(colour_options(page))
        # The search box searches the label column: the shortened texts.
        page.locator("vz-projector-inspector-panel #search-box input").fill("river bank")
        page.get_by_text("2 matches.").wait_for()
        assert page.evaluate("decodeURIComponent(location.hash)") == f"#tensor={TENSOR}&bookmark=1&search=river bank"
    assert log.external_requests == []
    assert log.console_errors == []
