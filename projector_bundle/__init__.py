"""Static TensorFlow Embedding Projector bundles from transformers models."""

from __future__ import annotations

__version__ = "0.1.0"


class ExportError(Exception):
    """A user-facing failure: `main` prints it as one `error: ...` line and exits 1."""


class UsageError(ExportError):
    """A flag's value that the data rules out (`--dims` at or above the tensor's width): one
    `error: ...` line like any `ExportError`, but exit 2 like argparse's usage errors."""
