"""Metadata cells as the projector's parser will read them (`vz_projector/data-provider.ts`).

Pure: the writer, the colour check and the tests all escape through here.
"""

from __future__ import annotations

import re

from projector_bundle.projector.formats import JS_WHITESPACE

# The projector splits metadata rows on raw "\n" and fields on raw "\t", with no
# quoting, and skips lines that are blank after JavaScript's trim(); so control
# characters become their visible Unicode "control pictures" (U+2400 + code), and
# an empty cell, or one that trim() would empty (BOM and U+3000 included), is
# spelled out as code points.
_CONTROL_PICTURES = {code: 0x2400 + code for code in range(0x20)} | {0x7F: 0x2421}
# A lone surrogate (possible in a tokenizer.json) cannot be written as UTF-8.
_SURROGATE = re.compile("[\ud800-\udfff]")


class _Missing(str):
    """The type of `MISSING`: equal to "" but told apart from an empty text by its type."""


# A missing value in a numeric column (a gap in the user's own data), written as an empty
# cell: the projector reads an empty cell as null and keeps the column numeric, so
# "Color by" still gives a gradient. An empty text stays visible as [empty].
MISSING = _Missing()


def escape_cell(text: str) -> str:
    """A metadata cell that keeps its row and stays visible in the projector."""
    if text == "":
        return "" if type(text) is _Missing else "[empty]"
    if not text.strip(JS_WHITESPACE):
        return "".join(f"[U+{ord(ch):04X}]" for ch in text)
    if text.isprintable():  # the common case: no control character to replace (a fast check)
        return text
    text = _SURROGATE.sub(lambda m: f"[U+{ord(m.group()):04X}]", text)
    return text.translate(_CONTROL_PICTURES)
