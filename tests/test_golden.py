"""The config and the page of the tiny bundle against golden copies.

`make golden` rewrites them (UPDATE_GOLDEN=1); review the diff before committing.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

from projector_bundle.projector.formats import CONFIG_JSON, PAGE_HTML, REMOTE_CONFIG_JSON

GOLDEN = Path(__file__).resolve().parent / "golden"


# What `normalise` writes for the temporary folders' paths.
MODEL_PATH, BUNDLE_PATH = "<tiny model folder>", "<bundle folder>"


def normalise(text: str, tiny_model: Path, bundle: Path) -> str:
    """`text` with the paths of this run's temporary folders (the tiny model's, the bundle's)
    replaced by placeholders, so that it compares with a golden copy from any run."""
    return text.replace(str(tiny_model), MODEL_PATH).replace(str(bundle.parent), BUNDLE_PATH)


# (bundle fixture, file): the plain tiny bundle, and the one built with --base-url.
CASES = [
    ("tiny_bundle", CONFIG_JSON),
    ("tiny_bundle", PAGE_HTML),
    ("published_bundle", REMOTE_CONFIG_JSON),
    ("published_bundle", PAGE_HTML),
]


@pytest.mark.parametrize(("bundle", "name"), CASES)
def test_matches_golden(bundle: str, name: str, tiny_model: Path, request: pytest.FixtureRequest) -> None:
    folder = request.getfixturevalue(bundle)
    actual = normalise((folder / name).read_text(encoding="utf-8"), tiny_model, folder)
    # A published bundle never names a local path.
    assert MODEL_PATH not in actual and BUNDLE_PATH not in actual, f"{name} names a local folder"
    golden = GOLDEN / name if bundle == "tiny_bundle" else GOLDEN / "published" / name
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(actual, encoding="utf-8")
    expected = golden.read_text(encoding="utf-8")
    diff = "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True), str(golden), name))
    assert actual == expected, f"{name} differs from its golden copy (make golden rewrites it):\n{diff}"
