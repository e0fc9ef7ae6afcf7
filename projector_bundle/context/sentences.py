"""Read a `--sentences` file: UTF-8 text, one sentence a line, lazily.

`iter_sentence_batches` reads one line at a time (at most `MAX_LINE_BYTES` of it
held), so a corpus of any size costs one batch of memory; the first NUL byte or
invalid UTF-8 stops it with one `ExportError`. Sentences longer than the model
can take are cut by the tokenizer (truncation=True); `truncation_warning` names
them, and `clip_line` bounds the work a long line can cause in the tokenizer.
"""

from __future__ import annotations

import codecs
import itertools
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from projector_bundle import ExportError
from projector_bundle.files import unreadable_input

STDIN = "-"

# A line longer than this is cut to it (at a character boundary) and the rest is skipped
# unread into memory: far above what any model takes (512 tokens x MAX_CHARS_PER_TOKEN
# characters x 4 bytes is 200 kB), and a bound on what one line can cost.
MAX_LINE_BYTES = 1 << 20

# No token of a WordPiece or BPE vocabulary covers more than this many characters
# (BERT maps longer words to [UNK]), so cutting a line at max_tokens times this
# never changes its first max_tokens tokens in practice.
MAX_CHARS_PER_TOKEN = 100

# Listed by line number in the truncation warning; more are counted, not listed.
LISTED_LINES = 5

_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Sentence:
    line: int  # 1-based line number in the file, for messages
    text: str
    clipped: bool = False  # longer than MAX_LINE_BYTES, cut to it
    # Bytes of the source read up to the end of this line, to tell how far a run has come.
    end: int = field(default=0, compare=False)


class Corpus:
    """The sentences of a `--sentences` source, for one or more passes (one per model).

    A file is read again, lazily, on each pass; standard input can be read only once, so it
    is held in memory when more than one pass is needed. The first sentence is read at once,
    so a missing, empty or binary source fails before any slow step.
    """

    def __init__(self, source: str, passes: int = 1, stdin: BinaryIO | None = None) -> None:
        self.source = source
        stream = iter_sentences(source, stdin)
        first = next(stream)  # parse_stream raises rather than ending without a sentence
        self._held: list[Sentence] | None = None
        self._fresh: Iterator[Sentence] | None = None
        if source == STDIN and passes > 1:
            self._held = [first, *stream]
        else:
            self._fresh = itertools.chain([first], stream)

    def read(self) -> Iterator[Sentence]:
        """One pass over the sentences, from the first."""
        if self._held is not None:
            return iter(self._held)
        if self._fresh is not None:
            fresh, self._fresh = self._fresh, None
            return fresh
        if self.source == STDIN:
            raise ExportError("--sentences -: standard input was already read; give a file to read it again")
        return iter_sentences(self.source)


def iter_sentence_batches(source: str, batch_size: int, stdin: BinaryIO | None = None) -> Iterator[list[Sentence]]:
    """The sentences of `source` in lists of `batch_size`, read lazily: memory holds one batch."""
    return chunked(iter_sentences(source, stdin), batch_size)


def chunked(sentences: Iterable[Sentence], size: int) -> Iterator[list[Sentence]]:
    """`sentences` in lists of `size` (the last may be shorter), taken from the iterable as needed."""
    iterator = iter(sentences)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def iter_sentences(source: str, stdin: BinaryIO | None = None) -> Iterator[Sentence]:
    """The sentences of `source`, read one line at a time; opening fails at once, bad text when met."""
    if source == STDIN:
        return parse_stream(stdin or sys.stdin.buffer, source)
    path = Path(source)
    try:
        stream = open(path, "rb")  # noqa: SIM115 -- the generator below closes it
    except OSError as exc:
        raise unreadable_input("--sentences", source, exc) from None
    return _closing(stream, parse_stream(stream, source))


def _closing(stream: BinaryIO, sentences: Iterator[Sentence]) -> Iterator[Sentence]:
    with stream:
        yield from sentences


def parse_stream(stream: BinaryIO, source: str, max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[Sentence]:
    """Non-blank lines of a UTF-8 stream, stripped, one at a time; a BOM and CRLF line ends are accepted.

    At most `max_line_bytes` of a line are ever held. The first NUL byte or invalid UTF-8
    sequence stops the reading with one `ExportError` naming its offset, so `/dev/zero`
    or a binary fails within its first line rather than after reading it whole.
    """
    offset = 0  # of the current line's first byte in the stream
    number = 0
    found = False
    try:
        while raw := stream.readline(max_line_bytes + 1):
            number += 1
            _check_no_nul(raw, source, offset)
            clipped = len(raw) > max_line_bytes and not raw.endswith(b"\n")
            start = len(_BOM) if number == 1 and raw.startswith(_BOM) else 0
            text = _decode(raw[:max_line_bytes] if clipped else raw, source, offset, start, cut=clipped).strip()
            size = len(raw) + (_skip_line(stream, source, raw, offset + len(raw)) if clipped else 0)
            offset += size
            if text:
                found = True
                yield Sentence(number, text, clipped, offset)
    except OSError as exc:
        raise ExportError(f"--sentences {source}: cannot read it: {exc.strerror}") from None
    if number == 0:
        raise ExportError(f"--sentences {source}: the file is empty; expected one sentence a line")
    if not found:
        raise ExportError(f"--sentences {source}: no sentences, only blank lines")


def _check_no_nul(raw: bytes, source: str, offset: int) -> None:
    nul = raw.find(b"\0")
    if nul >= 0:
        # UTF-8 text never holds NUL; UTF-16 text and binaries do.
        raise ExportError(
            f"--sentences {source}: not text (a NUL byte at offset {offset + nul:,}); expected UTF-8 text"
        )


def _skip_line(stream: BinaryIO, source: str, raw: bytes, offset: int) -> int:
    """Read past the rest of a clipped line, a bounded piece at a time; the bytes skipped.

    The skipped text is still checked (NUL, UTF-8), so endless noise without a newline
    stops at its first fault instead of being skipped forever.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    # Start from the last character that began in `raw`: it may continue in the first piece.
    tail = max((i for i in range(max(0, len(raw) - 4), len(raw)) if raw[i] & 0xC0 != 0x80), default=len(raw) - 1)
    _feed(decoder, raw[tail:], source, offset - len(raw) + tail)
    skipped = 0
    while piece := stream.readline(MAX_LINE_BYTES):
        _check_no_nul(piece, source, offset + skipped)
        _feed(decoder, piece, source, offset + skipped)
        skipped += len(piece)
        if piece.endswith(b"\n"):
            break
    return skipped


def _feed(decoder: codecs.IncrementalDecoder, data: bytes, source: str, offset: int) -> None:
    try:
        decoder.decode(data, final=False)
    except UnicodeDecodeError as exc:
        # exc.start counts from the bytes the decoder still held, at most 3 before `data`.
        at = max(exc.start - len(exc.object) + len(data), 0)
        raise ExportError(
            f"--sentences {source}: not UTF-8 text (byte 0x{data[at]:02x} at offset {offset + at:,})"
        ) from None


def _decode(raw: bytes, source: str, offset: int, start: int, *, cut: bool) -> str:
    """UTF-8 text of one line from byte `start`; with `cut`, a character the clip split in two is dropped."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        return decoder.decode(raw[start:], final=not cut)
    except UnicodeDecodeError as exc:
        at = start + exc.start
        raise ExportError(
            f"--sentences {source}: not UTF-8 text (byte 0x{raw[at]:02x} at offset {offset + at:,})"
        ) from None


def clipped_warning(source: str, lines: Sequence[int], total: int) -> str | None:
    """One line naming the lines cut to `MAX_LINE_BYTES` while reading, or None."""
    if not lines:
        return None
    which = "line" if total == 1 else "lines"
    listed = ", ".join(str(n) for n in lines[:LISTED_LINES]) + (", ..." if total > LISTED_LINES else "")
    return (
        f"--sentences {source}: {total:,} {which} longer than {MAX_LINE_BYTES:,} bytes "
        f"{'was' if total == 1 else 'were'} cut to it ({which} {listed})"
    )


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
    return truncation_message(source, long[:LISTED_LINES], len(long), len(sentences), max_tokens)


def truncation_message(source: str, listed: Sequence[int], long: int, total: int, max_tokens: int) -> str | None:
    """`truncation_warning` from running counts, for a corpus read in batches: the first
    `LISTED_LINES` long lines, how many were long, and how many sentences there were."""
    if not long:
        return None
    shown = ", ".join(str(n) for n in listed[:LISTED_LINES]) + (", ..." if long > LISTED_LINES else "")
    which = "line" if long == 1 else "lines"
    return (
        f"--sentences {source}: {long:,} of {total:,} sentences are longer than the model's "
        f"{max_tokens:,} tokens and are cut to it ({which} {shown})"
    )
