"""Tokenizer schemes: detected from real tokenizers' own settings, and each piece read through its scheme."""

from __future__ import annotations

import json

import pytest
from families import llama3_tokenizer

from projector_bundle.models.schemes import (
    BYTE_LEVEL,
    END_OF_WORD,
    METASPACE,
    UNKNOWN,
    WORDPIECE,
    Piece,
    Scheme,
    byte_level_table,
    detect_scheme,
    detect_slow_scheme,
    read_piece,
)


def described(tokenizer: object) -> dict:
    return json.loads(tokenizer.to_str())


def bpe(**options: object) -> object:
    from tokenizers import Tokenizer, models

    return Tokenizer(models.BPE({"a": 0, "b": 1, "ab": 2, "<unk>": 3}, [("a", "b")], unk_token="<unk>", **options))


def test_byte_level_table_is_the_one_tokenizers_uses() -> None:
    from tokenizers.pre_tokenizers import ByteLevel

    level = ByteLevel(add_prefix_space=False, use_regex=False)
    table = byte_level_table()
    assert len(table) == 256 and sorted(table.values()) == list(range(256))
    for b in range(128):  # one byte each: the ASCII range, controls and space included
        ((encoded, _),) = level.pre_tokenize_str(bytes([b]).decode())
        assert table[ord(encoded)] == b
    ((encoded, _),) = level.pre_tokenize_str(" мир")
    assert encoded == "ĠÐ¼Ð¸ÑĢ"
    assert encoded.translate(table).encode("latin-1") == " мир".encode()


def test_detects_byte_level_bpe_of_llama3() -> None:
    assert detect_scheme(described(llama3_tokenizer())) == Scheme(BYTE_LEVEL)


def test_detects_metaspace_from_a_pre_tokenizer_or_from_llama2s_normalizer() -> None:
    from tokenizers import normalizers, pre_tokenizers

    with_pre = bpe(byte_fallback=True)
    with_pre.pre_tokenizer = pre_tokenizers.Metaspace()
    assert detect_scheme(described(with_pre)) == Scheme(METASPACE, byte_fallback=True)
    normalized = bpe(byte_fallback=True)
    normalized.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    assert detect_scheme(described(normalized)) == Scheme(METASPACE, byte_fallback=True)


def test_detects_wordpiece_unigram_and_end_of_word_bpe() -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers

    wordpiece = Tokenizer(models.WordPiece({"[UNK]": 0, "a": 1, "@@a": 2}, continuing_subword_prefix="@@"))
    assert detect_scheme(described(wordpiece)) == Scheme(WORDPIECE, prefix="@@")
    unigram = Tokenizer(models.Unigram([("<unk>", 0.0), ("▁a", -1.0)], unk_id=0))
    unigram.pre_tokenizer = pre_tokenizers.Metaspace()
    assert detect_scheme(described(unigram)) == Scheme(METASPACE)
    clip = bpe(end_of_word_suffix="</w>")
    clip.pre_tokenizer = pre_tokenizers.Whitespace()
    assert detect_scheme(described(clip)) == Scheme(END_OF_WORD, suffix="</w>")


@pytest.mark.parametrize(
    ("tokenizer_json", "named"),
    [
        ({"model": {"type": "WordLevel", "vocab": {"a": 0}}}, "tokenizer model type 'WordLevel'"),
        ({"version": "1.0"}, "tokenizer.json has no model section"),
        ({"model": {"type": "BPE", "vocab": {}}, "pre_tokenizer": {"type": "Whitespace"}}, "around it: Whitespace"),
    ],
)
def test_an_unknown_scheme_names_what_was_not_recognised(tokenizer_json: dict, named: str) -> None:
    scheme = detect_scheme(tokenizer_json)
    assert scheme.kind == UNKNOWN
    assert named in scheme.warning
    assert read_piece("Ġof", scheme) == Piece("Ġof", "Ġof", "Ġof")  # the raw text, never a crash


@pytest.mark.parametrize(
    ("attributes", "vocab", "expected"),
    [
        (["sp_model"], ["<0x00>", "<0xFF>", "▁a"], Scheme(METASPACE, byte_fallback=True)),
        (["sp_model"], ["▁a"], Scheme(METASPACE)),
        (["byte_encoder"], ["Ġa"], Scheme(BYTE_LEVEL)),
        (["wordpiece_tokenizer"], ["##a"], Scheme(WORDPIECE, prefix="##")),
    ],
)
def test_slow_tokenizers_by_their_attributes(attributes: list[str], vocab: list[str], expected: Scheme) -> None:
    assert detect_slow_scheme("SomeTokenizer", attributes, vocab) == expected
    assert "SomeTokenizer" in detect_slow_scheme("SomeTokenizer", [], vocab).warning


GPT2 = Scheme(BYTE_LEVEL)


def spelled(text: str) -> str:
    """`text` as a byte-level vocabulary stores it."""
    character = {byte: chr(code) for code, byte in byte_level_table().items()}
    return "".join(character[b] for b in text.encode("utf-8"))


LLAMA2 = Scheme(METASPACE, byte_fallback=True)


@pytest.mark.parametrize(
    ("raw", "scheme", "expected"),
    [
        ("hello", Scheme(WORDPIECE, prefix="##"), Piece("hello", "hello", "hello", word_start=True)),
        ("##s", Scheme(WORDPIECE, prefix="##"), Piece("##s", "s", "##s", continuation=True)),
        ("[unused3]", Scheme(WORDPIECE, prefix="##"), Piece("[unused3]", "[unused3]", "[unused3]", special=True)),
        ("ĠÐ¼Ð¸ÑĢ", GPT2, Piece("ĠÐ¼Ð¸ÑĢ", "мир", "мир", word_start=True)),
        ("ĠâĢĶ", GPT2, Piece("ĠâĢĶ", "—", "—", word_start=True)),
        ("ä½", GPT2, Piece("ä½", "", "##<0xE4><0xBD>", continuation=True, byte=True)),
        ("ĠÐ", GPT2, Piece("ĠÐ", "", "<0xD0>", word_start=True, byte=True)),
        ("aÐ", GPT2, Piece("aÐ", "a", "##a<0xD0>", continuation=True, byte=True)),
        ("ĠĠĠ", GPT2, Piece("ĠĠĠ", "  ", "  ", word_start=True)),  # written [U+0020][U+0020] (cells.escape_cell)
        ("Ġ", GPT2, Piece("Ġ", "", " ", word_start=True)),
        ("Ċ", GPT2, Piece("Ċ", "\n", "##\n", continuation=True)),  # the newline becomes a control picture
        (spelled(" \x85"), GPT2, Piece(spelled(" \x85"), "\x85", "[U+0085]", word_start=True)),  # C1 NEL
        ("âĢĭ", GPT2, Piece("âĢĭ", "\u200b", "##[U+200B]", continuation=True)),  # zero-width space
        (spelled("\u202b"), GPT2, Piece(spelled("\u202b"), "\u202b", "##[U+202B]", continuation=True)),  # RLE
        ("▁of", LLAMA2, Piece("▁of", "of", "of", word_start=True)),
        ("▁New▁York", LLAMA2, Piece("▁New▁York", "New York", "New York", word_start=True)),
        ("▁", LLAMA2, Piece("▁", "", " ", word_start=True)),
        ("ten", LLAMA2, Piece("ten", "ten", "##ten", continuation=True)),
        ("\u0301", LLAMA2, Piece("\u0301", "\u0301", "##[U+0301]", continuation=True)),  # a lone combining mark
        ("▁e\u0301", LLAMA2, Piece("▁e\u0301", "e\u0301", "e\u0301", word_start=True)),  # on its letter: kept
        ("\u00ad", LLAMA2, Piece("\u00ad", "\u00ad", "##[U+00AD]", continuation=True)),  # soft hyphen
        ("<0x0A>", LLAMA2, Piece("<0x0A>", "\n", "<0x0A>", byte=True)),
        ("<0xE4>", LLAMA2, Piece("<0xE4>", "", "<0xE4>", byte=True)),
        ("<0x0A>", Scheme(METASPACE), Piece("<0x0A>", "<0x0A>", "##<0x0A>", continuation=True)),  # no fallback
        ("of</w>", Scheme(END_OF_WORD, suffix="</w>"), Piece("of</w>", "of", "of")),
        ("of", Scheme(END_OF_WORD, suffix="</w>"), Piece("of", "of", "of##", continuation=True)),
        ("", GPT2, Piece("", "", "")),
    ],
)
def test_read_piece(raw: str, scheme: Scheme, expected: Piece) -> None:
    assert read_piece(raw, scheme) == expected


def test_special_and_added_tokens_are_read_as_written() -> None:
    assert read_piece("<|eot_id|>", GPT2, special=True) == Piece("<|eot_id|>", "<|eot_id|>", "<|eot_id|>", special=True)
    assert read_piece("café bar", GPT2, added=True) == Piece("café bar", "café bar", "café bar")


@pytest.mark.parametrize(
    ("raw", "scheme"),
    [("[CLS]", Scheme(METASPACE)), ("[MASK]", Scheme(WORDPIECE, prefix="##")), ("[unused12]", GPT2),
     ("<|endoftext|>", GPT2), ("<s>", Scheme(METASPACE)), ("</s>", GPT2), ("<mask>", LLAMA2)],
)  # fmt: skip
def test_control_like_entries_are_special_in_every_scheme(raw: str, scheme: Scheme) -> None:
    """One rule across families: MPNet's leftover [CLS], ModernBERT's plain <|endoftext|> and [unusedN]."""
    assert read_piece(raw, scheme) == Piece(raw, raw, raw, special=True)
    assert read_piece(raw, scheme, added=True).special


@pytest.mark.parametrize("raw", ["[cls]", "[A]", "<br>", "<|", "[CLS]x", "<S>", "[unused]"])
def test_bracketed_text_that_is_no_control_token_is_not_special(raw: str) -> None:
    assert not read_piece(raw, Scheme(WORDPIECE, prefix="##")).special


@pytest.mark.parametrize("raw", ["hello", "##w", "ĠÐ¼Ð¸ÑĢ", "▁of", "of</w>", "of", "ä½"])
def test_markers_we_add_are_latin1(raw: str) -> None:
    scheme = {"#": Scheme(WORDPIECE, prefix="##"), "Ġ": GPT2, "▁": LLAMA2}.get(raw[0], Scheme(END_OF_WORD, "", "</w>"))
    piece = read_piece(raw, GPT2 if raw == "ä½" else scheme)
    added = piece.display.replace(piece.text, "", 1) if piece.text else piece.display
    assert all(ord(ch) <= 0xFF for ch in added), piece
