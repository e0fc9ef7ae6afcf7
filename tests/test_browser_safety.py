"""Labels that look like markup stay text in the real projector: nothing runs, nothing loads."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser import LOAD_TIMEOUT_MS, serve_folder
from support import TINY_VOCAB, save_tiny_bert

from projector_bundle import cli

pytestmark = pytest.mark.browser

IMG = '<img src=x onerror="window.__xss=1">'
SCRIPT = "<script>window.__xss=2</script>"
VOCAB = [*TINY_VOCAB[:7], IMG, SCRIPT, "hello", "world", "\"'&amp;", "שלום", "🙂", "\ufeff"]


@pytest.fixture(scope="module")
def hostile_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    model = save_tiny_bert(folder / "model", vocab=VOCAB)
    out = folder / "site"
    assert cli.main(["bundle", "--model", str(model), "--out", str(out), "--labels", "word", "--quiet"]) == 0
    return out


def test_markup_in_labels_stays_text(hostile_bundle: Path, projector) -> None:
    page, log = projector
    with serve_folder(hostile_bundle) as url:
        page.goto(url)
        page.get_by_text(f"Points: {len(VOCAB)}").wait_for(timeout=LOAD_TIMEOUT_MS)
        search = page.locator("vz-projector-inspector-panel input").first
        search.fill("window")
        search.press("Enter")
        page.get_by_text("2 matches").wait_for(timeout=LOAD_TIMEOUT_MS)
        page.get_by_text(IMG).first.click()  # opens the point's metadata card and its neighbours
        page.get_by_text(SCRIPT).first.wait_for(timeout=LOAD_TIMEOUT_MS)
        assert page.get_by_text(IMG).count() >= 2  # the search hit and the metadata card, as text
        assert page.locator("img[src=x]").count() == 0  # Playwright's CSS looks inside shadow roots
        assert page.evaluate("window.__xss") is None
    assert log.external_requests == []
    assert log.console_errors == []
