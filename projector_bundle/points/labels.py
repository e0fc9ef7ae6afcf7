"""Label columns: one pure function per column, registered in display order.

Adding a column means writing one function here under `@label_column(...)`;
`--labels` and the metadata header pick it up from the registry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from projector_bundle.models.vocabulary import Token

VOWELS = frozenset("aeiou")

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
class LabelColumn:
    """A metadata column: the `--labels` key, its header, how to compute a cell, and (for a column
    that only some tokenizers need) whether a vocabulary needs it."""

    key: str
    header: str
    compute: Callable[[Token], str]
    needed: Callable[[Sequence[Token]], bool] | None = None


LABEL_COLUMNS: dict[str, LabelColumn] = {}


def label_column(
    key: str, header: str, needed: Callable[[Sequence[Token]], bool] | None = None
) -> Callable[[Callable[[Token], object]], Callable[[Token], object]]:
    """Register a label function as a metadata column; cells read as `format_cell` renders them."""

    def register(fn: Callable[[Token], object]) -> Callable[[Token], object]:
        LABEL_COLUMNS[key] = LabelColumn(key, header, lambda token: format_cell(fn(token)), needed)
        return fn

    return register


# A boolean's cell, by the boolean: two values, so the projector can colour by them.
BOOL_CELLS = ("false", "true")


def format_cell(value: object) -> str:
    """Booleans become `true`/`false` (`BOOL_CELLS`), the rest what str() gives."""
    if isinstance(value, bool):
        return BOOL_CELLS[value]
    return str(value)


def placeholder(token_id: int) -> str:
    """The visible label of a row the tokenizer has no token for."""
    return f"[id {token_id}]"


@label_column("word", "Word")
def word(token: Token) -> str:
    """The readable form: `▁` for the space a word-initial piece carries, `<0xNN>` for bytes."""
    if token.text is None:
        return placeholder(token.id)
    return token.text if token.display is None else token.display


@label_column("length", "Length")
def length(token: Token) -> int:
    return len(token.text or "")


@label_column("vowels", "# vowels")
def vowels(token: Token) -> int:
    return sum(map((token.text or "").lower().count, VOWELS))


@label_column("number", "is number")
def is_number(token: Token) -> bool:
    return (token.text or "").isnumeric()


@label_column("preposition", "is preposition")
def is_preposition(token: Token) -> bool:
    """A whole word or a word's first piece: `of` in `▁of`, not the `of` inside `▁often`'s `of|ten`."""
    whole = not (token.continuation or token.special or token.byte)
    return whole and (token.text or "").lower() in PREPOSITIONS


@label_column("subword", "is subword")
def is_subword(token: Token) -> bool:
    return token.continuation


@label_column("special", "is special")
def is_special(token: Token) -> bool:
    return token.special


def has_byte_tokens(tokens: Sequence[Token]) -> bool:
    return any(t.byte for t in tokens)


@label_column("byte", "is byte", needed=has_byte_tokens)
def is_byte(token: Token) -> bool:
    return token.byte


@label_column("token", "Token")
def raw_token(token: Token) -> str:
    """The vocabulary entry exactly as the tokenizer stores it."""
    if token.text is None:
        return placeholder(token.id)
    return token.text if token.raw is None else token.raw


DEFAULT_LABELS: tuple[str, ...] = tuple(LABEL_COLUMNS)


def select_columns(keys: Iterable[str]) -> list[LabelColumn]:
    """The registered columns for `keys`, in the order given."""
    return [LABEL_COLUMNS[key] for key in keys]


def needed_columns(columns: Iterable[LabelColumn], tokens: Sequence[Token]) -> list[LabelColumn]:
    """`columns` without those this vocabulary does not need (`is byte` where no token is a byte)."""
    return [c for c in columns if c.needed is None or c.needed(tokens)]


def label_rows(tokens: Iterable[Token], columns: list[LabelColumn]) -> list[list[str]]:
    """One row of raw (unescaped) cells per token."""
    tokens = list(tokens)
    # A column at a time: one map() per column instead of a Python loop per cell.
    cells = [list(map(column.compute, tokens)) for column in columns]
    return [list(row) for row in zip(*cells, strict=True)] if cells else [[] for _ in tokens]
