"""The contextual bundle in Chromium: switching tensors and applying an exported bookmark."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from browser import LOAD_TIMEOUT_MS, serve_folder

from projector_bundle.projector.formats import CONFIG_JSON

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def projected(page, kind: str) -> list[list[float | None]]:
    """Each point's coordinates of projection `kind`, as the projector holds them."""
    script = "(p, kind) => p.dataSet.points.map(pt => [0, 1, 2].map(c => pt.projections[kind + '-' + c] ?? null))"
    return page.locator("vz-projector").evaluate(script, kind)


def test_tensor_menu_switches_to_the_contextual_tensor(context_bundle: Path, projector) -> None:
    page, log = projector
    with serve_folder(context_bundle) as url:
        page.goto(url)
        page.get_by_text("Points: 24").wait_for(timeout=LOAD_TIMEOUT_MS)
        menu = page.locator("vz-projector-data-panel paper-dropdown-menu").first
        menu.get_by_text("5 tensors found").wait_for()
        menu.click()
        items = menu.locator("paper-item")
        # The projector orders its menu by point count; the first tensor is still the one shown first.
        names = [text.split()[0] for text in items.all_inner_texts()]
        assert sorted(names) == [
            "tiny-bert/contextual_layer0",
            "tiny-bert/contextual_layer1",
            "tiny-bert/position_embeddings",
            "tiny-bert/token_type_embeddings",
            "tiny-bert/word_embeddings",
        ]
        items.filter(has_text="tiny-bert/contextual_layer1").click()
        page.get_by_text("Points: 11").wait_for(timeout=LOAD_TIMEOUT_MS)
        page.get_by_text("Dimension: 8").wait_for(timeout=LOAD_TIMEOUT_MS)
        # The bookmarks panel follows the tensor.
        page.locator("vz-projector-bookmark-panel").get_by_text("BOOKMARKS (1)").wait_for(timeout=LOAD_TIMEOUT_MS)
        labels = page.locator("vz-projector-bookmark-panel paper-textarea.state-label-input")
        assert labels.evaluate_all("els => els.map(e => e.value)")[0].startswith("PCA of all 11 points")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "contextual-tensor.png"))
    assert log.external_requests == []
    assert log.console_errors == []


def test_applying_the_bookmark_shows_the_exported_pca(context_bundle: Path, projector) -> None:
    page, log = projector
    config = json.loads((context_bundle / CONFIG_JSON).read_text())["embeddings"][0]
    (state,) = json.loads((context_bundle / config["bookmarksPath"]).read_text())
    exported = [[point[f"pca-{c}"] for c in range(3)] for point in state["projections"]]
    with serve_folder(context_bundle) as url:
        page.goto(url)
        page.get_by_text("Points: 24").wait_for(timeout=LOAD_TIMEOUT_MS)
        panel = page.locator("vz-projector-bookmark-panel")
        panel.get_by_text("BOOKMARKS (1)").wait_for(timeout=LOAD_TIMEOUT_MS)
        # The page script (view.js) applies it on load (tests/test_browser_view.py covers the rest).
        panel.locator('paper-icon-button[icon="radio-button-checked"]').wait_for(timeout=LOAD_TIMEOUT_MS)
        assert projected(page, "pca") == exported
        assert page.locator("vz-projector").evaluate("p => p.projection.projectionType") == "pca"
        assert page.locator("vz-projector").evaluate("p => p.projection.dimensionality") == 3
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "bookmark-applied.png"))
    assert log.external_requests == []
    assert log.console_errors == []
