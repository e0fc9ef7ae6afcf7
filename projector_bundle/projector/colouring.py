"""Which metadata columns the projector offers under "Color by", decided as its parser decides.

tensorboard's `vz_projector/data-provider.ts` (`analyzeMetadata`) keeps a column for colouring
when every value is a JavaScript number or when it has at most 50 distinct values; the data
panel hides "Label by" and "Color by" altogether when no column qualifies.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from projector_bundle.models.vocabulary import Token
from projector_bundle.points.labels import LABEL_COLUMNS, LabelColumn
from projector_bundle.projector.cells import escape_cell
from projector_bundle.projector.formats import JS_WHITESPACE

# NUM_COLORS_COLOR_MAP in data-provider.ts.
MAX_CATEGORIES = 50

# ASCII digits only: JavaScript does not read other scripts' digits as numbers.
_JS_NUMBER = re.compile(
    r"[+-]?(?:Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)|0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+"
)


def is_js_number(text: str) -> bool:
    """What `!isNaN(text)` says in the browser: Number(text) is not NaN (so "" and " " count as 0)."""
    trimmed = text.strip(JS_WHITESPACE)  # what Number(string) trims, like trim()
    return trimmed == "" or _JS_NUMBER.fullmatch(trimmed) is not None


def is_colourable(cells: Iterable[str]) -> bool:
    """Whether the projector can colour by a column of written (escaped) cells; empty cells are missing.

    Numbers are checked on the distinct cells only: a length or count column has a few
    dozen, and the regular expression per cell was most of the time labelling took.
    """
    distinct = set(cells)
    distinct.discard("")
    return len(distinct) <= MAX_CATEGORIES or all(map(is_js_number, distinct))


def column_is_colourable(column: LabelColumn, tokens: Sequence[Token]) -> bool:
    return is_colourable(escape_cell(column.compute(token)) for token in tokens)


def ensure_colourable(columns: Sequence[LabelColumn], tokens: Sequence[Token]) -> list[LabelColumn]:
    """`columns`, plus the first registered column the projector can colour by when none of them can.

    Without one the projector hides "Label by" and "Color by", which users read as broken labels.
    """
    if any(column_is_colourable(c, tokens) for c in columns):
        return list(columns)
    chosen = {c.key for c in columns}
    extra = next(
        (c for c in LABEL_COLUMNS.values() if c.key not in chosen and column_is_colourable(c, tokens)),
        None,
    )
    return list(columns) if extra is None else [*columns, extra]
