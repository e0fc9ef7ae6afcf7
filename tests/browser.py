"""A real projector in a real browser: Debian's Chromium driven by Playwright.

The bundle is served on 127.0.0.1; every request to any other host is aborted
and recorded, and console errors are collected, so tests can assert both are empty.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from projector_bundle.serve import make_server, server_url

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}
# Chromium's software WebGL reports GPU stalls as console warnings, not errors.
LOAD_TIMEOUT_MS = 120_000


@contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """Serve `folder` with `make serve`'s server on an ephemeral loopback port; yields the base URL."""
    server = make_server(folder, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_url(server)
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class PageLog:
    """What a page did that a test may want to forbid."""

    external_requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)


def guard(page, log: PageLog) -> None:
    """Abort and record any request that leaves loopback; record console errors."""

    def route(route, request) -> None:
        host = urlparse(request.url).hostname or ""
        if request.url.startswith(("data:", "blob:")) or host in LOOPBACK:
            route.continue_()
        else:
            log.external_requests.append(request.url)
            route.abort()

    page.route("**/*", route)
    page.on("console", lambda msg: log.console_errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: log.console_errors.append(str(exc)))


# What the projector made of the files: every point's metadata (as strings, as written)
# and vector, read from its DataSet after loading.
_READ_DATASET = """() => {
  const projector = document.querySelector('vz-projector-app').shadowRoot.querySelector('vz-projector');
  const points = projector.dataSet.points;
  const text = (value) => (value == null ? null : String(value));
  return {
    metadata: points.map((p) => Object.fromEntries(Object.entries(p.metadata).map(([k, v]) => [k, text(v)]))),
    vectors: points.map((p) => Array.from(p.vector)),
  };
}"""


def wait_until_drawn(page, points: int, dimension: int) -> None:
    """Until the projector shows the counts and has drawn the points (PCA reports its variance)."""
    page.get_by_text(f"Points: {points}", exact=True).wait_for(timeout=LOAD_TIMEOUT_MS)
    page.get_by_text(f"Dimension: {dimension}", exact=True).wait_for(timeout=LOAD_TIMEOUT_MS)
    page.get_by_text("Total variance described").wait_for(timeout=LOAD_TIMEOUT_MS)


def read_dataset(page) -> dict[str, list]:
    return page.evaluate(_READ_DATASET)


def colour_options(page) -> list[str]:
    """The metadata columns offered under "Color by" (without "No color map" and the separator)."""
    labels = page.locator("#colorby paper-item").evaluate_all("items => items.map(i => i.label)")
    return [label for label in labels if label not in ("No color map", "Metadata")]


def colour_by(page, column: str) -> dict[str, int]:
    """Choose `column` under "Color by"; returns the legend: count of points per value."""
    page.locator("#colorby").click()
    page.locator("#colorby paper-item").filter(has_text=column).click()
    items = page.locator("vz-projector-legend .item")
    items.first.wait_for()
    labels = items.locator(".label").all_inner_texts()
    return dict(zip(labels, map(int, items.locator(".info").all_inner_texts()), strict=True))
