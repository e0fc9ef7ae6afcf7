"""`show()` in a real Jupyter kernel: the output cell holds the IFrame, and the page it names answers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from notebooks import code_notebook, fetch, iframe_url, running, stream_text

from projector_bundle import ExportError
from projector_bundle.notebook import show_bundle
from projector_bundle.projector.formats import CONFIG_JSON, PAGE_HTML


@pytest.fixture
def bundle_copy(tiny_bundle: Path, tmp_path: Path) -> Path:
    out = tmp_path / "site"
    shutil.copytree(tiny_bundle, out)
    return out


def test_show_displays_the_served_bundle_in_an_iframe(bundle_copy: Path, tmp_path: Path) -> None:
    notebook = code_notebook(
        "import os\nfrom pathlib import Path\nfrom projector_bundle.notebook import REMOTE_KERNELS, show_bundle\n"
        "for variable, _ in REMOTE_KERNELS:\n    os.environ.pop(variable, None)  # this machine, wherever CI runs",
        "import projector_bundle as pb\npb.show('site')",
        "server = show_bundle(Path('site'))",
        "print(server.url)",
    )
    with running(notebook, tmp_path):
        shown, again = notebook.cells[1], notebook.cells[2]
        url = iframe_url(shown)
        assert iframe_url(again) == url  # shown again: the same server, the same port
        assert stream_text(notebook.cells[3], "stdout") == url + "\n"
        assert stream_text(shown, "stderr") == ""  # no remote-kernel note on this machine
        assert fetch(url) == (bundle_copy / PAGE_HTML).read_bytes()
        config = json.loads(fetch(url + CONFIG_JSON))
        assert config == json.loads((bundle_copy / CONFIG_JSON).read_text())


def test_a_remote_kernel_is_told_what_to_run_instead(bundle_copy: Path, tmp_path: Path) -> None:
    notebook = code_notebook(
        "import os\nos.environ['SSH_CONNECTION'] = '10.0.0.2 50000 10.0.0.1 22'",
        "from pathlib import Path\nfrom projector_bundle.notebook import show_bundle\n"
        "server = show_bundle(Path('site'), port=0)",
        "print(server.port)",
    )
    with running(notebook, tmp_path):
        shown = notebook.cells[1]
        url = iframe_url(shown)  # still shown: it works where the port is forwarded
        port = int(stream_text(notebook.cells[2], "stdout"))
        assert url == f"http://127.0.0.1:{port}/"
        assert stream_text(shown, "stderr") == (
            f"note: this kernel runs on a machine reached over SSH, so your browser may not reach 127.0.0.1:{port} "
            "and the frame above may stay empty. Forward the port "
            f"(ssh -L {port}:127.0.0.1:{port} HOST, or VS Code's Ports view) and call show(port={port}) to keep it, "
            "or copy site/ to your machine and serve it there: projector-bundle serve --directory site "
            "(any static server will do: python -m http.server -d site)\n"
        )


def test_outside_a_notebook_show_prints_the_url(bundle_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server = show_bundle(bundle_copy)
    try:
        assert capsys.readouterr().out == (
            f"serving {bundle_copy}/ at {server.url} while this Python process runs; open it in a browser, "
            f"or serve it on its own with: projector-bundle serve --directory {bundle_copy}\n"
        )
        assert fetch(server.url) == (bundle_copy / PAGE_HTML).read_bytes()
    finally:
        server.stop()


def test_show_needs_a_written_bundle(tmp_path: Path) -> None:
    with pytest.raises(ExportError) as caught:
        show_bundle(tmp_path)
    assert str(caught.value) == f"{tmp_path}: no bundle there (no {PAGE_HTML}); write() it first"
