"""The bundle in Debian's Chromium: what a person sees."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser import LOAD_TIMEOUT_MS, serve_folder

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def test_page_shows_the_points_and_dimension(tiny_bundle: Path, projector) -> None:
    page, log = projector
    with serve_folder(tiny_bundle) as url:
        page.goto(url)
        page.get_by_text("Points: 24").wait_for(timeout=LOAD_TIMEOUT_MS)
        page.get_by_text("Dimension: 8").wait_for(timeout=LOAD_TIMEOUT_MS)
        assert page.locator("#model-name").inner_text().endswith("tiny-bert")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "tiny-bundle.png"))
    assert log.external_requests == []
    assert log.console_errors == []
