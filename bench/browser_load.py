#!/usr/bin/env python3
"""How long Chromium takes to show every point of a bundle, from the .bytes and from the TSV.

    .venv/bin/python bench/browser_load.py [--site DIR] [--runs N] [--screenshot docs/screenshot.png]

Without --site it builds the default model's full bundle into .bench/browser/site first.
Each run opens a fresh browser context (nothing cached) and measures, from navigation:
"data": the metadata has arrived (the projector asks for it once the tensor is parsed), and
"drawn": the page shows "Points: N" and PCA reports its variance, i.e. every point is on screen.
The projector computes PCA on the page's main thread, which blocks Playwright's polling of
the page meanwhile; hence "data" is taken from network events instead.
A benchmark, not a test: nothing here is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from browser import CHROMIUM, CHROMIUM_ARGS, PageLog, colour_by, guard  # noqa: E402

from projector_bundle import cli  # noqa: E402
from projector_bundle.formats import CONFIG_JSON, DEFAULT_FILES  # noqa: E402
from projector_bundle.serve import make_server, server_url  # noqa: E402

TIMEOUT_MS = 600_000
TSV_CONFIG = "bench_tsv_config.json"
SCREENSHOT_COLOUR = "is subword"


def build_default_bundle(out: Path) -> None:
    if cli.main(["bundle", "--out", str(out)]) != 0:
        raise SystemExit("bench: building the bundle failed")


def write_tsv_config(site: Path, url: str) -> str:
    """A config like the bundle's, pointing at the vectors TSV, as one would give projector.tensorflow.org."""
    config = json.loads((site / CONFIG_JSON).read_text())
    for embedding in config["embeddings"]:
        embedding["tensorPath"] = url + DEFAULT_FILES.tsv
        embedding["metadataPath"] = url + DEFAULT_FILES.metadata
    (site / TSV_CONFIG).write_text(json.dumps(config))
    return f"{url}?config={quote(url + TSV_CONFIG, safe='')}"


def time_load(browser, address: str, points: int, screenshot: Path | None) -> dict[str, float]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    log = PageLog()
    guard(page, log)
    arrived: list[float] = []
    page.on(
        "requestfinished",
        lambda r: arrived.append(time.perf_counter()) if r.url.endswith("/" + DEFAULT_FILES.metadata) else None,
    )
    start = time.perf_counter()
    page.goto(address)
    page.get_by_text(f"Points: {points}", exact=True).wait_for(timeout=TIMEOUT_MS)
    page.get_by_text("Total variance described").wait_for(timeout=TIMEOUT_MS)
    drawn = time.perf_counter() - start
    if screenshot is not None:
        colour_by(page, SCREENSHOT_COLOUR)
        page.wait_for_timeout(1500)  # let the camera settle after the first frames
        page.screenshot(path=str(screenshot))
    context.close()
    if log.external_requests or log.console_errors:
        print(f"bench: {address}: {log}", file=sys.stderr)
    return {"data": arrived[0] - start, "drawn": drawn}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, help="an existing bundle (default: build the default model's)")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument(
        "--screenshot", type=Path, help=f"save the .bytes page, coloured by {SCREENSHOT_COLOUR!r}, after the first run"
    )
    args = parser.parse_args()

    site = args.site
    if site is None:
        site = ROOT / ".bench" / "browser" / "site"
        build_default_bundle(site)
    config = json.loads((site / CONFIG_JSON).read_text())
    points = config["embeddings"][0]["tensorShape"][0]

    from playwright.sync_api import sync_playwright

    server = make_server(site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = server_url(server)
    sources = {"bytes": url, "tsv": write_tsv_config(site, url)}
    results: dict[str, list[dict[str, float]]] = {name: [] for name in sources}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for run in range(args.runs):
            for name, address in sources.items():
                shot = args.screenshot if run == 0 and name == "bytes" else None
                results[name].append(time_load(browser, address, points, shot))
        browser.close()
    server.shutdown()

    sizes = {f: (site / f).stat().st_size for f in (DEFAULT_FILES.bytes, DEFAULT_FILES.tsv, DEFAULT_FILES.metadata)}
    print(f"bundle: {points:,} points; " + ", ".join(f"{f} {s / 1e6:.1f} MB" for f, s in sizes.items()))
    print(f"machine: {os.cpu_count()} cores, load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for name, runs in results.items():
        for key in ("data", "drawn"):
            values = [r[key] for r in runs]
            each = ", ".join(f"{v:.2f}" for v in values)
            print(f"{name:5} {key:6} median {statistics.median(values):6.2f} s  runs {each}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
