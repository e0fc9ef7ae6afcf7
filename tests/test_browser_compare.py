"""--compare in Chromium: switching from a space to its aligned later space keeps an unchanged
token where it was on screen, and moves the tokens that changed (templates/view.js's frame)."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser import LOAD_TIMEOUT_MS, assert_clean, serve_folder, wait_for_view
from support import COMPARE_VOCAB, SWAPS, changed_copy, save_tiny_bert

from projector_bundle import cli

pytestmark = pytest.mark.browser
BASE = "base/word_embeddings"
CHANGED = "changed/word_embeddings"

# Where point i is on the page, in CSS pixels from the plot's top left: its world position (as
# the scatter plot holds it) through the camera's view and projection matrices (column-major).
_SCREEN = """index => {
  const projector = document.querySelector('vz-projector-app').shadowRoot.querySelector('vz-projector');
  const plot = projector.projectorScatterPlotAdapter.scatterPlot;
  const world = plot.worldSpacePointPositions;
  const camera = plot.camera;
  camera.updateMatrixWorld();
  const times = (m, v) => [0, 1, 2, 3].map(r => m[r] * v[0] + m[4 + r] * v[1] + m[8 + r] * v[2] + m[12 + r] * v[3]);
  const point = [world[3 * index], world[3 * index + 1], world[3 * index + 2], 1];
  const clip = times(camera.projectionMatrix.elements, times(camera.matrixWorldInverse.elements, point));
  const rect = plot.container.getBoundingClientRect();
  return [(clip[0] / clip[3] + 1) / 2 * rect.width, (1 - clip[1] / clip[3]) / 2 * rect.height];
}"""


@pytest.fixture(scope="module")
def compared_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("compare")
    base = save_tiny_bert(folder / "base", COMPARE_VOCAB)
    changed_copy(base, folder / "changed", swaps=SWAPS)
    out = folder / "site"
    args = ["bundle", "--model", str(base), "--model", str(folder / "changed"), "--compare", "--out", str(out)]
    assert cli.main([*args, "--quiet", "--no-tsv"]) == 0
    return out


def screen(page, token: str) -> tuple[float, float]:
    x, y = page.evaluate(_SCREEN, COMPARE_VOCAB.index(token))
    return x, y


def show(page, tensor: str) -> None:
    page.evaluate(f"location.hash = 'tensor={tensor}'")
    page.wait_for_function(f"window.bundleView.tensor === {tensor!r}", timeout=LOAD_TIMEOUT_MS)
    wait_for_view(page)


def test_switching_to_the_aligned_space_keeps_unchanged_tokens_in_place(compared_bundle: Path, projector) -> None:
    page, log = projector
    taker, giver = SWAPS[0]
    with serve_folder(compared_bundle) as url:
        page.goto(url)
        wait_for_view(page)
        assert page.evaluate("window.bundleView.tensor") == BASE
        before = {token: screen(page, token) for token in ("world", "bank", "word100", taker, giver)}
        show(page, CHANGED)
        assert page.evaluate("location.hash") == f"#tensor={CHANGED}&bookmark=1"  # the aligned view
        after = {token: screen(page, token) for token in before}
        for token in ("world", "bank", "word100"):  # unchanged: within a pixel
            assert after[token] == pytest.approx(before[token], abs=1.0), token
        # The taker jumps to where its giver was; it was elsewhere before.
        assert after[taker] == pytest.approx(before[giver], abs=1.0)
        assert abs(before[taker][0] - after[taker][0]) + abs(before[taker][1] - after[taker][1]) > 5
        # And back: the first space's exact view, drawn in the same frame.
        show(page, BASE)
        assert screen(page, "world") == pytest.approx(before["world"], abs=1.0)
        # The changed model's own PCA (its second bookmark) is in its own extent, not the frame.
        page.evaluate(f"location.hash = 'tensor={CHANGED}&bookmark=2'")
        page.wait_for_function("location.hash.endsWith('bookmark=2')", timeout=LOAD_TIMEOUT_MS)
        page.wait_for_timeout(500)
        assert screen(page, "world") != pytest.approx(before["world"], abs=1.0)
    assert_clean(log)


def test_the_comparison_panel_links_open_a_moved_token(compared_bundle: Path, projector) -> None:
    page, log = projector
    taker = SWAPS[0][0]
    with serve_folder(compared_bundle) as url:
        page.goto(url)
        wait_for_view(page)
        page.locator("#comparison summary").click()
        panel = page.locator("#comparison")
        assert panel.locator(".mean-overlap").inner_text() != "1.000"
        trust = panel.locator("#trust tr").all_inner_texts()
        assert [row.split("\t")[:2] for row in trust[1:]] == [
            [BASE, "PCA"], [CHANGED, "aligned"], [CHANGED, "PCA"]
        ]  # fmt: skip
        panel.locator(".most-moved a").filter(has_text=taker).click()
        page.wait_for_function(f"window.bundleView.tensor === {CHANGED!r}", timeout=LOAD_TIMEOUT_MS)
        wait_for_view(page)
        box = page.locator("vz-projector-inspector-panel #search-box input")
        page.wait_for_function(
            "value => document.querySelector('vz-projector-app').shadowRoot.querySelector('vz-projector')"
            ".inspectorPanel.searchBox.getValue() === value",
            arg=taker,
            timeout=LOAD_TIMEOUT_MS,
        )
        assert box.input_value() == taker
        assert page.evaluate("location.hash").startswith(f"#tensor={CHANGED}&bookmark=1&search=")
    assert_clean(log)
