"""Notebooks run in a real Jupyter kernel (nbclient + ipykernel), the kernel kept alive while a test looks."""

from __future__ import annotations

import contextlib
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

# Seconds a cell may run: the packaged model loads in a few seconds, a busy CI machine is slower.
CELL_TIMEOUT = 600
IFRAME_SRC = re.compile(r'<iframe[^>]*\ssrc="(http://127\.0\.0\.1:\d+/)"')


@contextlib.contextmanager
def running(notebook: Any, cwd: Path) -> Iterator[NotebookClient]:
    """Execute every cell of `notebook` in a fresh python3 kernel started in `cwd`; the kernel,
    and any server it runs, stays alive until the block ends."""
    client = NotebookClient(
        notebook, timeout=CELL_TIMEOUT, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    )
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type == "code":
                client.execute_cell(cell, index)
        yield client


def code_notebook(*sources: str) -> Any:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    return notebook


def html_outputs(cell: Any) -> list[str]:
    return [o["data"]["text/html"] for o in cell.outputs if "data" in o and "text/html" in o["data"]]


def stream_text(cell: Any, name: str) -> str:
    return "".join(o["text"] for o in cell.outputs if o.get("output_type") == "stream" and o.get("name") == name)


def iframe_url(cell: Any) -> str:
    """The URL of the one IFrame the cell displayed."""
    found = [m.group(1) for html in html_outputs(cell) for m in [IFRAME_SRC.search(html)] if m]
    assert len(found) == 1, f"expected one IFrame in the cell's outputs, got {cell.outputs}"
    return found[0]


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:  # from this process, not the kernel's
        assert response.status == 200
        return bytes(response.read())
