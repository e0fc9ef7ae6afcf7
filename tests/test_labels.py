from __future__ import annotations

import pytest

from projector_bundle.labels import (
    DEFAULT_LABELS,
    LABEL_COLUMNS,
    Token,
    is_number,
    is_preposition,
    is_special,
    is_subword,
    label_rows,
    length,
    select_columns,
    vowels,
    word,
)


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        (Token(7, "hello"), "hello"),
        (Token(14, "##w"), "##w"),
        (Token(123, None), "[id 123]"),
        (Token(5, "[SEP]", special=True), "[SEP]"),
    ],
)
def test_word(token: Token, expected: str) -> None:
    assert word(token) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("hello", 5), ("##ing", 3), ("##", 2), ("café", 4), ("", 0), ("[CLS]", 5)],
)
def test_length_counts_the_piece_without_the_continuation_marker(text: str, expected: int) -> None:
    assert length(Token(0, text)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("hello", 2), ("rhythm", 0), ("AEIOU", 5), ("##ing", 1), ("queue", 4), ("42", 0), ("café", 1)],
)
def test_vowels(text: str, expected: int) -> None:
    assert vowels(Token(0, text)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("42", True), ("1990", True), ("##3", True), ("½", True), ("3.5", False), ("4th", False), ("", False)],
)
def test_is_number(text: str, expected: bool) -> None:
    assert is_number(Token(0, text)) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("of", True), ("into", True), ("Despite", True), ("##in", False), ("river", False), ("the", False)],
)
def test_is_preposition(text: str, expected: bool) -> None:
    assert is_preposition(Token(0, text)) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("##ing", True), ("##", False), ("#", False), ("ing", False), ("", False)],
)
def test_is_subword(text: str, expected: bool) -> None:
    assert is_subword(Token(0, text)) is expected


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        (Token(0, "[PAD]"), True),
        (Token(1, "[unused0]"), True),
        (Token(2, "[unused993]"), True),
        (Token(3, "<s>", special=True), True),
        (Token(4, "[unused]"), False),
        (Token(5, "pad"), False),
        (Token(6, None), False),
    ],
)
def test_is_special(token: Token, expected: bool) -> None:
    assert is_special(token) is expected


def test_default_columns_carry_the_exercise_headers_in_order() -> None:
    headers = [c.header for c in select_columns(DEFAULT_LABELS)]
    assert headers == ["Word", "Length", "# vowels", "is number", "is preposition", "is subword", "is special"]


def test_label_rows_render_booleans_as_two_values() -> None:
    rows = label_rows([Token(0, "of"), Token(1, "##s")], select_columns(["word", "preposition", "subword"]))
    assert rows == [["of", "true", "false"], ["##s", "false", "true"]]


def test_every_registered_column_has_a_unique_header() -> None:
    headers = [c.header for c in LABEL_COLUMNS.values()]
    assert len(headers) == len(set(headers))
