"""Paths through the layers in Chromium: the projector turns `__seq_next__` into one sequence per
token occurrence and draws it; the geometry section opens over the projector.

The bundle is built from public functions only (model loading, `embed_sentences`,
`build_paths`, `write_bundle`), as `--sentences --layer all --trajectories` will build it.
The projector internals read here, from tensorboard 2.21's projector_binary.js:
`projector.dataSet.sequences` (a list of `{pointIndices}`, from `DataSet.computeSequences`)
and each point's `sequenceIndex`, which the polyline visualizer sets as it creates the lines.
"""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest
from browser import LOAD_TIMEOUT_MS, colour_options, serve_folder
from conftest import TINY_SENTENCES, save_tiny_bert

from projector_bundle.bundle import Tensor, write_bundle
from projector_bundle.contextual import embed_sentences, layer_count
from projector_bundle.formats import DEFAULT_FILES, PAGE_HTML
from projector_bundle.geometry import GeometryView, geometry_views, measure_layers
from projector_bundle.model import load_model, load_tokenizer, resolve_model
from projector_bundle.page import PageInfo, TensorSummary
from projector_bundle.projections import bookmark_state, compute_pca
from projector_bundle.trajectories import SEQ_NEXT, PathsTensor, build_paths, expand_layers

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@pytest.fixture(scope="module")
def layered_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny BERT with three layers and large initial weights, so that each layer visibly moves
    the tokens (at BERT's usual 0.02 a fresh layer is nearly the identity, and the paths have no length)."""
    import torch
    from transformers import BertConfig, BertModel

    folder = save_tiny_bert(tmp_path_factory.mktemp("layered") / "tiny-bert")
    torch.manual_seed(0)
    config = BertConfig.from_pretrained(folder, num_hidden_layers=3, initializer_range=0.5)
    BertModel(config).save_pretrained(folder)
    return folder


def build_paths_bundle(model: Path, out: Path) -> tuple[PathsTensor, list[GeometryView]]:
    """A bundle holding only `tiny-bert/contextual_paths` over every layer, with a PCA bookmark by Layer."""
    ref = resolve_model(str(model))
    loaded = load_model(ref)
    layers = expand_layers(["all"], layer_count(loaded))
    context = embed_sentences(loaded, load_tokenizer(ref), TINY_SENTENCES, layers)
    paths = build_paths("tiny-bert", context.layers, context.occurrences)
    bookmark = bookmark_state(
        compute_pca(paths.matrix), paths.matrix.shape[1], label_option="Token", color_option="Layer"
    )
    tensor = Tensor(paths.name, paths.matrix, paths.header, paths.rows, DEFAULT_FILES, [bookmark])
    summary = TensorSummary(paths.name, *paths.matrix.shape)
    info = PageInfo("paths", "tiny-bert", (summary,), "0", "2026-01-01T00:00:00Z", "-", "-")
    write_bundle(out, [tensor], info, tsv=False)
    results = measure_layers(
        context.layers, [o.sentence for o in context.occurrences], [o.token for o in context.occurrences]
    )
    return paths, geometry_views({"tiny-bert": results})


def expected_sequences(paths: PathsTensor) -> list[list[int]]:
    """Each occurrence's points, first layer to last, by following its links from the first layer."""
    column = paths.header.index(SEQ_NEXT)
    layers = {row[3] for row in paths.rows}
    starts = len(paths.rows) // len(layers)
    sequences = []
    for start in range(starts):
        chain = [start]
        while paths.rows[chain[-1]][column] != "":
            chain.append(int(paths.rows[chain[-1]][column]))
        sequences.append(chain)
    return sequences


_READ_SEQUENCES = """(p) => ({
  sequences: p.dataSet.sequences.map((s) => s.pointIndices),
  sequenceIndex: p.dataSet.points.map((pt) => pt.sequenceIndex ?? null),
})"""


def test_the_projector_draws_one_path_per_token_occurrence(layered_model: Path, tmp_path: Path, projector) -> None:
    page, log = projector
    paths, _ = build_paths_bundle(layered_model, tmp_path / "site")
    expected = expected_sequences(paths)
    assert len(expected) == 11 and {len(s) for s in expected} == {4}  # 11 tokens, layers 0 to 3
    with serve_folder(tmp_path / "site") as url:
        page.goto(url)
        page.get_by_text(f"Points: {len(paths.rows)}", exact=True).wait_for(timeout=LOAD_TIMEOUT_MS)
        page.get_by_text("Total variance described").wait_for(timeout=LOAD_TIMEOUT_MS)
        found = page.locator("vz-projector").evaluate(_READ_SEQUENCES)
        assert "Layer" in colour_options(page)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "contextual-paths.png"))
    assert found["sequences"] == expected
    # Every point is on its own occurrence's line.
    assert found["sequenceIndex"] == [next(i for i, s in enumerate(expected) if p in s) for p in range(len(paths.rows))]
    assert log.external_requests == []
    assert log.console_errors == []


def render_geometry_page(views: list[GeometryView], out: Path) -> None:
    """A page with the geometry section alone, rendered the way page.render_page renders index.html."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )
    page = env.from_string(
        '{% from "geometry.html.j2" import geometry_style, geometry_section %}<!doctype html>'
        '<html lang="en"><head><meta charset="utf-8"><title>geometry</title>{{ geometry_style() }}</head>'
        '<body><header id="bundle-info">{{ geometry_section(geometry) }}</header>'
        '<div id="below" style="height: 400px">the projector</div></body></html>'
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / PAGE_HTML).write_text(page.render(geometry=views), encoding="utf-8")


def test_the_geometry_section_opens_over_the_page(layered_model: Path, tmp_path: Path, projector) -> None:
    page, log = projector
    _, views = build_paths_bundle(layered_model, tmp_path / "site")
    render_geometry_page(views, tmp_path / "geometry")
    with serve_folder(tmp_path / "geometry") as url:
        page.goto(url)
        table = page.locator("#layer-geometry table")
        assert not table.is_visible()  # closed until asked for
        below = page.locator("#below").bounding_box()
        page.locator("#layer-geometry summary").click()
        table.wait_for(state="visible")
        cells = table.locator("tbody tr").evaluate_all("rows => rows.map(r => [...r.cells].map(c => c.textContent))")
        assert cells == [list(row) for row in views[0].rows]
        assert page.locator("#layer-geometry svg").count() == 4
        # The panel floats over what follows instead of pushing it down (the projector keeps its size).
        assert page.locator("#below").bounding_box() == below
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "layer-geometry.png"))
    assert log.external_requests == []
    assert log.console_errors == []
