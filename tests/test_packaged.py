"""Integration tests on the packaged MiniLM model (the bert-base-uncased vocabulary)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from support import read_tensor_bytes

from projector_bundle import cli
from projector_bundle.projector.formats import DEFAULT_FILES

pytestmark = pytest.mark.packaged


def test_exercise_token_ids(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["tokenize", "Hellow world and welcome"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [int(line.split("\t")[0]) for line in lines[:-1]] == [101, 7592, 2860, 2088, 1998, 6160, 102]
    assert lines[-1] == "decoded: [CLS] hellow world and welcome [SEP]"


def test_inspect_packaged_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["inspect"]) == 0
    out = capsys.readouterr().out
    assert "vocabulary size:        30,522" in out
    assert "hidden size:            384" in out
    assert "word-embedding weights: 11,720,448" in out
    assert "position embeddings:    512 x 384" in out


def test_bundle_of_the_packaged_model(tmp_path: Path) -> None:
    out = tmp_path / "site"
    assert cli.main(["bundle", "--out", str(out), "--limit", "2000", "--quiet"]) == 0
    matrix = read_tensor_bytes(out / DEFAULT_FILES.bytes, 384)
    assert matrix.shape == (2000, 384)
    assert np.isfinite(matrix).all()
    rows = (out / DEFAULT_FILES.metadata).read_text(encoding="utf-8").splitlines()
    assert len(rows) == 1 + 2000
    assert rows[1 + 101].split("\t")[0] == "[CLS]"
    assert rows[1 + 1996].split("\t")[:3] == ["▁the", "3", "1"]
