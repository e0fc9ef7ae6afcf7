#!/usr/bin/env python3
"""How soon Chromium shows a bundle's complete view: our pages, a bare projector page, and the peers.

    make bench-browser  (PYTHONPATH=tests .venv/bin/python bench/browser_load.py [--site D] [--runs N]
                         [--pages light,ours,wizmap,datamapplot,bare] [--screenshot F])

It builds the default model's bundle twice (with --neighbors 5 and --no-tsv, as a
published page might be) into .bench/browser/: full/ opens on the full vectors, light/
on the light first view. With --site it times that bundle and a bare projector over it
instead. Each run opens a fresh browser context (nothing cached) and, for each page,
measures from navigation:
"complete": the view is complete: on our page, view.js has applied the exact PCA bookmark
(its `view-exact` performance mark); on the bare projector page (projector.tensorflow.org's
way: the pinned projector alone), the projector's own PCA reports its variance;
"longest task": the longest main-thread task (PerformanceObserver "longtask"), overall and
after the tensor was parsed; "MB": bytes fetched before the complete view, on the wire
(the server gzips text) and uncompressed; on the light page, "switch_to_full": from a click
on its link to the full tensor until that tensor's exact view is on.
"light" is our page with `--first-view light` (projector_bundle/firstview.py): the exact
3-D PCA coordinates as the first tensor, the full vectors one menu choice away.
"wizmap" and "datamapplot" are the peers' pages for the same matrix (bench/peers.py: a 2-D
UMAP, the same words), served by the same server; each is complete at its own signal.
The pages take turns within each run, starting one later each run, so that the load of
a shared machine falls on all of them alike; the load average is printed per page.
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

# tests/browser.py drives Chromium for the tests and for this bench: `make bench-browser` puts tests/ on PYTHONPATH.
from browser import CHROMIUM, CHROMIUM_ARGS, PageLog, colour_by, guard, write_bare_page
from peers import MARK_PEER_COMPLETE, PEER_MARK, build_datamapplot, build_wizmap, read_bundle, umap_2d

from projector_bundle import cli
from projector_bundle.output.serve import make_server, server_url
from projector_bundle.projector.formats import CONFIG_JSON

ROOT = Path(__file__).resolve().parent.parent

TIMEOUT_MS = 600_000
SCREENSHOT_COLOUR = "is subword"
BARE_HTML = "bench_bare.html"
FULL, LIGHT = "full", "light"
PAGES = ("light", "ours", "wizmap", "datamapplot", "bare")
FIGURES = (  # what is printed of each page: key, unit
    ("complete", "s"),
    ("longest", "s"),  # the longest main-thread task that started before the complete view
    ("longest_after_tensor", "s"),
    ("mb", "MB"),  # on the wire: `serve` gzips text, as hosts do
    ("mb_uncompressed", "MB"),
    ("switch_to_full", "s"),  # light page only: its link to the full tensor, until that is exact
    ("load", ""),  # the machine's 1-minute load average as the page was opened
)

# Collects every long task from the start of the page, before any script of it runs.
OBSERVE_LONG_TASKS = """
window.__longTasks = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) window.__longTasks.push([e.startTime, e.duration]);
}).observe({type: 'longtask', buffered: true});
"""

# Page-clock figures once the view is complete.
MEASURE = """([tensorPath, markName]) => {
  const mark = performance.getEntriesByName(markName)[0];
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
    longest: longest(window.__longTasks.filter(([s]) => s < complete)) / 1000,
    longest_after_tensor: longest(window.__longTasks.filter(([s]) => s >= parsedFrom)) / 1000,
    mb: (nav.transferSize + before.reduce((sum, r) => sum + r.transferSize, 0)) / 1e6,
    mb_uncompressed: (nav.decodedBodySize + before.reduce((sum, r) => sum + r.decodedBodySize, 0)) / 1e6,
  };
}"""


def build_bundle(out: Path, *flags: str) -> None:
    """The default model's bundle with a neighbours column, as a published page would have it."""
    if cli.main(["bundle", "--out", str(out), "--neighbors", "5", "--no-tsv", "--quiet", *flags]) != 0:
        raise SystemExit("bench: building the bundle failed")


def time_load(
    browser, address: str, tensor_path: str, points: int, kind: str, screenshot: Path | None, switch: bool = False
) -> dict:
    """One page in a fresh context; `kind` is "ours", "bare" or "peer" (how it says it is complete)."""
    load = os.getloadavg()[0]
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script(OBSERVE_LONG_TASKS)
    if kind == "peer":
        context.add_init_script(MARK_PEER_COMPLETE)
    page = context.new_page()
    log = PageLog()
    guard(page, log)
    page.goto(address)
    if kind == "peer":
        page.wait_for_function(f"performance.getEntriesByName({PEER_MARK!r}).length > 0", timeout=TIMEOUT_MS)
    else:
        page.get_by_text(f"Points: {points}", exact=True).wait_for(timeout=TIMEOUT_MS)
    if kind == "ours":
        page.wait_for_function("document.documentElement.dataset.view === 'exact'", timeout=TIMEOUT_MS)
    elif kind == "bare":
        page.get_by_text("Total variance described").wait_for(timeout=TIMEOUT_MS)
    result = page.evaluate(MEASURE, [tensor_path, PEER_MARK if kind == "peer" else "view-exact"])
    result["load"] = load
    if switch:  # the page's link to the full tensor, timed until its exact view is on
        start = page.evaluate("performance.now()")
        page.locator("#full-tensor").click()
        page.wait_for_function("window.bundleView.tensor !== null && !window.bundleView.tensor.endsWith(')')")
        page.wait_for_function("document.documentElement.dataset.view === 'exact'", timeout=TIMEOUT_MS)
        result["switch_to_full"] = (page.evaluate("performance.now()") - start) / 1000
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
    parser.add_argument("--site", type=Path, help="time this bundle (our page and a bare projector) instead")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--pages", default=",".join(PAGES), help=f"which pages, comma-separated (default: {','.join(PAGES)})"
    )
    parser.add_argument("--screenshot", type=Path, help="save our page after the first run")
    parser.add_argument("--reuse", action="store_true", help="time the bundles already under .bench/browser/")
    parser.add_argument(
        "--compare",
        type=Path,
        metavar="DIR",
        help="also time DIR/full and DIR/light (built by another checkout, inside .bench/browser/) "
        "as ours-before and light-before",
    )
    args = parser.parse_args()
    wanted = [name for name in args.pages.split(",") if name]
    unknown = sorted(set(wanted) - set(PAGES))
    if unknown:
        parser.error(f"--pages {unknown[0]}: choose from {', '.join(PAGES)}")

    if args.site is not None:  # an existing bundle: served from its parent, timed without a light variant
        root, sites = args.site.resolve().parent, {FULL: args.site.resolve().name}
    else:
        root, sites = ROOT / ".bench" / "browser", {FULL: FULL, LIGHT: LIGHT}
        for site, view in ((FULL, "full"), (LIGHT, "light")):
            if not (args.reuse and (root / site / CONFIG_JSON).exists()):
                build_bundle(root / site, "--first-view", view)
    write_bare_page(root / sites[FULL], root / sites[FULL], name=BARE_HTML)
    first = {name: json.loads((root / site / CONFIG_JSON).read_text())["embeddings"][0] for name, site in sites.items()}
    points = first[FULL]["tensorShape"][0]

    from playwright.sync_api import sync_playwright

    server = make_server(root)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = server_url(server)
    every = {  # name: (address, tensor file, kind)
        "ours": (f"{url}{sites[FULL]}/", first[FULL]["tensorPath"], "ours"),
        "bare": (f"{url}{sites[FULL]}/{BARE_HTML}", first[FULL]["tensorPath"], "bare"),
    }
    if LIGHT in sites:
        every["light"] = (f"{url}{sites[LIGHT]}/", first[LIGHT]["tensorPath"], "ours")
    every.update(peer_pages(root, sites[FULL], url, [name for name in wanted if name in ("wizmap", "datamapplot")]))
    pages = {name: every[name] for name in wanted if name in every}
    if args.compare is not None:  # served by the same server: it must lie inside the served folder
        other = args.compare.resolve().relative_to(root).as_posix()
        for name, site in (("ours", FULL), ("light", LIGHT)):
            if name in pages and (root / other / site / CONFIG_JSON).exists():
                tensor = json.loads((root / other / site / CONFIG_JSON).read_text())["embeddings"][0]["tensorPath"]
                pages[f"{name}-before"] = (f"{url}{other}/{site}/", tensor, "ours")
    results: dict[str, list[dict]] = {name: [] for name in pages}
    order = list(pages)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for run in range(args.runs):
            for name in order[run % len(order) :] + order[: run % len(order)]:
                address, tensor, kind = pages[name]
                shot = args.screenshot if run == 0 and name == "ours" else None
                switch = name.startswith("light")
                results[name].append(time_load(browser, address, tensor, points, kind, shot, switch))
        browser.close()
    server.shutdown()
    files = [f"{sites[name]}/{info['tensorPath']}" for name, info in first.items()]
    sizes = [f"{file} {(root / file).stat().st_size / 1e6:.1f} MB" for file in files]
    print(f"bundle: {points:,} points; {', '.join(sizes)}")
    print(f"machine: {os.cpu_count()} cores, load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for name, runs in results.items():
        for key, unit in FIGURES:
            values = [r[key] for r in runs if key in r]
            if not values:
                continue
            each = ", ".join(f"{v:.2f}" for v in values)
            print(
                f"{name:11} {key:20} median {statistics.median(values):7.2f} {unit:2}"
                f"  range {min(values):.2f}-{max(values):.2f}  runs {each}"
            )
    medians = {name: statistics.median(r["complete"] for r in runs) for name, runs in results.items()}
    for name in [name for name in ("ours", "light") if name in medians]:
        others = ", ".join(f"{medians[other] / medians[name]:.2f}x {other}'s" for other in medians if other != name)
        print(f"{name}: complete in {medians[name]:.2f} s; {others}")
    return 0


def peer_pages(root: Path, full: str, url: str, names: list[str]) -> dict[str, tuple[str, str, str]]:
    """The peers' pages asked for, built once under `root` from the full bundle's matrix; those
    whose packages are not installed are left out with a note (pip install -r requirements-bench.txt)."""
    if not names:
        return {}
    try:
        matrix, words = read_bundle(root / full)
        coords = umap_2d(matrix, root / "umap2d.npy")
        builders = {
            "wizmap": lambda: build_wizmap(root / "wizmap", coords, words, f"{url}wizmap/"),
            "datamapplot": lambda: build_datamapplot(root / "datamapplot", coords, words, root / "npm"),
        }
        pages = {}
        for name in names:
            pages[name] = (f"{url}{name}/{builders[name]()}", "", "peer")
        return pages
    except (ImportError, OSError, RuntimeError) as error:
        print(f"bench: leaving out {', '.join(names)}: {error}", file=sys.stderr)
        return {}


if __name__ == "__main__":
    raise SystemExit(main())
