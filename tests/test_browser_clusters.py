"""`--clusters` in Chromium: "Color by" offers Cluster with one colour per named cluster, and the
page's list of clusters opens each cluster's bookmark (its members selected, coloured by Cluster)."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser import assert_stayed_clean, colour_by, colour_options, serve_folder, wait_until_drawn
from support import TOPIC_WORDS, read_bundle, write_vectors

from projector_bundle import cli
from projector_bundle.points.clusters import CLUSTER_HEADER, CLUSTER_KEY, FINE_HEADER

pytestmark = pytest.mark.browser

_STATE = """p => ({
  colour: p.dataPanel.selectedColorOptionName,
  selected: p.selectedPointIndices.slice().sort((a, b) => a - b),
  view: document.documentElement.dataset.view,
})"""


def test_colour_by_cluster_and_open_each_from_the_list(tmp_path: Path, projector) -> None:
    page, log = projector
    site = tmp_path / "site"
    assert cli.main(["bundle", "--out", str(site), "--quiet", *write_vectors(tmp_path)]) == 0
    header, rows, marks = read_bundle(site)
    column = [row[header.index(CLUSTER_HEADER)] for row in rows]
    points, dim = len(rows), 24
    with serve_folder(site) as url:
        page.goto(url)
        wait_until_drawn(page, points, dim)
        page.wait_for_function("document.documentElement.dataset.view === 'exact'")
        assert CLUSTER_HEADER in colour_options(page) and FINE_HEADER in colour_options(page)
        legend = colour_by(page, CLUSTER_HEADER)
        assert legend == {name: column.count(name) for name in set(column)}
        assert len(legend) == len(TOPIC_WORDS)

        entries = page.locator(".cluster-list .cluster")
        page.locator(".cluster-list summary").click()
        names = entries.locator(".cluster-name").all_inner_texts()
        sizes = [int(s.replace(",", "")) for s in entries.locator(".size").all_inner_texts()]
        assert dict(zip(names, sizes, strict=True)) == legend
        for name in names:
            page.locator(".cluster-list .cluster-name").filter(has_text=name).click()
            number = next(i for i, m in enumerate(marks) if m.get(CLUSTER_KEY) == name) + 1
            page.wait_for_function(f"location.hash.endsWith('bookmark={number}')")
            state = page.locator("vz-projector").evaluate(_STATE)
            assert state["colour"] == CLUSTER_HEADER
            assert state["selected"] == [i for i, c in enumerate(column) if c == name]
            assert state["view"] == "exact"  # the exact PCA stays: the bookmark carries no coordinates
    assert_stayed_clean(log)
