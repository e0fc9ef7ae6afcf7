"""Label columns: one pure function per column, registered in display order.

Adding a column means writing one function here under `@label_column(...)`;
`--labels` and the metadata header pick it up from the registry.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

SUBWORD_PREFIX = "##"
VOWELS = frozenset("aeiou")

# BERT's reserved tokens; other tokenizers' specials come from the tokenizer itself.
_BERT_SPECIAL = re.compile(r"\[(?:CLS|SEP|PAD|MASK|UNK|unused\d+)\]")

# Single-word English prepositions (multi-word ones such as "in front of" cannot
# be a single vocabulary entry).
PREPOSITIONS = frozenset(
    """
    aboard about above absent across after against along alongside amid amidst
    among amongst anti around as astride at atop bar barring before behind below
    beneath beside besides between beyond but by circa concerning considering
    despite down during except excepting excluding following for from given in
    including inside into less like minus near nearer nearest notwithstanding of
    off on onto opposite out outside over past pending per plus pro re regarding
    round save since than through throughout till times to toward towards under
    underneath unlike until unto up upon versus via vs with within without worth
    """.split()
)


@dataclass(frozen=True)
class Token:
    """One vocabulary row: its id, its text (None when the tokenizer has none), and
    whether the tokenizer treats it as special."""

    id: int
    text: str | None
    special: bool = False

    @property
    def piece(self) -> str:
        """The text without the WordPiece continuation marker."""
        text = self.text or ""
        return text[len(SUBWORD_PREFIX) :] if is_continuation(text) else text


@dataclass(frozen=True)
class LabelColumn:
    """A metadata column: the `--labels` key, its header, and how to compute a cell."""

    key: str
    header: str
    compute: Callable[[Token], str]


LABEL_COLUMNS: dict[str, LabelColumn] = {}


def label_column(key: str, header: str) -> Callable[[Callable[[Token], object]], Callable[[Token], object]]:
    """Register a label function as a metadata column; cells are rendered with `format_cell`."""

    def register(fn: Callable[[Token], object]) -> Callable[[Token], object]:
        LABEL_COLUMNS[key] = LabelColumn(key=key, header=header, compute=lambda t: format_cell(fn(t)))
        return fn

    return register


def format_cell(value: object) -> str:
    """Booleans become `true`/`false` (two values, so the projector can colour by them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def is_continuation(text: str) -> bool:
    return text.startswith(SUBWORD_PREFIX) and len(text) > len(SUBWORD_PREFIX)


def placeholder(token_id: int) -> str:
    """The visible label of a row the tokenizer has no token for."""
    return f"[id {token_id}]"


@label_column("word", "Word")
def word(token: Token) -> str:
    return placeholder(token.id) if token.text is None else token.text


@label_column("length", "Length")
def length(token: Token) -> int:
    return len(token.piece)


@label_column("vowels", "# vowels")
def vowels(token: Token) -> int:
    return sum(ch in VOWELS for ch in token.piece.lower())


@label_column("number", "is number")
def is_number(token: Token) -> bool:
    return token.piece.isnumeric()


@label_column("preposition", "is preposition")
def is_preposition(token: Token) -> bool:
    return token.piece.lower() in PREPOSITIONS and not is_continuation(token.text or "")


@label_column("subword", "is subword")
def is_subword(token: Token) -> bool:
    return is_continuation(token.text or "")


@label_column("special", "is special")
def is_special(token: Token) -> bool:
    return token.special or bool(_BERT_SPECIAL.fullmatch(token.text or ""))


DEFAULT_LABELS: tuple[str, ...] = tuple(LABEL_COLUMNS)


def select_columns(keys: Iterable[str]) -> list[LabelColumn]:
    """The registered columns for `keys`, in the order given."""
    return [LABEL_COLUMNS[key] for key in keys]


def label_rows(tokens: Iterable[Token], columns: list[LabelColumn]) -> list[list[str]]:
    """One row of raw (unescaped) cells per token."""
    return [[column.compute(token) for column in columns] for token in tokens]
