"""A real projector in a real browser: Debian's Chromium driven by Playwright.

The bundle is served on 127.0.0.1; every request to any other host is aborted
and recorded, and console errors are collected, so tests can assert both are empty.
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from projector_bundle.output.serve import make_server, server_url
from projector_bundle.projector.formats import PROJECTOR_JS

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


# projector.tensorflow.org's page, reduced to what matters here: the same pinned
# projector in demo mode, with no page script of ours and a config of its own.
BARE_PAGE = f"""<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>bare projector</title>
<style>html, body {{ margin: 0; height: 100%; }} vz-projector-app {{ display: block; height: 100%; }}</style></head>
<body><vz-projector-app serving-mode="demo" projector-config-json-path="{{config}}"></vz-projector-app>
<script src="{PROJECTOR_JS}"></script></body></html>
"""


def write_bare_page(folder: Path, bundle: Path, config: str = "projector_config.json", name: str = "bare.html") -> str:
    """A bare projector page (`name`) in `folder`, with the bundle's copy of the projector; returns `name`."""
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / PROJECTOR_JS).exists():
        shutil.copyfile(bundle / PROJECTOR_JS, folder / PROJECTOR_JS)
    (folder / name).write_text(BARE_PAGE.replace("{config}", config), encoding="utf-8")
    return name


@dataclass
class PageLog:
    """What a page did that a test may want to forbid."""

    external_requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    console_warnings: list[str] = field(default_factory=list)


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

    def console(msg) -> None:
        if msg.type == "error":
            log.console_errors.append(msg.text)
        elif msg.type == "warning":
            log.console_warnings.append(msg.text)

    page.on("console", console)
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
    # The whole first word: "Cluster" is not "Subcluster".
    page.locator("#colorby paper-item").filter(has_text=re.compile(rf"^\s*{re.escape(column)}(\s|$)")).click()
    items = page.locator("vz-projector-legend .item")
    items.first.wait_for()
    labels = items.locator(".label").all_inner_texts()
    return dict(zip(labels, map(int, items.locator(".info").all_inner_texts()), strict=True))


def wait_for_view(page, view: str = "exact") -> None:
    """Until the page script (templates/view.js) reports `view`: "exact", "projector", "unavailable"."""
    page.wait_for_function(f"document.documentElement.dataset.view === {view!r}", timeout=LOAD_TIMEOUT_MS)


# Chromium's own log line for any fetch answered 404; not an error of the page's scripts.
NOT_FOUND = "Failed to load resource: the server responded with a status of 404 (File not found)"


def assert_clean(log, warnings: int = 0, not_found: int = 0) -> None:
    """No request left loopback, no console error but `not_found` 404s, `warnings` warnings from view.js."""
    assert log.external_requests == []
    assert log.console_errors == [NOT_FOUND] * not_found
    assert len([w for w in log.console_warnings if w.startswith("view.js:")]) == warnings, log.console_warnings


def assert_stayed_clean(log) -> None:
    assert log.external_requests == []
    assert log.console_errors == []
