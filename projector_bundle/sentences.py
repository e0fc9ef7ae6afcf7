"""Read a `--sentences` file: UTF-8 text, one sentence a line.

`parse_sentences` is pure (bytes in, sentences out, or one `ExportError`);
`read_sentences` adds the file or standard input. Sentences longer than the
model can take are cut by the tokenizer (truncation=True); `truncation_warning`
names them so the user knows, and `clip_line` bounds the work a pathological
multi-megabyte line can cause before it reaches the tokenizer.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from . import ExportError

STDIN = "-"

# No token of a WordPiece or BPE vocabulary covers more than this many characters
# (BERT maps longer words to [UNK]), so cutting a line at max_tokens times this
# never changes its first max_tokens tokens in practice.
MAX_CHARS_PER_TOKEN = 100

# Listed by line number in the truncation warning; more are counted, not listed.
LISTED_LINES = 5


@dataclass(frozen=True)
class Sentence:
    line: int  # 1-based line number in the file, for messages
    text: str


def read_sentences(source: str, stdin: BinaryIO | None = None) -> list[Sentence]:
    """The sentences of the file `source`, or of standard input when it is "-"."""
    if source == STDIN:
        return parse_sentences((stdin or sys.stdin.buffer).read(), source)
    path = Path(source)
    if path.is_dir():
        raise ExportError(f"--sentences {source}: is a folder, not a file")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ExportError(f"--sentences {source}: no such file") from None
    except OSError as exc:
        raise ExportError(f"--sentences {source}: cannot read it: {exc.strerror}") from None
    return parse_sentences(data, source)


def parse_sentences(data: bytes, source: str) -> list[Sentence]:
    """Non-blank lines, stripped; a BOM and CRLF line ends are accepted."""
    if not data:
        raise ExportError(f"--sentences {source}: the file is empty; expected one sentence a line")
    nul = data.find(b"\0")
    if nul >= 0:
        # UTF-8 text never holds NUL; UTF-16 text and binaries do.
        raise ExportError(f"--sentences {source}: not text (a NUL byte at offset {nul:,}); expected UTF-8 text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ExportError(
            f"--sentences {source}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start:,})"
        ) from None
    lines = text.split("\n")
    sentences = [Sentence(number, line.strip()) for number, line in enumerate(lines, 1) if line.strip()]
    if not sentences:
        raise ExportError(f"--sentences {source}: no sentences, only blank lines")
    return sentences


def clip_line(text: str, max_tokens: int) -> str:
    """`text` cut to what `max_tokens` tokens could possibly cover."""
    return text[: max_tokens * MAX_CHARS_PER_TOKEN]


def model_max_tokens(tokenizer_max: int | None, position_embeddings: int | None) -> int:
    """The longest input the model takes: the smaller of the tokenizer's limit and the
    position table. Tokenizers without a limit report a huge placeholder, ignored here."""
    limits = [n for n in (tokenizer_max, position_embeddings) if n is not None and 0 < n < 1_000_000]
    if not limits:
        raise ExportError("the model states no maximum input length (no model_max_length or position embeddings)")
    return min(limits)


def truncation_warning(
    source: str, sentences: Sequence[Sentence], token_counts: Sequence[int], max_tokens: int
) -> str | None:
    """One line naming the sentences the tokenizer will cut, or None when none is too long.

    `token_counts[i]` is the length of sentence i with special tokens, before truncation.
    """
    long = [s.line for s, count in zip(sentences, token_counts, strict=True) if count > max_tokens]
    if not long:
        return None
    listed = ", ".join(str(n) for n in long[:LISTED_LINES]) + (", ..." if len(long) > LISTED_LINES else "")
    which = "line" if len(long) == 1 else "lines"
    return (
        f"--sentences {source}: {len(long):,} of {len(sentences):,} sentences are longer than the model's "
        f"{max_tokens:,} tokens and are cut to it ({which} {listed})"
    )
