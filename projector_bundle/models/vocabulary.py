"""A vocabulary row as the rest of the pipeline sees it: `Token`, built from a scheme's `Piece`."""

from __future__ import annotations

from typing import NamedTuple

from projector_bundle.models.schemes import Piece


class Token(NamedTuple):
    """One vocabulary row: its id, the characters it stands for (markers removed; None when the
    tokenizer has no token for the id), and what its scheme says about it (see `schemes`).

    A token made from a bare text (hand-made vocabularies) is its own raw and readable form.
    A tuple, like `Piece`: a frozen dataclass took twice as long to build per vocabulary row.
    """

    id: int
    text: str | None
    special: bool = False
    raw: str | None = None  # the vocabulary entry as stored, when read through a scheme
    display: str | None = None  # the readable form, when read through a scheme
    word_start: bool = False
    continuation: bool = False
    byte: bool = False

    @classmethod
    def from_piece(cls, token_id: int, piece: Piece) -> Token:
        # In field order, without keywords: a call per vocabulary row.
        p = piece
        return cls(token_id, p.text, p.special, p.raw, p.display, p.word_start, p.continuation, p.byte)
