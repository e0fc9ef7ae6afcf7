"""Contextual embeddings: run the model over a corpus, one point per token occurrence or per `--words` word.

The static word-piece table says what "bank" is before the model reads anything;
the hidden states of a layer say what the model made of each "bank" in its sentence.
The corpus is read a chunk at a time, and only the points kept (`corpus.Reservoir`) are
held, with their sentence shortened: memory is bounded by the points kept, not by the
corpus. torch is imported inside `embed_corpus` and `pool_states` only; the rest is pure.
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

import numpy as np

from projector_bundle import ExportError, UsageError
from projector_bundle.context.corpus import (
    UNLIMITED,
    CorpusMemory,
    Reservoir,
    Ticket,
    match_words,
    mentions_any,
    normalise_word,
)
from projector_bundle.context.sentences import (
    LISTED_LINES,
    Sentence,
    chunked,
    clip_line,
    clipped_warning,
    model_max_tokens,
    truncation_message,
)
from projector_bundle.projector.formats import MIB
from projector_bundle.text import one_line

if TYPE_CHECKING:
    import torch
    from transformers import BatchEncoding, PreTrainedModel, PreTrainedTokenizerBase

# The metadata columns of contextual and paths tensors, each spelled here once.
# "Sentence #" and "Layer" are there to colour by; "Sentence" is shortened so the inspector stays readable.
TOKEN_COLUMN, SENTENCE_NUMBER_COLUMN, POSITION_COLUMN = "Token", "Sentence #", "Position"
SENTENCE_COLUMN, LAYER_COLUMN = "Sentence", "Layer"
CONTEXT_HEADER = (TOKEN_COLUMN, SENTENCE_NUMBER_COLUMN, POSITION_COLUMN, SENTENCE_COLUMN, LAYER_COLUMN)
# With --words, the word as matched comes first (the projector labels points by it).
WORD_COLUMN = "Word"
SENTENCE_CHARS = 60
ELLIPSIS = "…"
# A model call takes at most BATCH_SIZE sentences and BATCH_TOKENS tokens once padded:
# every layer's hidden states of one call are held at once, (tokens x (layers + 1) x
# hidden size x 4 bytes), 160 MB for bert-base at 4,096 tokens.
BATCH_SIZE = 32
BATCH_TOKENS = 4096
# Sentences read and tokenized at once (a fast tokenizer splits them in parallel): the
# most sentences in flight between reading and keeping.
READ_CHUNK = 256
# --max-points samples with this seed, so the same command keeps the same points.
SAMPLE_SEED = 0


@dataclass(frozen=True)
class Occurrence:
    """One point: a token of a sentence (from 1), where in it ([CLS] is 0); with --words, a
    whole word, its pieces in `token` (separated by spaces) and its first piece's position."""

    token: str
    sentence: int
    position: int
    word: str | None = None  # the --words word it matched (case-folded for an uncased model)


@dataclass(frozen=True)
class PointChoice:
    """Which token occurrences become points, and how many are kept."""

    words: tuple[str, ...] = ()  # --words as given; () makes every token a point
    max_points: int | None = None  # per word with words, else in all; None keeps every one
    keep_special: bool = False  # [CLS]/[SEP] points too (without words)
    seed: int = SAMPLE_SEED


EVERY_TOKEN = PointChoice()


@dataclass
class CorpusCounts:
    """What reading the corpus met, as running counts (a corpus of any length costs the same)."""

    sentences: int = 0  # read
    embedded: int = 0  # run through the model: those with a point kept when they were read
    tokenized: int = 0  # all, or with --words those that could mention one
    cut: int = 0  # longer than the model takes: the tokenizer cut their tail
    cut_lines: list[int] = field(default_factory=list)  # the first LISTED_LINES of them
    clipped: int = 0  # lines over sentences.MAX_LINE_BYTES, cut while reading
    clipped_lines: list[int] = field(default_factory=list)
    seen: dict[str | None, int] = field(default_factory=dict)  # occurrences found per word (None: all tokens)


@dataclass(frozen=True)
class ContextualEmbeddings:
    """Per requested layer, one row per kept occurrence, in corpus order; the shortened
    text of the sentences they come from, and what reading the corpus met."""

    occurrences: list[Occurrence]
    layers: dict[int, np.ndarray]
    sentences: dict[int, str]  # sentence number -> its text, shortened
    max_tokens: int
    counts: CorpusCounts = field(default_factory=CorpusCounts)
    words: tuple[str, ...] = ()  # the --words as compared (normalised); () when every token is a point

    @property
    def header(self) -> tuple[str, ...]:
        return (WORD_COLUMN, *CONTEXT_HEADER) if self.words else CONTEXT_HEADER


@dataclass(frozen=True)
class _Point:
    """A kept point: its occurrence, its sentence shortened, its vector at each layer (its own copy)."""

    occurrence: Occurrence
    sentence: str
    vectors: np.ndarray  # (layers, dim) float32


@dataclass(frozen=True)
class _Claim:
    """An occurrence given a place in the sample before the model has run on it."""

    ticket: Ticket
    occurrence: Occurrence
    positions: tuple[int, ...]


def shorten(sentence: str, limit: int = SENTENCE_CHARS) -> str:
    """At most `limit` characters, cut at a word boundary where one is near, with an ellipsis."""
    if len(sentence) <= limit:
        return sentence
    head = sentence[: limit - len(ELLIPSIS)]
    space = head.rfind(" ")
    if space >= limit // 2:
        head = head[:space]
    return head.rstrip() + ELLIPSIS


def layer_count(model: PreTrainedModel) -> int:
    """Transformer layers; hidden state 0 is the embedding output, L the output of layer L."""
    return int(model.config.num_hidden_layers)


def check_layers(layers: Sequence[int] | None, count: int, model_name: str) -> list[int]:
    """The requested layers (default: the last), each within 0..count, without repeats."""
    if not layers:
        return [count]
    bad = [layer for layer in layers if not 0 <= layer <= count]
    if bad:
        raise UsageError(f"--layer {bad[0]}: {model_name} has layers 0 (the embedding output) to {count}, got {bad[0]}")
    return list(dict.fromkeys(layers))


def embed_corpus(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    sentences: Iterable[Sentence],
    layers: Sequence[int],
    choice: PointChoice = EVERY_TOKEN,
    *,
    advance: Callable[[int], None] = lambda done: None,
    sample: Reservoir[_Point] | None = None,
    memory: CorpusMemory | None = None,
) -> ContextualEmbeddings:
    """Hidden states of `layers` for the points `choice` picks from `sentences`, read lazily.

    Each chunk of sentences is tokenized, its occurrences are offered to the sample, and the
    model runs only on the sentences with an occurrence kept. Batched under inference mode,
    on CUDA when present. Each sentence is tokenized alone and padded here on the right with
    an attention mask, so models without a padding token (GPT-2, Llama) batch too, and every
    state is the one the sentence gets alone. An encoder-decoder model (T5, BART) runs its
    encoder only. `advance` is told the sentences read; `sample` (default: a new reservoir of
    `choice.max_points` per word) is where kept points wait. After each chunk, `memory`
    refuses a run whose points would not fit (from the first chunk, where the file's size is known).
    """
    import torch

    run = _CorpusRun(model, tokenizer, layers, choice, sample)
    dim = int(model.config.hidden_size)
    cap = (choice.max_points or UNLIMITED) * max(len(choice.words), 1)
    with torch.inference_mode():
        for chunk in chunked(sentences, READ_CHUNK):
            run.read(chunk)
            advance(len(chunk))
            if memory is not None:
                memory.check(run.sample.held(), run.counts.sentences, chunk[-1].end, len(layers), dim, cap)
    return run.result()


# Caps the memory a corpus run may plan for, in MiB like every size we print (MemAvailable otherwise).
MEMORY_ENV = "EXPORT_MEMORY_MIB"


def corpus_memory(source: str) -> CorpusMemory | None:
    """The memory check of a run over `source`: its size if it is a regular file, and the budget
    (`EXPORT_MEMORY_MIB`, else the memory Linux says is available); None where neither is known."""
    limit = os.environ.get(MEMORY_ENV)
    if limit is not None:
        try:
            mebibytes = float(limit)
        except ValueError:
            mebibytes = math.nan
        if not 0 < mebibytes < math.inf:
            raise ExportError(f"{MEMORY_ENV}: expected a positive number of MiB, got {limit!r}")
        budget = int(mebibytes * MIB)
    else:
        available = available_memory()
        if available is None:
            return None
        budget = available
    try:
        info = os.stat(source)
        size = info.st_size if stat.S_ISREG(info.st_mode) else None
    except (OSError, ValueError):
        size = None  # standard input, or a pipe
    return CorpusMemory(source, size, budget)


def available_memory() -> int | None:
    """MemAvailable of /proc/meminfo in bytes; None without it."""
    try:
        with open("/proc/meminfo", encoding="ascii") as file:
            for line in file:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


class _CorpusRun:
    """One model over one corpus, a chunk at a time: what `embed_corpus` holds between chunks."""

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        layers: Sequence[int],
        choice: PointChoice,
        sample: Reservoir[_Point] | None,
    ) -> None:
        import torch

        from projector_bundle.models.loader import tokenizer_lowercases, tokenizer_vocabulary

        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.model = model.to(self.device).eval()
        self.encoder = model.get_encoder() if getattr(model.config, "is_encoder_decoder", False) else self.model
        self.tokenizer, self.layers, self.choice = tokenizer, list(layers), choice
        self.vocabulary = tokenizer_vocabulary(tokenizer)
        positions = getattr(model.config, "max_position_embeddings", None)
        self.max_length = model_max_tokens(tokenizer.model_max_length, positions)
        self.lowercase = tokenizer_lowercases(tokenizer)
        self.words = tuple(dict.fromkeys(normalise_word(w, lowercase=self.lowercase) for w in choice.words))
        if self.words and not tokenizer.is_fast:
            name = type(tokenizer).__name__
            raise ExportError(f"--words: needs a fast tokenizer (tokenizer.json) to find words; got {name}")
        self.sample = sample if sample is not None else Reservoir(choice.max_points or UNLIMITED, choice.seed)
        self.counts = CorpusCounts()

    def read(self, chunk: Sequence[Sentence]) -> None:
        """Count the chunk, tokenize the sentences that may hold points, and run the model on
        those with a point kept."""
        counts = self.counts
        numbered = list(enumerate(chunk, counts.sentences + 1))
        counts.sentences += len(chunk)
        counts.clipped += sum(s.clipped for s in chunk)
        _note(counts.clipped_lines, [s.line for s in chunk if s.clipped])
        if self.words:
            numbered = [(n, s) for n, s in numbered if mentions_any(s.text, self.words, lowercase=self.lowercase)]
        if not numbered:
            return
        texts = [clip_line(s.text, self.max_length) for _, s in numbered]
        lines = f"lines {numbered[0][1].line}-{numbered[-1][1].line}"
        try:
            encoded, cut = tokenize_chunk(self.tokenizer, texts, self.max_length, offsets=bool(self.words))
        except Exception as exc:  # a tokenizer that loads but cannot encode (its unk_token not in its vocab, say)
            raise ExportError(f"--sentences: the tokenizer failed on {lines}: {one_line(exc)}") from None
        counts.tokenized += len(texts)
        counts.cut += sum(cut)
        _note(counts.cut_lines, [s.line for (_, s), long in zip(numbered, cut, strict=True) if long])
        pending = [self._claim(encoded, row, texts[row], number, s) for row, (number, s) in enumerate(numbered)]
        # A later occurrence of the chunk may have taken an earlier one's place: those are skipped.
        live = [
            (row, short, kept)
            for row, short, claims in pending
            if (kept := [c for c in claims if self.sample.holds(c.ticket)])
        ]
        # Shortest first, so that each batch pads its sentences to about their own length.
        live.sort(key=lambda item: len(encoded["input_ids"][item[0]]))
        lengths = [len(encoded["input_ids"][row]) for row, _, _ in live]
        try:
            for batch in model_batches(lengths, BATCH_SIZE, BATCH_TOKENS):
                self._embed(encoded, [live[i] for i in batch])
        except Exception as exc:  # token ids beyond the model's table (a tokenizer of another model), say
            raise ExportError(f"--sentences: the model failed on {lines}: {one_line(exc)}") from None

    def _claim(
        self, encoded: BatchEncoding, row: int, text: str, number: int, sentence: Sentence
    ) -> tuple[int, str, list[_Claim]]:
        """Offer each point of one sentence to the sample; the places it got."""
        from projector_bundle.models.loader import readable_pieces

        claims = []
        tokens: list[str] = []
        for key, positions in row_points(encoded, row, text, self.words, self.lowercase, self.choice.keep_special):
            ticket = self.sample.slot(key)
            if ticket is None:
                continue
            ids = encoded["input_ids"][row]
            tokens = tokens or readable_pieces(self.vocabulary, self.tokenizer.convert_ids_to_tokens(ids))
            occurrence = Occurrence(" ".join(tokens[p] for p in positions), number, positions[0], key)
            claims.append(_Claim(ticket, occurrence, positions))
        return row, shorten(sentence.text) if claims else "", claims

    def _embed(self, encoded: BatchEncoding, rows: Sequence[tuple[int, str, list[_Claim]]]) -> None:
        """One model call over the sentences `rows`; their claimed points go into the sample."""
        inputs, _ = pad_right(
            {key: [encoded[key][row] for row, _, _ in rows] for key in encoded if key != "offset_mapping"},
            self.tokenizer.pad_token_id,
        )
        output = self.encoder(**{k: v.to(self.device) for k, v in inputs.items()}, output_hidden_states=True)
        pieces = [(i, c.positions) for i, (_, _, claims) in enumerate(rows) for c in claims]
        vectors = pool_states(output.hidden_states, self.layers, pieces)
        kept = [(c, short) for _, short, claims in rows for c in claims]
        for (claim, short), vector in zip(kept, vectors, strict=True):
            # A copy: a view would keep the whole batch's array alive after the point is dropped.
            self.sample.put(claim.ticket, _Point(claim.occurrence, short, vector.copy()))
        self.counts.embedded += len(rows)

    def result(self) -> ContextualEmbeddings:
        """The kept points in corpus order, a matrix per layer."""
        keys = self.sample.keys()
        self.counts.seen = {cast("str | None", key): self.sample.seen(key) for key in keys}  # the words, or None
        points = sorted(
            (p for key in keys for p in self.sample.items(key)),
            key=lambda p: (p.occurrence.sentence, p.occurrence.position),
        )
        dim = int(self.model.config.hidden_size)
        matrices = {
            layer: np.ascontiguousarray(
                np.stack([p.vectors[i] for p in points]) if points else np.zeros((0, dim)), dtype=np.float32
            )
            for i, layer in enumerate(self.layers)
        }
        texts = {p.occurrence.sentence: p.sentence for p in points}
        occurrences = [p.occurrence for p in points]
        return ContextualEmbeddings(occurrences, matrices, texts, self.max_length, self.counts, self.words)


def corpus_warnings(source: str, context: ContextualEmbeddings, max_points: int | None) -> list[str]:
    """What the user should know about a run over the corpus: lines clipped or cut, words
    never found, and how many occurrences a --max-points sample kept of those it saw."""
    counts = context.counts
    where = f"--sentences {source}"
    messages = [
        clipped_warning(source, counts.clipped_lines, counts.clipped),
        truncation_message(source, counts.cut_lines, counts.cut, counts.tokenized, context.max_tokens),
    ]
    missing = [w for w in context.words if w not in counts.seen]
    if missing and len(missing) < len(context.words):
        names = ", ".join(map(repr, missing))
        messages.append(f"--words: {names} {'occurs' if len(missing) == 1 else 'occur'} nowhere in {where}")
    kept: dict[str | None, int] = {}
    for o in context.occurrences:
        kept[o.word] = kept.get(o.word, 0) + 1
    for key, seen in counts.seen.items():
        if max_points is not None and seen > kept.get(key, 0):
            what = f"occurrences of {key!r}" if key is not None else "token occurrences"
            messages.append(
                f"--max-points {max_points:,}: kept {kept.get(key, 0):,} of the {seen:,} {what} "
                "in a seeded uniform sample"
            )
    return [m for m in messages if m]


def _note(listed: list[int], lines: Sequence[int]) -> None:
    """Add to the first LISTED_LINES line numbers a warning names."""
    listed += lines[: max(0, LISTED_LINES - len(listed))]


def tokenize_chunk(
    tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], max_length: int, *, offsets: bool
) -> tuple[BatchEncoding, list[bool]]:
    """The texts tokenized and cut to `max_length` tokens, and which of them were cut."""
    encoded = tokenizer(
        list(texts),
        truncation=True,
        max_length=max_length,
        return_special_tokens_mask=True,
        return_offsets_mapping=offsets,
    )
    if encoded.encodings is not None:  # a fast tokenizer keeps what truncation cut off
        return encoded, [bool(e.overflowing) for e in encoded.encodings]
    return encoded, [len(ids) > max_length for ids in tokenizer(list(texts))["input_ids"]]


def row_points(
    encoded: BatchEncoding, row: int, text: str, words: Sequence[str], lowercase: bool, keep_special: bool
) -> list[tuple[str | None, tuple[int, ...]]]:
    """The points of one tokenized sentence as (word, token positions): every token (key None),
    or each occurrence of `words` with the positions of its pieces."""
    if words:
        found = match_words(text, encoded.word_ids(row), encoded["offset_mapping"][row], words, lowercase=lowercase)
        return [(m.word, m.positions) for m in found if m.positions]
    special = encoded["special_tokens_mask"][row]
    return [(None, (p,)) for p, is_special in enumerate(special) if keep_special or not is_special]


def model_batches(lengths: Sequence[int], max_sentences: int, max_tokens: int) -> list[list[int]]:
    """Consecutive groups of indices, each of at most `max_sentences` and, padded to its longest,
    at most `max_tokens` tokens; a sentence longer than that goes alone."""
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for index, length in enumerate(lengths):
        wider = max(longest, length)
        if current and (len(current) == max_sentences or wider * (len(current) + 1) > max_tokens):
            batches.append(current)
            current, wider = [], length
        current.append(index)
        longest = wider
    if current:
        batches.append(current)
    return batches


def pool_states(
    hidden_states: Sequence[torch.Tensor], layers: Sequence[int], pieces: Sequence[tuple[int, tuple[int, ...]]]
) -> np.ndarray:
    """Per point (row, piece positions), each layer's state averaged over its pieces, gathered
    where the model ran: (points, layers, dim) float32 on the CPU. One piece is its state exactly."""
    import torch

    width, device = hidden_states[0].shape[1], hidden_states[0].device
    index = torch.tensor([row * width + p for row, positions in pieces for p in positions], device=device)
    owner = torch.tensor([i for i, (_, positions) in enumerate(pieces) for _ in positions], device=device)
    sizes = torch.tensor([float(len(positions)) for _, positions in pieces], device=device)
    pooled = []
    for layer in layers:
        states = hidden_states[layer].flatten(0, 1)[index].float()
        sums = torch.zeros(len(pieces), states.shape[1], device=device).index_add_(0, owner, states)
        pooled.append(sums / sizes[:, None])
    return torch.stack(pooled, dim=1).cpu().numpy()


def pad_right(
    encoded: Mapping[str, list[list[int]]], pad_id: int | None
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """The model's inputs as tensors padded on the right (pad id, else 0: the mask hides it), and the
    special-tokens mask (padding counts as special)."""
    import torch

    longest = max(len(ids) for ids in encoded["input_ids"])
    fill = {"input_ids": 0 if pad_id is None else pad_id, "attention_mask": 0, "special_tokens_mask": 1}
    padded = {
        key: torch.tensor([row + [fill.get(key, 0)] * (longest - len(row)) for row in rows])
        for key, rows in encoded.items()
        if key in (*fill, "token_type_ids")
    }
    special = padded.pop("special_tokens_mask").bool()
    return padded, special


def context_rows(
    occurrences: Iterable[Occurrence], sentences: Mapping[int, str], layer: int, *, words: bool = False
) -> list[list[str]]:
    """Raw metadata cells (`ContextualEmbeddings.header` order) for one layer's tensor;
    `sentences` maps each sentence number to its shortened text."""
    return [
        [
            *([o.word or ""] if words else []),
            o.token,
            str(o.sentence),
            str(o.position),
            sentences[o.sentence],
            str(layer),
        ]
        for o in occurrences
    ]
