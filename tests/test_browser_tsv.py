"""The vectors TSV in Chromium: the projector loads it, and JavaScript parses every value back exactly."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from browser import LOAD_TIMEOUT_MS, serve_folder
from support import every_kind_of_float32

from projector_bundle.output.writers import write_tensor_tsv
from projector_bundle.projector.formats import CONFIG_JSON, DEFAULT_FILES

pytestmark = pytest.mark.browser

# What the projector's parseTensors does with each line: split on tabs, Number(), Float32Array.
PARSE_IN_JS = """async (path) => {
  const text = await (await fetch(path)).text();
  const values = [];
  for (const line of text.split("\\n")) {
    if (line.trim() === "") continue;
    values.push(...new Float32Array(line.split("\\t").map(Number)));
  }
  return Array.from(new Uint32Array(new Float32Array(values).buffer));
}"""


def test_javascript_reads_every_value_back_exactly(tmp_path: Path, projector) -> None:
    page, log = projector
    matrix = every_kind_of_float32(20_000, seed=5)
    write_tensor_tsv(tmp_path / "values.tsv", matrix)
    with serve_folder(tmp_path) as url:
        page.goto(url)
        bits = np.array(page.evaluate(PARSE_IN_JS, "values.tsv"), dtype=np.uint32)
    expected = matrix.ravel()
    nan = np.isnan(expected)
    assert np.isnan(bits.view(np.float32)[nan]).all()
    np.testing.assert_array_equal(bits[~nan], expected[~nan].view(np.uint32))
    assert log.external_requests == []


def test_the_projector_loads_the_tsv(tiny_bundle: Path, tmp_path: Path, projector) -> None:
    page, log = projector
    site = tmp_path / "site"
    shutil.copytree(tiny_bundle, site)
    config = json.loads((site / CONFIG_JSON).read_text())
    config["embeddings"][0]["tensorPath"] = DEFAULT_FILES.tsv  # parsed as text, not raw float32
    (site / CONFIG_JSON).write_text(json.dumps(config))
    with serve_folder(site) as url:
        page.goto(url)
        page.get_by_text("Points: 24").wait_for(timeout=LOAD_TIMEOUT_MS)
        page.get_by_text("Dimension: 8").wait_for(timeout=LOAD_TIMEOUT_MS)
    assert log.external_requests == []
    assert log.console_errors == []
