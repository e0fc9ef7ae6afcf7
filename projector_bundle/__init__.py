"""Static TensorFlow Embedding Projector bundles from transformers models, your own vectors, or TensorBoard logs.

The Python API (`api.py`; docs/notebooks.md):

    import projector_bundle as pb

    bundle = pb.Bundle("site")
    bundle.add_embedding(mat, metadata=labels, tag="words")   # SummaryWriter.add_embedding's shape
    bundle.show()                                             # written, served on loopback, in an IFrame

    pb.from_model(limit=5000)            # export.py bundle
    pb.from_texts(["a text", "another"]) # export.py bundle --texts FILE
    pb.from_tensorboard("runs")          # export.py from-tensorboard runs
    pb.model_folder()                    # the packaged model's folder, for transformers
    pb.show("site")                      # a bundle written earlier, in the notebook

They are imported on first use, so `import projector_bundle` (and the CLI) stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from projector_bundle.api import Bundle, Site, from_model, from_tensorboard, from_texts, model_folder, show

__all__ = [
    "Bundle",
    "ExportError",
    "Site",
    "UsageError",
    "from_model",
    "from_tensorboard",
    "from_texts",
    "model_folder",
    "show",
]
_API = frozenset({"Bundle", "Site", "from_model", "from_tensorboard", "from_texts", "model_folder", "show"})


class ExportError(Exception):
    """A user-facing failure: `main` prints it as one `error: ...` line and exits 1."""


class UsageError(ExportError):
    """A flag's value that the data rules out (`--dims` at or above the tensor's width): one
    `error: ...` line like any `ExportError`, but exit 2 like argparse's usage errors."""


def __getattr__(name: str) -> object:
    """The API's names, imported when first asked for (numpy and the pipeline come with them)."""
    if name in _API:
        from projector_bundle import api

        return getattr(api, name)
    raise AttributeError(f"module 'projector_bundle' has no attribute {name!r}")
