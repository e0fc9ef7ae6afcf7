"""Which columns the projector can colour by, and the guarantee that a bundle has one."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import TINY_VOCAB, WIDE_VOCAB, save_tiny_bert

from projector_bundle import cli
from projector_bundle.models.vocabulary import Token
from projector_bundle.points.labels import select_columns
from projector_bundle.projector.colouring import MAX_CATEGORIES, ensure_colourable, is_colourable, is_js_number
from projector_bundle.projector.formats import DEFAULT_FILES


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("42", True), ("-1.5e3", True), ("+.5", True), ("7.", True), (" 12 ", True), ("\t3\n", True),
        ("", True), ("\u3000", True), ("0x1F", True), ("0b101", True), ("0o17", True), ("Infinity", True),
        ("-Infinity", True), ("-0x1", False), ("true", False), ("1,000", False), ("1_000", False),
        ("inf", False), ("nan", False), ("NaN", False), ("\u0661\u0662", False), ("1e", False),
        ("[empty]", False), ("##s", False),
    ],
)  # fmt: skip
def test_is_js_number_matches_javascript(text: str, number: bool) -> None:
    assert is_js_number(text) is number


def test_a_column_with_at_most_50_distinct_values_is_colourable() -> None:
    words = [f"w{i}" for i in range(MAX_CATEGORIES)]
    assert is_colourable(words * 3)
    assert not is_colourable([*words, "one more"])


def test_numbers_are_colourable_however_many() -> None:
    assert is_colourable(str(i) for i in range(1000))
    assert not is_colourable([*(str(i) for i in range(1000)), "x"])


def test_empty_cells_are_missing_values() -> None:
    assert is_colourable(["", *(str(i) for i in range(100))])


def tokens(texts: list[str]) -> list[Token]:
    return [Token(id=i, text=t) for i, t in enumerate(texts)]


@pytest.mark.parametrize(
    ("keys", "vocab", "expected"),
    [
        (["word"], WIDE_VOCAB, ["word", "length"]),
        (["word"], TINY_VOCAB, ["word"]),
        (["word", "special"], WIDE_VOCAB, ["word", "special"]),
        (["length", "word"], WIDE_VOCAB, ["length", "word"]),
    ],
)
def test_ensure_colourable_adds_a_column_only_when_none_qualifies(
    keys: list[str], vocab: list[str], expected: list[str]
) -> None:
    assert [c.key for c in ensure_colourable(select_columns(keys), tokens(vocab))] == expected


def test_words_alone_get_a_colourable_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = save_tiny_bert(tmp_path / "wide", vocab=WIDE_VOCAB)
    out = tmp_path / "site"
    assert cli.main(["bundle", "--model", str(model), "--out", str(out), "--labels", "word"]) == 0
    lines = (out / DEFAULT_FILES.metadata).read_text(encoding="utf-8").splitlines()
    assert lines[0] == "Word\tLength"
    assert lines[1 + WIDE_VOCAB.index("hello")] == "▁hello\t5"
    assert len(lines) == 1 + len(WIDE_VOCAB)
    assert "export: no column of --labels word can colour points; adding length" in capsys.readouterr().err
