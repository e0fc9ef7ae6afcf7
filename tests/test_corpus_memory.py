"""A corpus run that would not fit in memory is refused from its first chunk, naming the
numbers and the way out, with the budget capped by EXPORT_MEMORY_MIB instead of a real 1M-line run."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import TINY_SENTENCES, assert_untouched, bundle_args, run_failing, snapshot

from projector_bundle import cli
from projector_bundle.context.contextual import MEMORY_ENV, READ_CHUNK
from projector_bundle.context.corpus import POINT_OVERHEAD_BYTES, VECTOR_COPIES
from projector_bundle.projector.formats import MIB
from projector_bundle.text import describe_size

CYCLES = 400  # 1,200 sentences: the first chunk of READ_CHUNK is about a fifth of them
POINTS_PER_CYCLE = 11  # the tiny vocabulary's tokens in TINY_SENTENCES, specials left out
BUDGET_MIB = 0.05


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    file = tmp_path / "corpus.txt"
    file.write_text("".join(f"{s}\n" for _ in range(CYCLES) for s in TINY_SENTENCES))
    return file


def test_a_corpus_too_large_for_memory_is_refused_early(
    tiny_model: Path, previous: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv(MEMORY_ENV, str(BUDGET_MIB))
    before = snapshot(previous)
    err = run_failing(bundle_args(tiny_model, previous, "--sentences", str(corpus)), capsys)
    # The numbers the message must name, from the file itself.
    lines = corpus.read_bytes().splitlines(keepends=True)
    read = sum(len(line) for line in lines[:READ_CHUNK])
    points = READ_CHUNK // 3 * POINTS_PER_CYCLE + 3  # 85 cycles and "the river bank"
    projected = points * corpus.stat().st_size // read
    per_point = 8 * 4 * VECTOR_COPIES + POINT_OVERHEAD_BYTES
    budget = int(BUDGET_MIB * MIB)
    fit = budget // per_point
    assert err == (
        f"error: --sentences {corpus}: about {projected:,} points ({points:,} in its first {READ_CHUNK} sentences, "
        f"{read / corpus.stat().st_size:.1%} of the file) x 1 layer(s) x 8 dimensions would need about "
        f"{describe_size(projected * per_point)} of memory, more than the {describe_size(budget)} available; "
        f"pass --max-points {fit} (or fewer), or fewer --layer\n"
    )
    assert_untouched(previous, before)
    # The way out the message gives works.
    assert cli.main(bundle_args(tiny_model, previous, "--sentences", str(corpus), "--max-points", str(fit))) == 0


def test_a_stream_is_refused_once_its_points_no_longer_fit(
    tiny_model: Path, previous: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """Standard input has no size to project from: the points held are checked after each chunk."""
    monkeypatch.setenv(MEMORY_ENV, str(BUDGET_MIB))
    monkeypatch.setattr("sys.stdin", open(corpus, encoding="utf-8"))  # noqa: SIM115 -- pytest closes it
    before = snapshot(previous)
    err = run_failing(bundle_args(tiny_model, previous, "--sentences", "-"), capsys)
    assert err.startswith(f"error: --sentences -: {READ_CHUNK // 3 * POINTS_PER_CYCLE + 3:,} points in its first ")
    budget = int(BUDGET_MIB * MIB)
    fit = budget // (8 * 4 * VECTOR_COPIES + POINT_OVERHEAD_BYTES)
    assert f"more than the {describe_size(budget)} available; pass --max-points {fit} (or fewer)" in err
    assert_untouched(previous, before)


@pytest.mark.parametrize("value", ["lots", "0", "-5", "nan", "inf"])
def test_a_bad_memory_cap_is_one_line(value: str, tiny_model: Path, previous: Path, corpus: Path, monkeypatch, capsys):
    monkeypatch.setenv(MEMORY_ENV, value)
    before = snapshot(previous)
    err = run_failing(bundle_args(tiny_model, previous, "--sentences", str(corpus)), capsys)
    assert err == f"error: {MEMORY_ENV}: expected a positive number of MiB, got {value!r}\n"
    assert_untouched(previous, before)
