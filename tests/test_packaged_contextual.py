"""The shipped example sentences on the packaged MiniLM: context separates the senses of "bank"."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from support import read_tensor_bytes

from projector_bundle import cli
from projector_bundle.projector.formats import CONFIG_JSON

pytestmark = pytest.mark.packaged

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "sentences.txt"
CONTEXTUAL = "all-MiniLM-L6-v2/contextual_layer6"


def test_river_banks_and_money_banks_land_apart(tmp_path: Path) -> None:
    out = tmp_path / "site"
    args = ["bundle", "--out", str(out), "--limit", "50", "--sentences", str(EXAMPLES), "--projections", "none"]
    assert cli.main([*args, "--quiet"]) == 0
    entries = {e["tensorName"]: e for e in json.loads((out / CONFIG_JSON).read_text())["embeddings"]}
    assert list(entries) == ["all-MiniLM-L6-v2/word_embeddings", CONTEXTUAL]
    entry = entries[CONTEXTUAL]
    matrix = read_tensor_bytes(out / entry["tensorPath"], 384)
    rows = [line.split("\t") for line in (out / entry["metadataPath"]).read_text(encoding="utf-8").splitlines()[1:]]
    assert len(rows) == matrix.shape[0] == entry["tensorShape"][0]

    sentences = [s for s in EXAMPLES.read_text(encoding="utf-8").splitlines() if s.strip()]
    banks = [i for i, row in enumerate(rows) if row[0] == "▁bank"]
    money = {i for i in banks if any(w in sentences[int(rows[i][1]) - 1] for w in ("account", "interest", "loan"))}
    river = set(banks) - money
    assert (len(river), len(money)) == (3, 3)

    unit = matrix[banks] / np.linalg.norm(matrix[banks], axis=1, keepdims=True)
    sims = unit @ unit.T
    np.fill_diagonal(sims, -np.inf)
    # Each "bank" is closest to a "bank" of its own sense.
    for a, i in enumerate(banks):
        nearest = banks[int(np.argmax(sims[a]))]
        assert (nearest in river) == (i in river), (
            f"bank in sentence {rows[i][1]} is nearest to sentence {rows[nearest][1]}"
        )
