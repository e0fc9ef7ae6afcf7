"""3-D label mode in Chromium: templates/view.js redraws the projector's glyph atlas from the
labels' own characters, so Cyrillic, CJK and emoji labels are drawn, not dropped.

If these fail after a tensorboard upgrade, the renderer's internals that view.js names in its
header (scatterPlotVisualizer3DLabels.ts, read from tensorboard 2.21) have changed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from browser import LOAD_TIMEOUT_MS, serve_folder, write_bare_page
from support import write_tensors

from projector_bundle.points.projections import bookmark_state, compute_pca
from projector_bundle.points.tensors import Tensor
from projector_bundle.projector.formats import PROJECTOR_JS, tensor_files

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
LABELS = ["hello", "мир", "日本", "##w", "café", "🙂ok"]
LATIN1 = {"hello", "##w", "café"}

# The renderer's own state, per label: the x extent of its quads (NaN where the projector's
# atlas has no glyph) and, per glyph, how many dark texels its texture rectangle covers.
_RENDERED = """() => {
  const projector = document.querySelector('vz-projector-app').shadowRoot.querySelector('vz-projector');
  const renderer = projector.projectorScatterPlotAdapter.labels3DVisualizer;
  const image = renderer.glyphTexture.texture.image;
  const pixels = image.getContext('2d').getImageData(0, 0, image.width, image.height).data;
  const pos = renderer.geometry.getAttribute('posObj').array;
  const uv = renderer.geometry.getAttribute('uv').array;
  let vertex = 0;
  return renderer.labelStrings.map((label) => {
    const xs = [];
    const ink = [];
    for (let unit = 0; unit < label.length; unit++, vertex += 6) {
      for (let k = 0; k < 6; k++) xs.push(pos[2 * (vertex + k)]);
      const [u0, v0, u1, v1] = [uv[2 * vertex], uv[2 * vertex + 5], uv[2 * vertex + 2], uv[2 * vertex + 1]];
      let dark = 0;
      const [x0, x1] = [Math.floor(u0 * image.width), Math.ceil(u1 * image.width)];
      const [y0, y1] = [Math.floor(Math.min(v0, v1) * image.height), Math.ceil(Math.max(v0, v1) * image.height)];
      for (let y = y0; y < y1; y++) {
        for (let x = x0; x < x1; x++) if (pixels[4 * (y * image.width + x)] < 128) dark++;
      }
      ink.push(Number.isFinite(u0) && u1 > u0 ? dark : null);
    }
    return { label, left: Math.min(...xs), right: Math.max(...xs), ink };
  });
}"""


@pytest.fixture(scope="module")
def scripts_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    matrix = np.random.default_rng(3).standard_normal((len(LABELS), 4)).astype(np.float32)
    rows = [[label, str(len(label))] for label in LABELS]
    state = bookmark_state(compute_pca(matrix), 4, label_option="Word", color_option="Length")
    tensor = Tensor("scripts", matrix, ["Word", "Length"], rows, tensor_files("vectors"), [state])
    out = tmp_path_factory.mktemp("scripts") / "site"
    write_tensors(out, [tensor], "scripts")
    return out


def show_3d_labels(page) -> None:
    page.get_by_text(f"Points: {len(LABELS)}", exact=True).wait_for(timeout=LOAD_TIMEOUT_MS)
    page.get_by_text("Total variance described").wait_for(timeout=LOAD_TIMEOUT_MS)
    page.locator("vz-projector #labels3DMode").click()
    page.wait_for_function(
        "() => document.querySelector('vz-projector-app').shadowRoot.querySelector('vz-projector')"
        ".projectorScatterPlotAdapter.labels3DVisualizer?.geometry != null",
        timeout=LOAD_TIMEOUT_MS,
    )


_CLOSE_UP = """(n) => {
  const projector = document.querySelector('vz-projector-app').shadowRoot.querySelector('vz-projector');
  const plot = projector.projectorScatterPlotAdapter.scatterPlot;
  const world = projector.projectorScatterPlotAdapter.labels3DVisualizer.worldSpacePointPositions;
  const [x, y, z] = [world[3 * n], world[3 * n + 1], world[3 * n + 2]];
  plot.orbitCameraControls.target.set(x, y, z);
  plot.camera.position.set(x, y, z + 0.3);
  plot.orbitCameraControls.update();
  plot.render();
}"""


def shoot_labels(page, prefix: str) -> None:
    """A screenshot of the whole page, then a close-up of each label (for people; nothing is asserted)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{prefix}.png"))
    for n in range(len(LABELS)):
        page.evaluate(_CLOSE_UP, n)
        page.wait_for_timeout(300)
        box = page.locator("vz-projector #scatter").bounding_box()
        clip = {"x": box["x"] + box["width"] / 2 - 200, "y": box["y"] + box["height"] / 2 - 110, "width": 400,
                "height": 130}  # fmt: skip
        page.screenshot(path=str(ARTIFACTS / f"{prefix}-{n}.png"), clip=clip)


def finite(value: float | None) -> bool:
    return value is not None and bool(np.isfinite(value))


def test_3d_labels_draw_every_script(scripts_bundle: Path, projector) -> None:
    page, log = projector
    with serve_folder(scripts_bundle) as url:
        page.goto(url)
        show_3d_labels(page)
        page.wait_for_function("window.bundleView.labels3D.state === 'drawn'", timeout=LOAD_TIMEOUT_MS)
        rendered = {r["label"]: r for r in page.evaluate(_RENDERED)}
        shoot_labels(page, "labels3d")
        labels3d = page.evaluate("(({atlas, ...rest}) => rest)(window.bundleView.labels3D)")
    glyphs = len(set("".join(LABELS)))  # code points: the emoji is one glyph
    assert labels3d == {"state": "drawn", "labels": len(LABELS), "glyphs": glyphs, "rowHeight": 80}
    for label in LABELS:
        r = rendered[label]
        assert finite(r["left"]) and finite(r["right"]) and r["right"] - r["left"] > 0.2 * len(label)
        assert abs(r["left"] + r["right"]) < 1e-4  # centred on its point, as the projector centres labels
        drawn = [ink for ink in r["ink"] if ink is not None]
        assert len(drawn) == len(label)  # a glyph per character: the emoji's two UTF-16 units make one
        assert all(ink > 20 for ink in drawn), r  # each glyph's texels hold ink
    assert log.console_errors == []
    assert [w for w in log.console_warnings if w.startswith("view.js:")] == []


def test_the_bare_projector_drops_labels_past_latin1(scripts_bundle: Path, projector) -> None:
    """The defect view.js works around: without it, the projector gives мир and 日本 no glyphs."""
    page, _ = projector
    bare = write_bare_page(scripts_bundle, scripts_bundle)
    with serve_folder(scripts_bundle) as url:
        page.goto(url + bare)
        show_3d_labels(page)
        rendered = {r["label"]: r for r in page.evaluate(_RENDERED)}
        shoot_labels(page, "labels3d-bare")
    for label in LABELS:
        assert finite(rendered[label]["left"]) is (label in LATIN1), rendered[label]


def test_changed_internals_leave_the_projectors_labels_with_one_warning(scripts_bundle: Path, projector) -> None:
    """A projector whose label geometry has no "posObj" attribute (as after an upgrade that renames it)."""
    page, log = projector

    def renamed(route) -> None:
        body = route.fetch().text()
        assert body.count('"posObj"') >= 1
        route.fulfill(body=body.replace("posObj", "posObjRenamed"), content_type="text/javascript")

    page.route(f"**/{PROJECTOR_JS}", renamed)
    with serve_folder(scripts_bundle) as url:
        page.goto(url)
        show_3d_labels(page)
        page.wait_for_function("window.bundleView.labels3D.state === 'unavailable'", timeout=LOAD_TIMEOUT_MS)
        page.locator("vz-projector #labels3DMode").click()  # off and on again: still one warning
        page.locator("vz-projector #labels3DMode").click()
        page.wait_for_timeout(500)
    warnings = [w for w in log.console_warnings if w.startswith("view.js:")]
    assert warnings == [
        "view.js: 3-D labels: the projector lacks the 3-D label renderer's labelStrings, totalVertexCount, "
        "geometry posObj/uv or glyphTexture (read from tensorboard 2.21); labels with characters past U+00FF "
        "are not drawn in 3-D label mode"
    ]
    assert log.console_errors == []
