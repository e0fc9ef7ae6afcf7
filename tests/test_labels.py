from __future__ import annotations

import pytest

from projector_bundle.models.schemes import BYTE_LEVEL, METASPACE, WORDPIECE, Scheme, read_piece
from projector_bundle.points.labels import (
    DEFAULT_LABELS,
    LABEL_COLUMNS,
    Token,
    is_byte,
    is_number,
    is_preposition,
    is_special,
    is_subword,
    label_rows,
    length,
    needed_columns,
    raw_token,
    select_columns,
    vowels,
    word,
)

BERT = Scheme(WORDPIECE, prefix="##")
GPT2 = Scheme(BYTE_LEVEL)
LLAMA2 = Scheme(METASPACE, byte_fallback=True)


def token(raw: str, scheme: Scheme = BERT, special: bool = False) -> Token:
    return Token.from_piece(0, read_piece(raw, scheme, special))


@pytest.mark.parametrize(
    ("tok", "expected_word", "expected_token"),
    [
        (token("hello"), "hello", "hello"),
        (token("##w"), "##w", "##w"),
        (Token(123, None), "[id 123]", "[id 123]"),
        (token("[SEP]", special=True), "[SEP]", "[SEP]"),
        (token("ĠÐ¼Ð¸ÑĢ", GPT2), "мир", "ĠÐ¼Ð¸ÑĢ"),
        (token("Ð¼Ð¸ÑĢ", GPT2), "##мир", "Ð¼Ð¸ÑĢ"),
        (token("▁мир", LLAMA2), "мир", "▁мир"),
        (token("ир", LLAMA2), "##ир", "ир"),
        (token("<0x0A>", LLAMA2), "<0x0A>", "<0x0A>"),
        (token("\u200b"), "[U+200B]", "\u200b"),  # zero-width space: a stand-in in Word, raw in Token
        (token("\x9c"), "[U+009C]", "\x9c"),  # a C1 control
        (token("##\u0308"), "##[U+0308]", "##\u0308"),  # a lone combining diaeresis
        (Token(7, "hand made"), "hand made", "hand made"),  # a bare text is its own readable form
    ],
)
def test_word_is_readable_and_token_is_raw(tok: Token, expected_word: str, expected_token: str) -> None:
    assert (word(tok), raw_token(tok)) == (expected_word, expected_token)


@pytest.mark.parametrize(
    ("tok", "expected"),
    [(token("hello"), 5), (token("##ing"), 3), (token("##"), 2), (token("café"), 4), (token("[CLS]", special=True), 5),
     (token("Ġof", GPT2), 2), (token("▁мир", LLAMA2), 3), (token("<0x0A>", LLAMA2), 1), (token("<0xD0>", LLAMA2), 0),
     (token("ĠÐ", GPT2), 0)],
)  # fmt: skip
def test_length_counts_the_text_without_markers(tok: Token, expected: int) -> None:
    assert length(tok) == expected


@pytest.mark.parametrize(
    ("tok", "expected"),
    [(token("hello"), 2), (token("rhythm"), 0), (token("AEIOU"), 5), (token("##ing"), 1), (token("queue"), 4),
     (token("42"), 0), (token("café"), 2), (token("<0x0A>", LLAMA2), 0), (token("Ġaudio", GPT2), 4),
     (token("é"), 1), (token("NAÏVE"), 3), (token("Ångström"), 2), (token("cœur"), 2), (token("smørrebrød"), 3),
     (token("ca\u0301fe"), 2),  # e with a combining acute: the mark is no letter of its own
     (token("▁Москва", LLAMA2), 2), (token("йогурт"), 2), (token("ёлка"), 2), (token("їжак"), 2),
     (token("Ἀθῆναι"), 4), (token("ύψος"), 2), (token("日本"), 0), (token("مرحبا"), 0), (token("नमस्ते"), 0),
     (token("y"), 0)],
)  # fmt: skip
def test_vowels(tok: Token, expected: int) -> None:
    assert vowels(tok) == expected


@pytest.mark.parametrize(
    ("tok", "expected"),
    [(token("42"), True), (token("1990"), True), (token("##3"), True), (token("½"), True), (token("3.5"), False),
     (token("4th"), False), (token(""), False), (token("Ġ1990", GPT2), True), (token("▁1990", LLAMA2), True)],
)  # fmt: skip
def test_is_number(tok: Token, expected: bool) -> None:
    assert is_number(tok) is expected


@pytest.mark.parametrize(
    ("tok", "expected"),
    [(token("of"), True), (token("into"), True), (token("Despite"), True), (token("##in"), False),
     (token("river"), False), (token("the"), False), (token("Ġof", GPT2), True), (token("of", GPT2), False),
     (token("▁of", LLAMA2), True), (token("of", LLAMA2), False)],
)  # fmt: skip
def test_is_preposition_only_for_a_word_start(tok: Token, expected: bool) -> None:
    assert is_preposition(tok) is expected


@pytest.mark.parametrize(
    ("tok", "expected"),
    [(token("##ing"), True), (token("##"), False), (token("#"), False), (token("ing"), False), (token(""), False),
     (token("###", BERT), True), (token("ing", GPT2), True), (token("Ġing", GPT2), False),
     (token("ing", LLAMA2), True), (token("▁ing", LLAMA2), False), (token("<0x0A>", LLAMA2), False)],
)  # fmt: skip
def test_is_subword_means_a_continuation_piece(tok: Token, expected: bool) -> None:
    assert is_subword(tok) is expected


@pytest.mark.parametrize(
    ("tok", "expected"),
    [(token("[PAD]", special=True), True), (token("[unused0]"), True), (token("[unused993]"), True),
     (token("<s>", LLAMA2, special=True), True), (token("[unused]"), False), (token("pad"), False),
     (Token(6, None), False), (token("[CLS]", LLAMA2), True), (token("<|endoftext|>", GPT2), True)],
)  # fmt: skip
def test_is_special(tok: Token, expected: bool) -> None:
    assert is_special(tok) is expected


@pytest.mark.parametrize(
    ("tok", "expected"),
    [(token("<0x0A>", LLAMA2), True), (token("▁of", LLAMA2), False), (token("ä½", GPT2), True),
     (token("Ġ", GPT2), False), (token("hello"), False)],
)  # fmt: skip
def test_is_byte(tok: Token, expected: bool) -> None:
    assert is_byte(tok) is expected


def test_default_columns_carry_the_exercise_headers_in_order_then_byte_and_token() -> None:
    headers = [c.header for c in select_columns(DEFAULT_LABELS)]
    assert headers == ["Word", "Length", "# vowels", "is number", "is preposition", "is subword", "is special",
                       "is byte", "Token"]  # fmt: skip


def test_is_byte_is_needed_only_where_a_token_is_a_byte() -> None:
    columns = select_columns(DEFAULT_LABELS)
    assert "byte" not in [c.key for c in needed_columns(columns, [token("hello"), token("##w")])]
    assert "byte" in [c.key for c in needed_columns(columns, [token("▁of", LLAMA2), token("<0x0A>", LLAMA2)])]


def test_label_rows_render_booleans_as_two_values() -> None:
    rows = label_rows([token("of"), token("##s")], select_columns(["word", "preposition", "subword"]))
    assert rows == [["of", "true", "false"], ["##s", "false", "true"]]


def test_every_registered_column_has_a_unique_header() -> None:
    headers = [c.header for c in LABEL_COLUMNS.values()]
    assert len(headers) == len(set(headers))
