"""The default model answers to its hub id and its short name without the network."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support import run_failing

from projector_bundle import cli
from projector_bundle.models.loader import DEFAULT_MODEL_NAME, resolve_model

pytestmark = pytest.mark.packaged

NAMES = ["sentence-transformers/all-MiniLM-L6-v2", "all-MiniLM-L6-v2", "Sentence-Transformers/ALL-MiniLM-L6-v2"]


@pytest.fixture
def empty_hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from huggingface_hub import constants

    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


@pytest.mark.parametrize("name", NAMES)
def test_the_default_by_name_is_the_packaged_copy_when_not_cached(name: str, empty_hub_cache: Path) -> None:
    packaged = resolve_model(None)
    ref = resolve_model(name)
    assert (ref.name, ref.path, ref.source) == (DEFAULT_MODEL_NAME, packaged.path, "package")


def test_the_default_by_name_tokenizes_offline(empty_hub_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["tokenize", "--model", "sentence-transformers/all-MiniLM-L6-v2", "Hellow world"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [int(line.split("\t")[0]) for line in lines[:-1]] == [101, 7592, 2860, 2088, 102]


def test_a_cached_copy_of_the_default_is_used_first(tiny_model: Path, empty_hub_cache: Path) -> None:
    repo = empty_hub_cache / "models--sentence-transformers--all-MiniLM-L6-v2"
    snapshot = repo / "snapshots" / "0123abc"
    shutil.copytree(tiny_model, snapshot)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abc")
    for name in NAMES[:2]:
        ref = resolve_model(name)
        assert (ref.name, ref.path, ref.source, ref.revision) == (DEFAULT_MODEL_NAME, snapshot, "hub", "0123abc")


def test_another_uncached_model_still_needs_the_hub(empty_hub_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = run_failing(["tokenize", "--model", "sentence-transformers/all-mpnet-base-v2", "x"], capsys)
    assert err.splitlines()[-1].endswith("not in the Hugging Face cache, and huggingface.co cannot be reached")
