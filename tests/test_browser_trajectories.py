"""Paths through the layers in Chromium: the projector turns `__seq_next__` into one sequence per
token occurrence and draws it; the page's geometry section opens over the projector.

The bundle is made by the CLI (`--sentences --layer all --trajectories`). The projector internals
read here, from tensorboard 2.21's projector_binary.js: `projector.dataSet.sequences` (a list of
`{pointIndices}`, from `DataSet.computeSequences`), each point's `sequenceIndex`, which the polyline
visualizer sets as it creates the lines, and each point's parsed `metadata`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from browser import LOAD_TIMEOUT_MS, colour_options, serve_folder
from support import save_tiny_bert, sentences_bundle

from projector_bundle.context.geometry import DECIMALS, GEOMETRY_JSON
from projector_bundle.projector.formats import CONFIG_JSON, SEQ_NEXT

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PATHS = "tiny-bert/contextual_paths"
OCCURRENCES, LAYERS = 11, 4  # 11 tokens; layers 0 to 3


@pytest.fixture(scope="module")
def paths_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The CLI's bundle of a tiny BERT with three layers and large initial weights, so that each layer
    visibly moves the tokens (at BERT's usual 0.02 a fresh layer is nearly the identity, and the paths
    have no length)."""
    import torch
    from transformers import BertConfig, BertModel

    folder = tmp_path_factory.mktemp("layered")
    model = save_tiny_bert(folder / "tiny-bert")
    torch.manual_seed(0)
    BertModel(BertConfig.from_pretrained(model, num_hidden_layers=3, initializer_range=0.5)).save_pretrained(model)
    return sentences_bundle(model, folder, "--layer", "all", "--trajectories", "--quiet")


def expected_sequences() -> list[list[int]]:
    """Each occurrence's points, first layer to last: the blocks are layer-major."""
    return [[start + layer * OCCURRENCES for layer in range(LAYERS)] for start in range(OCCURRENCES)]


_READ_SEQUENCES = """(p) => ({
  sequences: p.dataSet.sequences.map((s) => s.pointIndices),
  sequenceIndex: p.dataSet.points.map((pt) => pt.sequenceIndex ?? null),
  next: p.dataSet.points.map((pt) => pt.metadata[NEXT] ?? null),
})""".replace("NEXT", json.dumps(SEQ_NEXT))


def test_the_projector_draws_one_path_per_token_occurrence(paths_site: Path, projector) -> None:
    page, log = projector
    points = OCCURRENCES * LAYERS
    with serve_folder(paths_site) as url:
        page.goto(url)
        menu = page.locator("vz-projector-data-panel paper-dropdown-menu").first
        menu.get_by_text("6 tensors found").wait_for(timeout=LOAD_TIMEOUT_MS)
        menu.click()
        menu.locator("paper-item").filter(has_text=PATHS).click()
        page.get_by_text(f"Points: {points}", exact=True).wait_for(timeout=LOAD_TIMEOUT_MS)
        page.get_by_text("Total variance described").wait_for(timeout=LOAD_TIMEOUT_MS)
        found = page.locator("vz-projector").evaluate(_READ_SEQUENCES)
        assert "Layer" in colour_options(page)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "contextual-paths.png"))
    expected = expected_sequences()
    assert found["sequences"] == expected
    # Every point is on its own occurrence's line.
    assert found["sequenceIndex"] == [i % OCCURRENCES for i in range(points)]
    # The projector read each link as a number (the column is numeric), and the last layer's empty cells as null.
    last = points - OCCURRENCES
    assert found["next"] == [i + OCCURRENCES for i in range(last)] + [None] * OCCURRENCES
    assert log.external_requests == []
    assert log.console_errors == []


def test_the_geometry_section_opens_over_the_projector(paths_site: Path, projector) -> None:
    page, log = projector
    document = json.loads((paths_site / GEOMETRY_JSON).read_text(encoding="utf-8"))
    [model] = document["models"]
    with serve_folder(paths_site) as url:
        page.goto(url)
        page.get_by_text("Total variance described").wait_for(timeout=LOAD_TIMEOUT_MS)
        table = page.locator("#layer-geometry table")
        assert not table.is_visible()  # closed until asked for
        app = page.locator("vz-projector-app").bounding_box()
        page.locator("#layer-geometry summary").click()
        table.wait_for(state="visible")
        cells = table.locator("tbody tr").evaluate_all("rows => rows.map(r => [...r.cells].map(c => c.textContent))")
        headings = table.locator("th").all_inner_texts()
        assert len(cells) == LAYERS
        for row, record in zip(cells, model["layers"], strict=True):
            shown = dict(zip(headings, row, strict=True))
            assert shown["Layer"] == str(record["layer"])
            assert shown["Points"] == str(OCCURRENCES)
            assert shown["Anisotropy"] == f"{record['anisotropy']:.{DECIMALS}f}"
            assert shown["MEV"] == f"{record['mev']:.{DECIMALS}f}"
        assert page.locator("#layer-geometry svg").count() == 4
        panel = page.locator("#layer-geometry > div").bounding_box()
        assert panel is not None and panel["x"] >= 0 and panel["x"] + panel["width"] <= page.viewport_size["width"]
        # The panel floats over the projector instead of pushing it down (the projector keeps its size).
        assert page.locator("vz-projector-app").bounding_box() == app
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "layer-geometry.png"))
    config = json.loads((paths_site / CONFIG_JSON).read_text())["embeddings"]
    assert [e["tensorName"] for e in config][-1] == PATHS
    assert log.external_requests == []
    assert log.console_errors == []
