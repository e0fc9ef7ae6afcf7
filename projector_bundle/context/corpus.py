"""Picking points out of a large corpus: `--words` matching and `--max-points` sampling.

Pure: the caller tokenizes and runs the model; this module says which tokens make a
point and which points are kept, so memory is bounded by the points kept, not by the corpus.

How a word is matched (`--words bank`): a word is what the tokenizer's pre-tokenizer
calls one (its `word_ids()`), and it matches when its text in the sentence, with
punctuation around it removed, equals a requested word (case-folded when the
tokenizer lowercases). "banking" does not match "bank"; "Bank," does for an uncased
model. A word split into several pieces ("embeddings" -> "em", "##bed", "##ding",
"##s") becomes ONE point: the mean of its pieces' hidden states. We recommend the
mean rather than the first piece because it uses every piece the model saw and is a
common choice for word vectors from subword models; the first piece alone leans on
the model to have moved the whole word's meaning into it, which a masked language
model does not promise. The metadata should show the pieces, so the pooling is visible.
"""

from __future__ import annotations

import random
import sys
import unicodedata
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from projector_bundle import ExportError, UsageError
from projector_bundle.points.reductions import round_down
from projector_bundle.text import describe_size

T = TypeVar("T")

# A kept place whose item is still being computed.
_EMPTY = object()

# The k of a reservoir that keeps every item (no --max-points): no item is ever replaced.
UNLIMITED = sys.maxsize


def parse_words(text: str) -> tuple[str, ...]:
    """`--words w1,w2,...`: the words, stripped, without repeats, in order."""
    words = [w.strip() for w in text.split(",")]
    if not all(words):
        raise UsageError(f"--words {text!r}: expected words separated by commas, with no empty word")
    spaced = next((w for w in words if any(ch.isspace() for ch in w)), None)
    if spaced is not None:
        raise UsageError(f"--words {text!r}: {spaced!r} holds a space; a point is one word")
    return tuple(dict.fromkeys(words))


def normalise_word(word: str, *, lowercase: bool) -> str:
    """The form words are compared in: NFC, case-folded for an uncased tokenizer."""
    word = unicodedata.normalize("NFC", word)
    return word.casefold() if lowercase else word


def mentions_any(sentence: str, words: Iterable[str], *, lowercase: bool) -> bool:
    """A cheap test before tokenizing: could `sentence` hold one of the (normalised) words at all?"""
    text = normalise_word(sentence, lowercase=lowercase)
    return any(word in text for word in words)


@dataclass(frozen=True)
class WordMatch:
    """One occurrence of a requested word: the word, and the token positions of its pieces."""

    word: str
    positions: tuple[int, ...]


def match_words(
    sentence: str,
    word_ids: Sequence[int | None],
    offsets: Sequence[tuple[int, int]],
    words: Iterable[str],
    *,
    lowercase: bool,
) -> list[WordMatch]:
    """The occurrences of `words` in one tokenized sentence, in order.

    `word_ids` and `offsets` are a fast tokenizer's per-token word index (None for
    special tokens) and character span in `sentence` (`return_offsets_mapping=True`).
    Only the pieces inside the word once its punctuation is removed are pooled, for
    tokenizers (SentencePiece) whose words keep their punctuation.
    """
    wanted = {normalise_word(w, lowercase=lowercase) for w in words}
    pieces: dict[int, list[int]] = {}
    for position, word in enumerate(word_ids):
        if word is not None:
            pieces.setdefault(word, []).append(position)
    matches = []
    for positions in pieces.values():
        start = min(offsets[p][0] for p in positions)
        stop = max(offsets[p][1] for p in positions)
        start, stop = _strip_punctuation(sentence, start, stop)
        if normalise_word(sentence[start:stop], lowercase=lowercase) not in wanted:
            continue
        inside = tuple(p for p in positions if offsets[p][0] < stop and offsets[p][1] > start)
        matches.append(WordMatch(normalise_word(sentence[start:stop], lowercase=lowercase), inside))
    return matches


def _strip_punctuation(text: str, start: int, stop: int) -> tuple[int, int]:
    while start < stop and _is_edge(text[start]):
        start += 1
    while stop > start and _is_edge(text[stop - 1]):
        stop -= 1
    return start, stop


def _is_edge(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch).startswith("P")


# The memory a kept point costs, measured roughly on bert-base runs: its vectors about three
# times at the peak (in the sample, stacked into each layer's matrix, and in the projections'
# work), plus its occurrence, sentence and metadata cells.
VECTOR_COPIES = 3
POINT_OVERHEAD_BYTES = 600


@dataclass(frozen=True)
class CorpusMemory:
    """What a corpus run may hold: the source's size (None for a stream) and the memory budget."""

    source: str
    source_bytes: int | None
    budget: int  # bytes

    def check(self, points: int, sentences: int, read_bytes: int, layers: int, dim: int, cap: int) -> None:
        """Refuse, naming the numbers, a run whose points will not fit: projected from the part read
        where the source's size is known, else those held now. `cap` is what --max-points allows."""
        per_point = layers * dim * 4 * VECTOR_COPIES + POINT_OVERHEAD_BYTES
        known = self.source_bytes is not None and 0 < read_bytes < self.source_bytes
        projected = min(cap, points * self.source_bytes // read_bytes) if known and self.source_bytes else points
        if projected * per_point <= self.budget:
            return
        fit = max(round_down(self.budget // per_point), 1)
        if known and self.source_bytes:
            share = f"{read_bytes / self.source_bytes:.1%} of the file"
            what = f"about {projected:,} points ({points:,} in its first {sentences:,} sentences, {share})"
        else:
            what = f"{points:,} points in its first {sentences:,} sentences"
        raise ExportError(
            f"--sentences {self.source}: {what} x {layers} layer(s) x {dim} dimensions would need about "
            f"{describe_size(projected * per_point)} of memory, more than the {describe_size(self.budget)} available; "
            f"pass --max-points {fit} (or fewer), or fewer --layer"
        )


def check_max_points(count: int) -> None:
    if count < 1:
        raise UsageError(f"--max-points {count}: expected 1 or more")


@dataclass(frozen=True)
class Ticket:
    """A place promised to an offered item; `Reservoir.put` fills it unless a later item took it."""

    key: Hashable
    slot: int
    arrival: int


@dataclass
class _Pool(Generic[T]):
    rng: random.Random
    seen: int = 0
    slots: list[tuple[int, object]] = field(default_factory=list)  # (arrival, item or _EMPTY)


class Reservoir(Generic[T]):
    """A seeded uniform sample of at most `k` items per key, from a stream of unknown length.

    Algorithm R: the n-th item of a key replaces a random one of the k kept with
    probability k/n, so every item is kept with the same probability. Each key has its
    own generator seeded from (seed, key), so a key's sample does not depend on how
    other keys' items were interleaved. `slot` decides before the item exists, so the
    caller runs the model only on occurrences that are kept.
    """

    def __init__(self, k: int, seed: int = 0) -> None:
        check_max_points(k)
        self.k = k
        self.seed = seed
        self._pools: dict[Hashable, _Pool[T]] = {}
        self._held = 0  # slots holding an item, over every key

    def slot(self, key: Hashable = None) -> Ticket | None:
        """Count one more item of `key`; a ticket when it is kept, None when it is not."""
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = _Pool(random.Random(f"{self.seed}:{key!r}"))
        pool.seen += 1
        if len(pool.slots) < self.k:
            pool.slots.append((pool.seen, _EMPTY))
            return Ticket(key, len(pool.slots) - 1, pool.seen)
        index = pool.rng.randrange(pool.seen)
        if index >= self.k:
            return None
        self._held -= pool.slots[index][1] is not _EMPTY  # the item it replaces is let go now
        pool.slots[index] = (pool.seen, _EMPTY)
        return Ticket(key, index, pool.seen)

    def put(self, ticket: Ticket, item: T) -> None:
        """Store the item a ticket was given for, unless a later item has taken its place since."""
        if not self.holds(ticket):
            return
        slots = self._pools[ticket.key].slots
        self._held += slots[ticket.slot][1] is _EMPTY
        slots[ticket.slot] = (ticket.arrival, item)

    def holds(self, ticket: Ticket) -> bool:
        """Whether the ticket's place is still its own (no later item has taken it)."""
        return self._pools[ticket.key].slots[ticket.slot][0] == ticket.arrival

    def held(self) -> int:
        """Items stored now, over every key: what the sample costs in memory."""
        return self._held

    def offer(self, key: Hashable, item: T) -> bool:
        """`slot` and `put` at once, for items that cost nothing to make."""
        ticket = self.slot(key)
        if ticket is not None:
            self.put(ticket, item)
        return ticket is not None

    def seen(self, key: Hashable = None) -> int:
        pool = self._pools.get(key)
        return 0 if pool is None else pool.seen

    def keys(self) -> list[Hashable]:
        return list(self._pools)

    def items(self, key: Hashable = None) -> list[T]:
        """The kept items of `key`, in the order they arrived."""
        pool = self._pools.get(key)
        if pool is None:
            return []
        missing = sum(item is _EMPTY for _, item in pool.slots)
        if missing:
            raise ValueError(f"{missing} ticket(s) of {key!r} were never put")
        return [item for _, item in sorted(pool.slots, key=lambda slot: slot[0])]  # type: ignore[misc]
