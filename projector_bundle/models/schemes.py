"""Tokenizer schemes: the one module that knows how vocabularies mark words, bytes and specials.

A vocabulary entry is stored in its scheme's own spelling: WordPiece marks a continuation
with `##`, byte-level BPE (GPT-2, RoBERTa, Llama-3) stores bytes as printable characters
(`Ġ` is the space byte), SentencePiece/Metaspace (T5, ALBERT, Llama-2) writes a word's
leading space as `▁` and may fall back to byte pieces `<0x0A>`, and CLIP-style BPE marks a
word's end with `</w>`. `detect_scheme` reads which one a tokenizer uses from its own
configuration; `read_piece` turns one entry into its text (markers removed), a readable
form and flags.

The readable form follows WordPiece's convention whatever the scheme, since that is what a
reader of BERT's vocabulary expects (`hello`, `##w`): a piece that begins a word is plain,
a piece that continues one starts with `##` (CONTINUATION). The end-of-word scheme only
knows which pieces end a word, so it marks the other side: a piece that does not end a
word ends with `##` (`hel##`, then `lo`). Every mark we add is ASCII, so the projector's
3-D labels (whose own glyphs stop at U+00FF) can draw it. Bytes that are not whole UTF-8
characters show as `<0xNN>`; characters that draw nothing (C1 controls, format characters
such as U+200B or U+202B, a combining mark with no letter before it) show as `[U+XXXX]`,
so no cell looks empty (C0 controls become control pictures where the cell is written).

Pure: it sees the tokenizer's JSON and attribute values, never loads anything.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import NamedTuple

# SentencePiece's mark of a word's leading space, as its vocabularies store it.
WORD_START = "▁"
# The mark of a piece that continues a word, in every scheme's readable form (WordPiece's own).
CONTINUATION = "##"

WORDPIECE = "WordPiece"
BYTE_LEVEL = "byte-level BPE"
METASPACE = "SentencePiece"
END_OF_WORD = "BPE with end-of-word suffix"
UNKNOWN = "unknown"

# The byte pieces of SentencePiece's byte fallback, and of our own readable forms.
BYTE_PIECE = re.compile(r"<0x([0-9A-Fa-f]{2})>")
# Entries spelled as control tokens: BERT's `[CLS]` `[SEP]` `[PAD]` `[MASK]` `[UNK]` and
# reserved `[unusedN]`, `<|endoftext|>`-style names, `<s>` `</s>` `<pad>` `<unk>` `<mask>`.
# One rule for every family: such an entry is special even where the tokenizer does not list
# it (BERT's `[unusedN]`, MPNet's leftover `[CLS]`, ModernBERT's plain `<|endoftext|>` and its
# `[unusedN]` added with special false), since no text a reader types produces it as a word.
CONTROL_LIKE = re.compile(r"\[(?:[A-Z][A-Z_]+|unused\d+)\]|<\|[^|<>\s]+\|>|</?(?:s|pad|unk|mask|cls|sep|bos|eos)>")

# Bytes that are not part of a whole UTF-8 character, shown as <0xNN>.
_HEX_BYTES = "projector-bundle-hexbytes"


def _hex_bytes(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeDecodeError)
    bad = error.object[error.start : error.end]
    return "".join(f"<0x{b:02X}>" for b in bad), error.end


codecs.register_error(_HEX_BYTES, _hex_bytes)


@cache
def byte_level_table() -> dict[int, int]:
    """GPT-2's byte <-> printable character table, as a `str.translate` map from character to byte.

    Printable Latin-1 bytes stand for themselves; the other 68 bytes (controls, space,
    0x7F-0xA0, 0xAD) take the characters from U+0100 on, in byte order: the space 0x20 is `Ġ`.
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table = {b: b for b in printable}
    extra = 0
    for b in range(256):
        if b not in table:
            table[256 + extra] = b
            extra += 1
    return table


@cache
def _byte_level_chars() -> frozenset[str]:
    return frozenset(map(chr, byte_level_table()))


@dataclass(frozen=True)
class Scheme:
    """How a vocabulary spells its pieces; `warning` says what was not recognised (UNKNOWN only)."""

    kind: str
    prefix: str = ""  # WordPiece's continuation prefix (`##`)
    suffix: str = ""  # the end-of-word suffix (`</w>`)
    byte_fallback: bool = False  # SentencePiece/BPE with `<0xNN>` pieces
    warning: str | None = None

    @property
    def has_bytes(self) -> bool:
        """Whether some pieces are bytes rather than characters."""
        return self.kind == BYTE_LEVEL or self.byte_fallback


class Piece(NamedTuple):
    """One vocabulary entry read through its scheme (a tuple: a 128k vocabulary makes 128k of them)."""

    raw: str  # as stored in the vocabulary
    text: str  # the characters it stands for, markers and partial bytes removed (for labels)
    display: str  # readable: `##` before a continuation, partial bytes as <0xNN>, invisible characters as [U+XXXX]
    word_start: bool = False  # begins a word (carries the space before it)
    continuation: bool = False  # continues a word: a subword piece
    byte: bool = False  # one or more bytes that are not whole characters, or a byte-fallback piece
    special: bool = False


def _walk(component: object) -> Iterator[Mapping]:
    """A normalizer/pre-tokenizer/decoder and, through Sequence, every part of it."""
    if isinstance(component, Mapping):
        yield component
        for key in ("normalizers", "pretokenizers", "decoders", "processors"):
            for part in component.get(key) or ():
                yield from _walk(part)


def _types(component: object) -> set[str]:
    return {str(part.get("type")) for part in _walk(component)}


def _replaces_space_with_metaspace(normalizer: object) -> bool:
    """Llama-2's tokenizer.json has no pre-tokenizer: its normalizer writes spaces as `▁`."""
    for part in _walk(normalizer):
        pattern = part.get("pattern")
        if part.get("type") == "Replace" and isinstance(pattern, Mapping) and pattern.get("String") == " ":
            return part.get("content") == WORD_START
    return False


def detect_scheme(tokenizer_json: Mapping) -> Scheme:
    """The scheme of a fast tokenizer, from its tokenizer.json (model type and options, pre-tokenizer, decoder)."""
    model = tokenizer_json.get("model")
    if not isinstance(model, Mapping):
        return unknown_scheme("tokenizer.json has no model section")
    kind = model.get("type")
    byte_fallback = bool(model.get("byte_fallback"))
    around = _types(tokenizer_json.get("pre_tokenizer")) | _types(tokenizer_json.get("decoder"))
    if kind == "WordPiece":
        return Scheme(WORDPIECE, prefix=str(model.get("continuing_subword_prefix") or "##"))
    if kind not in ("BPE", "Unigram"):
        return unknown_scheme(f"tokenizer model type {kind!r}")
    if "ByteLevel" in around:
        return Scheme(BYTE_LEVEL)
    if "Metaspace" in around or _replaces_space_with_metaspace(tokenizer_json.get("normalizer")):
        return Scheme(METASPACE, byte_fallback=byte_fallback)
    if kind == "BPE" and model.get("end_of_word_suffix"):
        return Scheme(END_OF_WORD, suffix=str(model["end_of_word_suffix"]), byte_fallback=byte_fallback)
    if kind == "BPE" and model.get("continuing_subword_prefix"):
        return Scheme(WORDPIECE, prefix=str(model["continuing_subword_prefix"]), byte_fallback=byte_fallback)
    parts = ", ".join(sorted(around)) or "none"
    return unknown_scheme(f"a {kind} model with neither byte-level, Metaspace nor marker settings (around it: {parts})")


def detect_slow_scheme(class_name: str, attributes: Collection[str], vocab: Collection[str]) -> Scheme:
    """The scheme of a tokenizer without tokenizer.json, from its class's attributes and its vocabulary."""
    if "sp_model" in attributes:
        return Scheme(METASPACE, byte_fallback="<0x00>" in vocab and "<0xFF>" in vocab)
    if "byte_encoder" in attributes:
        return Scheme(BYTE_LEVEL)
    if "wordpiece_tokenizer" in attributes:
        return Scheme(WORDPIECE, prefix="##")
    return unknown_scheme(f"the tokenizer class {class_name}")


def unknown_scheme(what: str) -> Scheme:
    return Scheme(
        UNKNOWN, warning=f"tokenizer scheme not recognised ({what}): labels use the vocabulary entries as they are"
    )


def _decode_bytes(data: bytes) -> tuple[str, str, bool]:
    """(text of the whole characters, readable form with <0xNN> for the other bytes, whether there were such bytes)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="ignore"), data.decode("utf-8", errors=_HEX_BYTES), True
    return text, text, False


def _shows_nothing(ch: str) -> bool:
    """A character that draws nothing by itself: a C1 control, a format character (zero-width,
    bidi, soft hyphen), a line or paragraph separator. C0 controls are left to the cell writer."""
    return "\x80" <= ch <= "\x9f" or unicodedata.category(ch) in ("Cf", "Zl", "Zp")


def visible(text: str) -> str:
    """`text` with each character that draws nothing as `[U+XXXX]`, and so is a combining mark
    that has no character before it to sit on (a piece that starts with one)."""
    # Marks start at U+0300: below it (and for most pieces) one C-level check decides.
    lone_mark = text[:1] >= "\u0300" and unicodedata.category(text[0]) in ("Mn", "Me")
    if not lone_mark and text.isprintable():
        return text
    shown = "".join(f"[U+{ord(ch):04X}]" if _shows_nothing(ch) else ch for ch in text)
    return f"[U+{ord(shown[0]):04X}]{shown[1:]}" if lone_mark else shown


def _marked(text: str, continuation: bool) -> str:
    """The readable form of a piece's characters: plain where it begins a word, `##` before a continuation."""
    if continuation:
        return CONTINUATION + visible(text)
    return visible(text) if text else " "  # a piece that is only the space before a word


def read_piece(raw: str, scheme: Scheme, special: bool = False, added: bool = False) -> Piece:
    """One vocabulary entry as text, readable form and flags, read through `scheme`.

    An added token is matched in the text as it is written, so it is read literally.
    """
    if special or (raw[:1] in ("[", "<") and CONTROL_LIKE.fullmatch(raw)):
        return Piece(raw, raw, visible(raw), special=True)
    if added or not raw:
        return Piece(raw, raw, visible(raw))
    if scheme.kind == WORDPIECE:
        if scheme.prefix and raw.startswith(scheme.prefix) and len(raw) > len(scheme.prefix):
            text = raw[len(scheme.prefix) :]
            return Piece(raw, text, _marked(text, True), continuation=True)
        return Piece(raw, raw, visible(raw), word_start=True)
    if scheme.kind == BYTE_LEVEL:
        return _read_byte_level(raw)
    if scheme.kind == METASPACE:
        match = BYTE_PIECE.fullmatch(raw) if scheme.byte_fallback else None
        if match:
            value = int(match.group(1), 16)
            return Piece(raw, chr(value) if value < 0x80 else "", f"<0x{value:02X}>", byte=True)
        start = raw.startswith(WORD_START)
        text = (raw[1:] if start else raw).replace(WORD_START, " ")
        return Piece(raw, text, _marked(text, not start), word_start=start, continuation=not start)
    if scheme.kind == END_OF_WORD:
        end = raw.endswith(scheme.suffix) and len(raw) > len(scheme.suffix)
        text = raw[: -len(scheme.suffix)] if end else raw
        return Piece(raw, text, visible(text) if end else visible(text) + CONTINUATION, continuation=not end)
    return Piece(raw, raw, visible(raw))


def _read_byte_level(raw: str) -> Piece:
    table = byte_level_table()
    if not _byte_level_chars() >= set(raw):  # an added token, or not byte-level after all
        return Piece(raw, raw, visible(raw))
    data = raw.translate(table).encode("latin-1")
    start = data.startswith(b" ")
    text, shown, partial = _decode_bytes(data[1:] if start else data)
    return Piece(raw, text, _marked(shown, not start), word_start=start, continuation=not start, byte=partial)
