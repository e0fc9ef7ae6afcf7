"""A bundle shown inside a notebook: served on loopback from the kernel, displayed in an IFrame.

The projector cannot load from file://, so the kernel serves the folder (`output/serve.py`)
on a daemon thread and the output cell holds an `<iframe>` of that server's URL. The
browser fetches that URL itself: it works where the browser and the kernel share a
machine (JupyterLab, classic Notebook, VS Code on one's own machine), or where the port
is forwarded to the browser's machine. Elsewhere the cell says so, and what to run instead.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from projector_bundle import ExportError
from projector_bundle.output.serve import BackgroundServer, serve_in_background
from projector_bundle.projector.formats import DEFAULT_HOST, PAGE_HTML

# The height of the projector's IFrame, in pixels: its panels need about this much to be usable.
IFRAME_HEIGHT = 800
# Environment variables that tell a kernel runs on another machine than the browser that shows
# its output, so the browser cannot reach the kernel's loopback without a forwarded port.
REMOTE_KERNELS = (
    ("COLAB_RELEASE_TAG", "Google Colab"),
    ("KAGGLE_KERNEL_RUN_TYPE", "Kaggle"),
    ("JUPYTERHUB_SERVICE_PREFIX", "a JupyterHub server"),
    ("CODESPACES", "GitHub Codespaces"),
    ("SSH_CONNECTION", "a machine reached over SSH"),
)


def show_bundle(folder: Path, *, port: int = 0, height: int = IFRAME_HEIGHT) -> BackgroundServer:
    """Serve `folder` from this process and show it: an IFrame in a notebook, its URL elsewhere.

    Raises:
        ExportError: `folder` holds no bundle, or `port` is taken.
    """
    if not (folder / PAGE_HTML).is_file():
        raise ExportError(f"{folder}: no bundle there (no {PAGE_HTML}); write() it first")
    server = serve_in_background(folder, DEFAULT_HOST, port)
    if not in_notebook():
        print(
            f"serving {folder}/ at {server.url} while this Python process runs; open it in a browser, "
            f"or serve it on its own with: {serve_command(folder)}"
        )
        return server
    from IPython.display import IFrame, display

    display(IFrame(server.url, width="100%", height=height))
    remote = remote_kernel()
    if remote is not None:
        print(remote_advice(remote, folder, server.port), file=sys.stderr)
    return server


def in_notebook() -> bool:
    """Whether this process is a Jupyter kernel (JupyterLab, Notebook, VS Code), which can display HTML."""
    if "IPython" not in sys.modules:  # a kernel has imported it; a script that has not is no notebook
        return False
    from IPython import get_ipython

    return getattr(get_ipython(), "kernel", None) is not None


def remote_kernel() -> str | None:
    """Where this kernel runs, if its environment says it is not the browser's machine."""
    return next((place for variable, place in REMOTE_KERNELS if os.environ.get(variable)), None)


def remote_advice(place: str, folder: Path, port: int) -> str:
    """What to do where the browser may not reach the kernel's loopback."""
    return (
        f"note: this kernel runs on {place}, so your browser may not reach 127.0.0.1:{port} and the frame "
        f"above may stay empty. Forward the port (ssh -L {port}:127.0.0.1:{port} HOST, or VS Code's Ports view) "
        f"and call show(port={port}) to keep it, or copy {folder.name}/ to your machine and serve it there: "
        f"{serve_command(Path(folder.name))} (any static server will do: python -m http.server -d {folder.name})"
    )


def serve_command(folder: Path) -> str:
    """The command that serves `folder` on its own, outside Python (installed with the package)."""
    return f"projector-bundle serve --directory {folder}"
