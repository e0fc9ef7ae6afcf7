#!/usr/bin/env python3
"""How soon Chromium shows a bundle's complete view: our page, a bare projector page, a light first view.

    make bench-browser  (PYTHONPATH=tests .venv/bin/python bench/browser_load.py [--site D] [--runs N] [--screenshot F])

Without --site it builds the default model's full bundle (with --neighbors 5) into
.bench/browser/site first. Each run opens a fresh browser context (nothing cached) and,
for each page over the same files, measures from navigation:
"complete": the view is complete: on our page, view.js has applied the exact PCA bookmark
(its `view-exact` performance mark); on the bare projector page (projector.tensorflow.org's
way: the pinned projector alone), the projector's own PCA reports its variance;
"longest task": the longest main-thread task (PerformanceObserver "longtask"), overall and
after the tensor was parsed; "MB": bytes fetched before the complete view.
"light" is our page over a light first view (projector_bundle/firstview.py): the exact
3-D PCA coordinates as the first tensor, the full vectors one menu choice away.
A benchmark, not a test: nothing here is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
from pathlib import Path

import numpy as np

# tests/browser.py drives Chromium for the tests and for this bench: `make bench-browser` puts tests/ on PYTHONPATH.
from browser import CHROMIUM, CHROMIUM_ARGS, PageLog, colour_by, guard, write_bare_page

from projector_bundle import cli
from projector_bundle.formats import CONFIG_JSON, PAGE_HTML
from projector_bundle.projections import EXACT_VIEW, PCA, Projection
from projector_bundle.serve import make_server, server_url

ROOT = Path(__file__).resolve().parent.parent

TIMEOUT_MS = 600_000
SCREENSHOT_COLOUR = "is subword"
BARE_HTML = "bench_bare.html"
LIGHT_HTML = "bench_light.html"
LIGHT_CONFIG = "bench_light_config.json"
LIGHT_STEM = "bench_light"

# Collects every long task from the start of the page, before any script of it runs.
OBSERVE_LONG_TASKS = """
window.__longTasks = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) window.__longTasks.push([e.startTime, e.duration]);
}).observe({type: 'longtask', buffered: true});
"""

# Page-clock figures once the view is complete.
MEASURE = """(tensorPath) => {
  const mark = performance.getEntriesByName('view-exact')[0];
  const complete = mark ? mark.startTime : performance.now();
  const nav = performance.getEntriesByType('navigation')[0];
  const resources = performance.getEntriesByType('resource');
  const tensor = resources.find((r) => r.name.endsWith('/' + tensorPath));
  // view.js marks when the projector hands it the parsed data; the bare page has no mark,
  // so there it is when the tensor file arrived (its parse then counts as "after").
  const parsed = performance.getEntriesByName('tensor-parsed')[0];
  const parsedFrom = parsed ? parsed.startTime : tensor ? tensor.responseEnd : 0;
  const before = resources.filter((r) => r.responseEnd <= complete);
  const longest = (tasks) => tasks.reduce((m, [, d]) => Math.max(m, d), 0);
  return {
    complete: complete / 1000,
    longest: longest(window.__longTasks) / 1000,
    longest_after_tensor: longest(window.__longTasks.filter(([s]) => s >= parsedFrom)) / 1000,
    mb: (nav.transferSize + before.reduce((sum, r) => sum + r.transferSize, 0)) / 1e6,
  };
}"""


def build_default_bundle(out: Path) -> None:
    if cli.main(["bundle", "--out", str(out), "--neighbors", "5", "--quiet"]) != 0:
        raise SystemExit("bench: building the bundle failed")


def write_light_variant(site: Path) -> None:
    """The light first view beside the bundle: until the pipeline writes it, from the bundle's own files."""
    from projector_bundle.firstview import first_view_bookmark

    config = json.loads((site / CONFIG_JSON).read_text())
    full = config["embeddings"][0]
    (state,) = [s for s in json.loads((site / full["bookmarksPath"]).read_text()) if EXACT_VIEW in s]
    coords = np.array([[p[f"pca-{c}"] for c in range(3)] for p in state["projections"]], dtype=np.float64)
    view = state[EXACT_VIEW]
    projection = Projection(PCA, coords, state["label"], tuple(view["variance"]), view["spherize"])
    coords.astype("<f4").tofile(site / f"{LIGHT_STEM}.bytes")
    bookmark = first_view_bookmark(
        projection, label_option=state.get("selectedLabelOption"), color_option=state.get("selectedColorOptionName")
    )
    (site / f"{LIGHT_STEM}.bookmarks.json").write_text(json.dumps([bookmark]))
    light = {
        "tensorName": full["tensorName"] + " (exact 3-D PCA)",
        "tensorShape": [coords.shape[0], 3],
        "tensorPath": f"{LIGHT_STEM}.bytes",
        "metadataPath": full["metadataPath"],  # the same rows: the neighbours column is the original space's
        "bookmarksPath": f"{LIGHT_STEM}.bookmarks.json",
    }
    (site / LIGHT_CONFIG).write_text(json.dumps({"embeddings": [light, *config["embeddings"]]}))
    page = (site / PAGE_HTML).read_text().replace(f'"{CONFIG_JSON}"', f'"{LIGHT_CONFIG}"')
    (site / LIGHT_HTML).write_text(page)


def time_load(browser, address: str, tensor_path: str, points: int, ours: bool, screenshot: Path | None) -> dict:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script(OBSERVE_LONG_TASKS)
    page = context.new_page()
    log = PageLog()
    guard(page, log)
    page.goto(address)
    page.get_by_text(f"Points: {points}", exact=True).wait_for(timeout=TIMEOUT_MS)
    if ours:
        page.wait_for_function("document.documentElement.dataset.view === 'exact'", timeout=TIMEOUT_MS)
    else:
        page.get_by_text("Total variance described").wait_for(timeout=TIMEOUT_MS)
    result = page.evaluate(MEASURE, tensor_path)
    if screenshot is not None:
        page.wait_for_timeout(1500)  # let the camera settle after the first frames
        colour_by(page, SCREENSHOT_COLOUR)
        page.screenshot(path=str(screenshot))
    context.close()
    if log.external_requests or log.console_errors:
        print(f"bench: {address}: {log.external_requests} {log.console_errors}", file=sys.stderr)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, help="an existing bundle (default: build the default model's)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--screenshot", type=Path, help="save our page after the first run")
    args = parser.parse_args()

    site = args.site
    if site is None:
        site = ROOT / ".bench" / "browser" / "site"
        build_default_bundle(site)
    write_light_variant(site)
    write_bare_page(site, site, name=BARE_HTML)
    embedding = json.loads((site / CONFIG_JSON).read_text())["embeddings"][0]
    points = embedding["tensorShape"][0]

    from playwright.sync_api import sync_playwright

    server = make_server(site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = server_url(server)
    pages = {  # name: (address, tensor file, our page?)
        "ours": (url, embedding["tensorPath"], True),
        "bare": (url + BARE_HTML, embedding["tensorPath"], False),
        "light": (url + LIGHT_HTML, f"{LIGHT_STEM}.bytes", True),
    }
    results: dict[str, list[dict]] = {name: [] for name in pages}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for run in range(args.runs):
            for name, (address, tensor, ours) in pages.items():
                shot = args.screenshot if run == 0 and name == "ours" else None
                results[name].append(time_load(browser, address, tensor, points, ours, shot))
        browser.close()
    server.shutdown()
    tensor_mb = (site / embedding["tensorPath"]).stat().st_size / 1e6

    print(f"bundle: {points:,} points; {embedding['tensorPath']} {tensor_mb:.1f} MB")
    print(f"machine: {os.cpu_count()} cores, load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for name, runs in results.items():
        for key, unit in (("complete", "s"), ("longest", "s"), ("longest_after_tensor", "s"), ("mb", "MB")):
            values = [r[key] for r in runs]
            each = ", ".join(f"{v:.2f}" for v in values)
            print(
                f"{name:5} {key:20} median {statistics.median(values):7.2f} {unit:2}"
                f"  range {min(values):.2f}-{max(values):.2f}  runs {each}"
            )
    bare = statistics.median(r["complete"] for r in results["bare"])
    for name in ("ours", "light"):
        print(f"{name}: {bare / statistics.median(r['complete'] for r in results[name]):.1f}x faster than bare")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
