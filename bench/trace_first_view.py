#!/usr/bin/env python3
"""Where a page's first view spends its time: a Chromium trace and a JavaScript CPU profile.

    PYTHONPATH=.:tests .venv/bin/python bench/trace_first_view.py FOLDER [--page index.html] [--done JS]

Serves FOLDER (as `make bench-browser` does: gzip, loopback), opens the page in a fresh
headless Chromium context with software WebGL, and records until the view is complete
(by default our page's `view-exact`). Prints:
- the page-clock timeline: the responses (when each file arrived) and the page's marks;
- the main thread, split by what Chromium did (script compile and run, style and
  layout, paint, GC, the rest), before the complete view;
- every main-thread task over 50 ms, with the JavaScript functions that took its time
  (self time, from V8's sampling profiler);
- the JavaScript functions with the most self time overall.
A benchmark tool, not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import collections
import json
import threading
from pathlib import Path

from browser import CHROMIUM, CHROMIUM_ARGS

from projector_bundle.output.serve import make_server, server_url

LONG_TASK_MS = 50
DONE_OURS = "document.documentElement.dataset.view === 'exact'"
CATEGORIES = [
    "devtools.timeline",
    "disabled-by-default-devtools.timeline",
    "v8.execute",
    "blink.user_timing",
    "toplevel",
    "loading",
]
# Trace event names grouped the way DevTools' summary groups them.
KINDS = {
    "script compile": ("v8.compile", "V8.CompileCode", "v8.parseOnBackground", "CompileScript", "v8.compileModule"),
    "script run": ("EvaluateScript", "FunctionCall", "V8.Execute", "v8.run", "TimerFire", "FireAnimationFrame"),
    "style and layout": ("UpdateLayoutTree", "Layout", "RecalculateStyles", "ScheduleStyleRecalculation"),
    "paint and composite": ("Paint", "PaintImage", "CompositeLayers", "UpdateLayer", "UpdateLayerTree", "PrePaint"),
    "garbage collection": ("MinorGC", "MajorGC", "V8.GCScavenger", "V8.GCFinalizeMC", "BlinkGC.AtomicPhase"),
    "HTML parse": ("ParseHTML",),
}


def main_thread(events: list[dict]) -> tuple[int, int]:
    """The renderer's main thread (pid, tid) of the page: the one that ran ParseHTML."""
    for e in events:
        if e.get("name") == "ParseHTML":
            return e["pid"], e["tid"]
    raise SystemExit("trace: no ParseHTML event; was the page loaded?")


def tasks_of(events: list[dict], pid: int, tid: int) -> list[dict]:
    """Top-level tasks of one thread (RunTask / ThreadControllerImpl::RunTask), start order."""
    runs = [
        e
        for e in events
        if e.get("pid") == pid
        and e.get("tid") == tid
        and e.get("ph") == "X"
        and e.get("name") in ("RunTask", "ThreadControllerImpl::RunTask")
    ]
    runs.sort(key=lambda e: e["ts"])
    top: list[dict] = []
    for e in runs:
        if top and e["ts"] < top[-1]["ts"] + top[-1].get("dur", 0):
            continue  # nested inside the previous task
        top.append(e)
    return top


def kind_of(name: str) -> str | None:
    return next((k for k, names in KINDS.items() if name in names), None)


def self_times(events: list[dict], pid: int, tid: int, start: float, end: float) -> dict[str, float]:
    """Milliseconds of each kind between `start` and `end` (µs), nested time counted once (its innermost kind)."""
    spans = sorted(
        (
            e
            for e in events
            if e.get("pid") == pid and e.get("tid") == tid and e.get("ph") == "X" and kind_of(e["name"])
        ),
        key=lambda e: (e["ts"], -e.get("dur", 0)),
    )
    totals: dict[str, float] = collections.defaultdict(float)
    stack: list[tuple[float, str]] = []  # (end, kind)

    def add(kind: str, a: float, b: float) -> None:
        a, b = max(a, start), min(b, end)
        if b > a:
            totals[kind] += (b - a) / 1000

    cursor = 0.0
    for e in spans:
        ts, te = e["ts"], e["ts"] + e.get("dur", 0)
        while stack and stack[-1][0] <= ts:
            finished, kind = stack.pop()
            add(kind, cursor, finished)
            cursor = finished
        if stack:
            add(stack[-1][1], cursor, ts)
        cursor = ts
        stack.append((te, kind_of(e["name"]) or "?"))
    while stack:
        finished, kind = stack.pop()
        add(kind, cursor, finished)
        cursor = finished
    return dict(totals)


def profile_self(profile: dict, start_us: float, end_us: float) -> collections.Counter[str]:
    """Self milliseconds per function from a V8 CPU profile, for samples between two profile times."""
    nodes = {n["id"]: n for n in profile["nodes"]}
    counts: collections.Counter[str] = collections.Counter()
    t = profile["startTime"]
    samples = profile.get("samples", [])
    deltas = profile.get("timeDeltas", [])
    for i, (node_id, delta) in enumerate(zip(samples, deltas, strict=False)):
        t += delta
        if not start_us <= t < end_us:
            continue
        nxt = deltas[i + 1] if i + 1 < len(deltas) else 0
        frame = nodes[node_id]["callFrame"]
        name = frame["functionName"] or "(anonymous)"
        where = frame["url"].rsplit("/", 1)[-1]
        label = f"{name} {where}:{frame['lineNumber'] + 1}:{frame['columnNumber'] + 1}" if where else name
        counts[label] += nxt / 1000
    return counts


def run(folder: Path, page_name: str, done: str, width: int, height: int) -> None:
    from playwright.sync_api import sync_playwright

    server = make_server(folder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = server_url(server) + page_name
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Profiler.enable")
        cdp.send("Profiler.setSamplingInterval", {"interval": 1000})
        cdp.send("Profiler.start")
        browser.start_tracing(page=page, categories=CATEGORIES)
        page.goto(url)
        page.wait_for_function(done, timeout=600_000)
        page.wait_for_timeout(300)
        timeline = page.evaluate(
            """() => ({
              origin: performance.timeOrigin,
              resources: performance.getEntriesByType('resource').map((r) => [r.name.split('/').pop(),
                 r.startTime, r.responseEnd, r.transferSize, r.decodedBodySize]),
              marks: performance.getEntriesByType('mark').map((m) => [m.name, m.startTime]),
              nav: performance.getEntriesByType('navigation').map((n) => [n.responseEnd, n.domContentLoadedEventEnd,
                 n.loadEventEnd])[0],
            })"""
        )
        trace = json.loads(browser.stop_tracing())
        profile = cdp.send("Profiler.stop")["profile"]
        context.close()
        browser.close()
    server.shutdown()

    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    pid, tid = main_thread(events)
    nav_start = next(
        (e["ts"] for e in events if e.get("name") == "navigationStart" and e.get("pid") == pid),
        min(e["ts"] for e in events if e.get("pid") == pid and e.get("ts")),
    )
    marks = dict((name, at) for name, at in timeline["marks"])
    complete_ms = marks.get("view-exact", max(at for _, at in timeline["marks"]) if timeline["marks"] else 0)
    print(f"page: {url}")
    print("timeline (ms from navigation start):")
    nav = timeline["nav"]
    rows = [(nav[0], "document received"), (nav[1], "DOMContentLoaded end")]
    rows += [
        (end, f"{name} arrived (asked at {start:.0f}, {size / 1e6:.2f} MB)")
        for name, start, end, _, size in timeline["resources"]
    ]
    rows += [(at, f"mark {name}") for name, at in timeline["marks"]]
    for at, what in sorted(rows):
        print(f"  {at:7.0f}  {what}")

    end_us = nav_start + complete_ms * 1000
    kinds = self_times(events, pid, tid, nav_start, end_us)
    tasks = tasks_of(events, pid, tid)
    busy = sum(min(t["ts"] + t["dur"], end_us) - t["ts"] for t in tasks if t["ts"] < end_us) / 1000
    print(f"main thread before the complete view ({complete_ms:.0f} ms): busy {busy:.0f} ms")
    for kind, ms in sorted(kinds.items(), key=lambda kv: -kv[1]):
        print(f"  {kind:22} {ms:7.0f} ms")

    # The profile's clock: µs on the same monotonic clock as the trace (both are base::TimeTicks).
    print(f"main-thread tasks over {LONG_TASK_MS} ms:")
    for t in tasks:
        if t["dur"] < LONG_TASK_MS * 1000:
            continue
        at = (t["ts"] - nav_start) / 1000
        functions = profile_self(profile, t["ts"], t["ts"] + t["dur"]).most_common(6)
        tops = "; ".join(f"{name} {ms:.0f}" for name, ms in functions if ms >= 5)
        inside = self_times(events, pid, tid, t["ts"], t["ts"] + t["dur"])
        split = ", ".join(f"{k} {v:.0f}" for k, v in sorted(inside.items(), key=lambda kv: -kv[1]) if v >= 5)
        print(f"  at {at:7.0f} ms: {t['dur'] / 1000:6.0f} ms  [{split}]")
        if tops:
            print(f"      {tops}")
    print("JavaScript self time before the complete view (ms):")
    for name, ms in profile_self(profile, nav_start, end_us).most_common(20):
        print(f"  {ms:6.0f}  {name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="the folder to serve")
    parser.add_argument("--page", default="", help="the page inside it (default: index.html)")
    parser.add_argument("--done", default=DONE_OURS, help="a JavaScript expression true once the view is complete")
    args = parser.parse_args()
    run(args.folder.resolve(), args.page, args.done, 1280, 800)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
