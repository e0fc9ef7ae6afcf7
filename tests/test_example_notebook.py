"""examples/visualising_bert.ipynb: the exercise with the packaged model, executed in a real Jupyter kernel."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest
from notebooks import fetch, iframe_url, running, stream_text
from support import ROOT

from projector_bundle.projector.formats import CONFIG_JSON, PAGE_HTML

NOTEBOOK = ROOT / "examples" / "visualising_bert.ipynb"


def test_the_committed_notebook_has_no_outputs() -> None:
    """Outputs are stripped in git: a diff shows code, not megabytes of results."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code)


def cell_with(notebook: nbformat.NotebookNode, source: str) -> nbformat.NotebookNode:
    (cell,) = [c for c in notebook.cells if c.cell_type == "code" and source in c.source]
    return cell


@pytest.mark.packaged
def test_the_exercise_runs_and_shows_its_bundles(tmp_path: Path) -> None:
    shutil.copy(NOTEBOOK, tmp_path)
    notebook = nbformat.read(tmp_path / NOTEBOOK.name, as_version=4)
    with running(notebook, tmp_path):  # any cell that raises fails the test here
        walk = stream_text(cell_with(notebook, "Hellow world"), "stdout").splitlines()
        assert [int(line.split()[0]) for line in walk[:-1]] == [101, 7592, 2860, 2088, 1998, 6160, 102]
        assert walk[-1] == "decoded: [CLS] hellow world and welcome [SEP]"

        url = iframe_url(cell_with(notebook, "bundle.show()"))
        assert fetch(url) == (tmp_path / "bert_site" / PAGE_HTML).read_bytes()
        config = json.loads(fetch(url + CONFIG_JSON))
        assert [(e["tensorName"], e["tensorShape"]) for e in config["embeddings"]] == [
            ("word_embeddings", [30522, 384])
        ]
        assert "warning" not in stream_text(cell_with(notebook, "bundle.write()"), "stderr")

        logged = iframe_url(cell_with(notebook, "from_tensorboard"))
        assert logged != url  # another folder, another server
        config = json.loads(fetch(logged + CONFIG_JSON))
        assert [(e["tensorName"], e["tensorShape"]) for e in config["embeddings"]] == [("bert:00000", [1000, 384])]
    metadata = (tmp_path / "bert_site" / "metadata.tsv").read_text(encoding="utf-8").splitlines()
    assert metadata[0] == "token\tsubword\tlength\tspecial"
    assert metadata[1 + 2860] == "##w\ttrue\t1\tfalse"
