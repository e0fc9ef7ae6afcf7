"""The page script (templates/view.js) in Chromium: the exact view at once, deep links, fallbacks,
and projector.tensorflow.org's two ways in (the Load dialog, ?config= from another origin)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest
from browser import (
    LOAD_TIMEOUT_MS,
    colour_options,
    read_dataset,
    serve_folder,
    wait_until_drawn,
    write_bare_page,
)
from support import DEFAULT_HEADER, TINY_VOCAB, tiny_matrix, write_tensors

from projector_bundle import cli
from projector_bundle.points.projections import EXACT_VIEW, bookmark_state, compute_pca
from projector_bundle.points.tensors import Tensor
from projector_bundle.projector.formats import CONFIG_JSON, DEFAULT_FILES, REMOTE_CONFIG_JSON, tensor_files

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
WORD = "tiny-bert/word_embeddings"
LAYER1 = "tiny-bert/contextual_layer1"

# What the projector holds: each point's PCA coordinates, its variances, the notice, the text.
_VIEW = """p => ({
  coords: p.dataSet.points.map(pt => [0, 1, 2].map(c => pt.projections['pca-' + c] ?? null)),
  variance: Array.from(p.dataSet.fracVariancesExplained ?? []),
  sampling: getComputedStyle(p.projectionsPanel.$$('#pca-sampling')).display,
  total: p.projectionsPanel.$$('#total-variance').textContent,
  type: p.projection && p.projection.projectionType,
  checked: p.bookmarkPanel.savedStates.findIndex(s => s.isSelected),
})"""


def projector_view(page) -> dict:
    return page.locator("vz-projector").evaluate(_VIEW)


def wait_for_view(page, view: str = "exact") -> None:
    page.wait_for_function(f"document.documentElement.dataset.view === {view!r}", timeout=LOAD_TIMEOUT_MS)


def first_bookmark(site: Path, tensor: int = 0) -> dict:
    config = json.loads((site / CONFIG_JSON).read_text())["embeddings"][tensor]
    return json.loads((site / config["bookmarksPath"]).read_text())[0]


def exported(state: dict) -> list[list[float]]:
    return [[point[f"pca-{c}"] for c in range(3)] for point in state["projections"]]


def total_text(variance: list[float]) -> str:
    """The projector's own wording for three components (updateTotalVarianceMessage)."""
    return f"Total variance described: {sum(variance[:3]) * 100:.1f}%."


# Chromium's own log line for any fetch answered 404; not an error of the page's scripts.
NOT_FOUND = "Failed to load resource: the server responded with a status of 404 (File not found)"


def assert_clean(log, warnings: int = 0, not_found: int = 0) -> None:
    assert log.external_requests == []
    assert log.console_errors == [NOT_FOUND] * not_found
    assert len([w for w in log.console_warnings if w.startswith("view.js:")]) == warnings, log.console_warnings


@pytest.fixture(scope="module")
def wide_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 points x 256 dimensions, written by the real writers: the projector spherizes
    them and would sample them ("PCA is approximate"), the cases the tiny model cannot show."""
    matrix = np.random.default_rng(7).standard_normal((300, 256)).astype(np.float32)
    matrix[:, :3] *= [6.0, 4.0, 3.0]  # three clear components
    rows = [[f"w{i}", str(i % 5)] for i in range(300)]
    state = bookmark_state(compute_pca(matrix), 256, label_option="Word", color_option="Group")
    tensor = Tensor("wide", matrix, ["Word", "Group"], rows, tensor_files("vectors"), [state])
    out = tmp_path_factory.mktemp("wide") / "site"
    write_tensors(out, [tensor], "wide")
    return out


def test_opens_on_the_exact_view_with_the_bookmark_applied(wide_bundle: Path, projector) -> None:
    """If this fails after a tensorboard upgrade, view.js no longer fits the projector: read its header."""
    page, log = projector
    state = first_bookmark(wide_bundle)
    with serve_folder(wide_bundle) as url:
        page.goto(url)
        wait_for_view(page)
        view = projector_view(page)
        assert page.evaluate("window.bundleView") == {"view": "exact", "tensor": "wide", "warnings": []}
        assert view["coords"] == exported(state)
        assert view["variance"] == state[EXACT_VIEW]["variance"]
        assert len(view["variance"]) == 10
        assert view["total"] == total_text(state[EXACT_VIEW]["variance"])
        assert view["sampling"] == "none"  # nothing says "PCA is approximate"
        assert view["type"] == "pca"
        assert view["checked"] == 0  # the bookmark's radio button is on
        assert page.locator("vz-projector-data-panel #colorby input").input_value() == "Group"
        assert page.evaluate("location.hash") == "#tensor=wide&bookmark=1"
        # The X menu lists the exact variance of each of the ten components.
        menu = page.locator("vz-projector-projections-panel .pca-dropdown").first
        details = menu.locator(".item-details").all_inner_texts()
        assert details == [f"{v * 100:.1f}" for v in state[EXACT_VIEW]["variance"]]
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "exact-view.png"))
    assert_clean(log)


def test_a_component_past_the_third_falls_back_to_the_projectors_pca(wide_bundle: Path, projector) -> None:
    page, log = projector
    state = first_bookmark(wide_bundle)
    with serve_folder(wide_bundle) as url:
        page.goto(url)
        wait_for_view(page)
        # Component #4 as Z, as the Z menu would set it.
        page.locator("vz-projector-projections-panel").evaluate("panel => { panel.pcaZ = 3; }")
        page.wait_for_function(
            "() => document.querySelector('vz-projector-app').shadowRoot.querySelector('vz-projector')"
            ".dataSet.projections['pca-3'] === true",
            timeout=LOAD_TIMEOUT_MS,
        )
        view = projector_view(page)
        assert view["variance"] != state[EXACT_VIEW]["variance"]  # the projector's own, from a sample
        assert view["sampling"] != "none"  # "PCA is approximate." is back, and true
        assert view["coords"] != exported(state)
        assert view["total"] == f"Total variance described: {sum(view['variance'][i] for i in (0, 1, 3)) * 100:.1f}%."
    assert_clean(log)


def test_switching_tensor_opens_it_exact_and_updates_the_link(context_bundle: Path, projector) -> None:
    page, log = projector
    layer1 = next(i for i, e in enumerate(json.loads((context_bundle / CONFIG_JSON).read_text())["embeddings"])
                  if e["tensorName"] == LAYER1)  # fmt: skip
    state = first_bookmark(context_bundle, layer1)
    with serve_folder(context_bundle) as url:
        page.goto(url)
        wait_for_view(page)
        assert page.evaluate("location.hash") == f"#tensor={WORD}&bookmark=1"
        menu = page.locator("vz-projector-data-panel paper-dropdown-menu").first
        menu.click()
        menu.locator("paper-item").filter(has_text=LAYER1).click()
        page.wait_for_function(f"window.bundleView.tensor === {LAYER1!r}", timeout=LOAD_TIMEOUT_MS)
        wait_for_view(page)
        view = projector_view(page)
        assert view["coords"] == exported(state)
        assert view["variance"] == state[EXACT_VIEW]["variance"]
        assert view["checked"] == 0
        page.locator("vz-projector-inspector-panel #search-box input").fill("bank")
        page.get_by_text("2 matches.").wait_for()
        assert page.evaluate("location.hash") == f"#tensor={LAYER1}&bookmark=1&search=bank"
    assert_clean(log)


def test_a_deep_link_picks_tensor_bookmark_and_search(context_bundle: Path, projector) -> None:
    page, log = projector
    with serve_folder(context_bundle) as url:
        fetched: list[str] = []
        page.on("request", lambda r: fetched.append(r.url.removeprefix(url)))
        page.goto(f"{url}#tensor={LAYER1}&bookmark=1&search=bank")
        page.get_by_text("Points: 11", exact=True).wait_for(timeout=LOAD_TIMEOUT_MS)
        wait_for_view(page)
        page.get_by_text("2 matches.").wait_for()
        assert page.evaluate("window.bundleView.tensor") == LAYER1
        assert projector_view(page)["checked"] == 0
        assert page.locator("vz-projector-inspector-panel #search-box input").input_value() == "bank"
        assert page.evaluate("location.hash") == f"#tensor={LAYER1}&bookmark=1&search=bank"
        assert page.locator("#view-note").is_hidden()
        # The first tensor in the config was never fetched: the link chose before the projector did.
        assert DEFAULT_FILES.bytes not in fetched
        # Editing the address changes the view.
        page.evaluate(f"location.hash = 'tensor={WORD}&search=river'")
        page.wait_for_function(f"window.bundleView.tensor === {WORD!r}", timeout=LOAD_TIMEOUT_MS)
        page.get_by_text(f"Points: {len(TINY_VOCAB)}", exact=True).wait_for(timeout=LOAD_TIMEOUT_MS)
        page.get_by_text("1 matches.").wait_for()
    assert_clean(log)


def test_a_link_to_an_unknown_tensor_or_bookmark_is_noted_and_ignored(context_bundle: Path, projector) -> None:
    page, log = projector
    with serve_folder(context_bundle) as url:
        page.goto(f"{url}#tensor=no/such&bookmark=7")
        wait_for_view(page)
        note = page.locator("#view-note")
        assert note.is_visible()
        assert 'names tensor "no/such", which this bundle does not have; showing "tiny-bert/word_embeddings"' in (
            note.inner_text()
        )
        assert page.evaluate("window.bundleView.tensor") == WORD
        page.goto("about:blank")  # a fresh load, not a change of hash
        page.goto(f"{url}#bookmark=7")
        wait_for_view(page)
        assert "names bookmark 7, which tensor" in page.locator("#view-note").inner_text()
        assert projector_view(page)["checked"] == 0  # the exact PCA instead
        assert page.evaluate("location.hash") == f"#tensor={WORD}&bookmark=1"
    assert_clean(log)


@pytest.mark.parametrize(
    ("damage", "not_found"),
    [
        pytest.param(lambda path: path.unlink(), 1, id="missing"),
        pytest.param(lambda path: path.write_text("[{not json", encoding="utf-8"), 0, id="malformed"),
        pytest.param(lambda path: path.write_text('{"a": 1}', encoding="utf-8"), 0, id="not-a-list"),
        pytest.param(lambda path: path.write_text("[]", encoding="utf-8"), 0, id="no-exact-view"),
    ],
)
def test_a_bad_bookmark_file_falls_back_with_one_warning(
    damage, not_found: int, tiny_bundle: Path, tmp_path: Path, projector
) -> None:
    page, log = projector
    site = shutil.copytree(tiny_bundle, tmp_path / "site")
    damage(site / DEFAULT_FILES.bookmarks)
    with serve_folder(site) as url:
        page.goto(url)
        wait_until_drawn(page, len(TINY_VOCAB), 8)  # the projector's own PCA
        wait_for_view(page, "projector")
        assert colour_options(page) == DEFAULT_HEADER
        assert page.locator("vz-projector-bookmark-panel").get_by_text("BOOKMARKS (0)").count() == 1
    assert_clean(log, warnings=1, not_found=not_found)


def test_a_changed_projector_falls_back_with_one_warning(tiny_bundle: Path, projector) -> None:
    """As if a tensorboard upgrade had renamed a panel: the projector works as it does alone."""
    page, log = projector
    page.add_init_script(
        "const get = customElements.get.bind(customElements);"
        "customElements.get = (name) => (name === 'vz-projector-bookmark-panel' ? undefined : get(name));"
    )
    with serve_folder(tiny_bundle) as url:
        page.goto(url)
        wait_until_drawn(page, len(TINY_VOCAB), 8)
        assert page.evaluate("window.bundleView.view") == "unavailable"
    assert_clean(log, warnings=1)


def test_the_load_dialog_takes_the_bundles_tsvs(tiny_bundle: Path, tiny_model: Path, tmp_path: Path, projector) -> None:
    """projector.tensorflow.org's Load dialog: vectors TSV and metadata TSV through its file inputs."""
    page, log = projector
    site = tmp_path / "bare"
    site.mkdir()
    # projector.tensorflow.org opens on demo data first; here, three points of two dimensions.
    (site / "demo.tsv").write_text("0\t1\n1\t0\n1\t1\n")
    demo = {"embeddings": [{"tensorName": "demo", "tensorShape": [3, 2], "tensorPath": "demo.tsv"}]}
    (site / "demo_config.json").write_text(json.dumps(demo))
    bare = write_bare_page(site, tiny_bundle, config="demo_config.json")
    with serve_folder(site) as url:
        page.goto(url + bare)
        page.get_by_text("Points: 3", exact=True).wait_for(timeout=LOAD_TIMEOUT_MS)
        # Loading a file while the demo's own PCA is still being drawn races inside the projector.
        page.get_by_text("Total variance described", exact=False).first.wait_for(timeout=LOAD_TIMEOUT_MS)
        page.locator("vz-projector-data-panel").get_by_text("Load", exact=True).click()
        page.locator("vz-projector-data-panel #file").set_input_files(str(tiny_bundle / DEFAULT_FILES.tsv))
        page.get_by_text(f"Points: {len(TINY_VOCAB)}", exact=True).wait_for(timeout=LOAD_TIMEOUT_MS)
        # As a user must: let the projector finish its PCA of the uploaded vectors first. Metadata
        # uploaded meanwhile replaces the data set under it (updateTotalVarianceMessage then throws).
        page.wait_for_function(
            "() => { const p = document.querySelector('vz-projector-app').shadowRoot.querySelector('vz-projector');"
            f" return p.dataSet.points.length === {len(TINY_VOCAB)}"
            " && (p.dataSet.fracVariancesExplained ?? []).length > 0; }",
            timeout=LOAD_TIMEOUT_MS,
        )
        page.locator("vz-projector-data-panel #file-metadata").set_input_files(
            str(tiny_bundle / DEFAULT_FILES.metadata)
        )
        page.wait_for_function(
            "() => document.querySelector('vz-projector-app').shadowRoot.querySelector('vz-projector')"
            ".dataSet.points[0].metadata.Token === '[PAD]'",
            timeout=LOAD_TIMEOUT_MS,
        )
        page.get_by_text("Dimension: 8", exact=True).wait_for()
        data = read_dataset(page)
        page.keyboard.press("Escape")
        assert [row["Token"] for row in data["metadata"]] == TINY_VOCAB  # the raw entries; Word is readable
        assert list(data["metadata"][0]) == DEFAULT_HEADER
        assert colour_options(page) == DEFAULT_HEADER

        np.testing.assert_array_equal(np.array(data["vectors"], dtype=np.float32), tiny_matrix(tiny_model))
    assert log.external_requests == []
    assert log.console_errors == []


def test_config_from_another_origin_loads_the_remote_config(tiny_model: Path, tmp_path: Path, projector) -> None:
    """projector.tensorflow.org's ?config=: a bare projector on one port, the bundle on another."""
    page, log = projector
    site, other = tmp_path / "site", tmp_path / "other"
    site.mkdir()
    # `make serve`'s server sends Access-Control-Allow-Origin: *, as GitHub Pages does.
    with serve_folder(site) as url, serve_folder(other) as other_url:
        args = ["bundle", "--model", str(tiny_model), "--out", str(site), "--base-url", url, "--first-view", "full"]
        assert cli.main([*args, "--quiet"]) == 0
        bare = write_bare_page(other, site)
        assert url.split(":")[2] != other_url.split(":")[2]  # two origins
        page.goto(f"{other_url}{bare}?config={quote(url + REMOTE_CONFIG_JSON, safe='')}")
        wait_until_drawn(page, len(TINY_VOCAB), 8)
        data = read_dataset(page)
        assert [row["Token"] for row in data["metadata"]] == TINY_VOCAB  # the raw entries; Word is readable
        assert colour_options(page) == DEFAULT_HEADER
        assert page.locator("vz-projector-bookmark-panel").get_by_text("BOOKMARKS (1)").count() == 1
    assert log.external_requests == []
    assert log.console_errors == []


def test_the_light_first_view_opens_exact_without_the_full_vectors(tiny_model: Path, tmp_path: Path, projector) -> None:
    """--first-view light: the exact 3-D PCA coordinates first, the full vectors one link away."""
    page, log = projector
    site = tmp_path / "site"
    args = ["bundle", "--model", str(tiny_model), "--out", str(site), "--first-view", "light", "--neighbors", "3"]
    assert cli.main([*args, "--quiet"]) == 0
    light, full = json.loads((site / CONFIG_JSON).read_text())["embeddings"]
    assert light["metadataPath"] == full["metadataPath"] == DEFAULT_FILES.metadata  # one metadata file for both
    full_state = first_bookmark(site, 1)
    with serve_folder(site) as url:
        fetched: list[str] = []
        page.on("request", lambda r: fetched.append(r.url.removeprefix(url)))
        page.goto(url)
        wait_for_view(page)
        assert page.evaluate("window.bundleView.tensor") == light["tensorName"] == f"{WORD} (exact 3-D PCA)"
        page.get_by_text("Dimension: 3", exact=True).wait_for()
        view = projector_view(page)
        # The exact PCA of the full vectors, to the bookmark's rounding, and its exact variance.
        np.testing.assert_allclose(view["coords"], exported(full_state), atol=1e-3)
        assert view["variance"] == full_state[EXACT_VIEW]["variance"]
        assert view["sampling"] == "none"
        data = read_dataset(page)
        assert [row["Token"] for row in data["metadata"]] == TINY_VOCAB
        assert all(row["neighbors"] for row in data["metadata"])  # the original space's neighbours column
        assert DEFAULT_FILES.bytes not in fetched  # the full vectors wait until asked for
        assert page.locator("#first-view").is_visible()

        page.locator("#full-tensor").click()  # the page's link to the full tensor
        page.wait_for_function(f"window.bundleView.tensor === {WORD!r}", timeout=LOAD_TIMEOUT_MS)
        wait_for_view(page)
        page.get_by_text("Dimension: 8", exact=True).wait_for()
        view = projector_view(page)
        assert view["coords"] == exported(full_state)
        assert DEFAULT_FILES.bytes in fetched
        assert page.evaluate("location.hash") == f"#tensor={WORD}&bookmark=1"
    assert_clean(log)
