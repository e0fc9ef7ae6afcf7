"""The config and the page of the tiny bundle against golden copies.

`make golden` rewrites them (UPDATE_GOLDEN=1); review the diff before committing.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

from projector_bundle.formats import CONFIG_JSON, PAGE_HTML

GOLDEN = Path(__file__).resolve().parent / "golden"


def normalise(text: str, tiny_model: Path, bundle: Path) -> str:
    """The tiny model and the bundle live in temporary folders: their paths are the varying parts."""
    return text.replace(str(tiny_model), "<tiny-model>").replace(str(bundle), "<out>")


@pytest.mark.parametrize("name", [CONFIG_JSON, PAGE_HTML])
def test_matches_golden(name: str, tiny_bundle: Path, tiny_model: Path) -> None:
    actual = normalise((tiny_bundle / name).read_text(encoding="utf-8"), tiny_model, tiny_bundle)
    golden = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(actual, encoding="utf-8")
    expected = golden.read_text(encoding="utf-8")
    diff = "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True), str(golden), name))
    assert actual == expected, f"{name} differs from its golden copy (make golden rewrites it):\n{diff}"
