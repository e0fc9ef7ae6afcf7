"""Contextual embeddings: run the model over sentences, one point per token occurrence.

The static word-piece table says what "bank" is before the model reads anything;
the hidden states of a layer say what the model made of each "bank" in its sentence.
torch is imported inside `embed_sentences` only; the rest is pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from . import ExportError
from .sentences import clip_line, model_max_tokens

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

# Metadata columns of a contextual tensor, in order. "Sentence #" and "Layer" are
# there to colour by; "Sentence" is shortened so the inspector stays readable.
CONTEXT_HEADER = ("Token", "Sentence #", "Position", "Sentence", "Layer")
SENTENCE_CHARS = 60
ELLIPSIS = "…"
BATCH_SIZE = 32


@dataclass(frozen=True)
class Occurrence:
    """One token of one sentence: the piece, which sentence (from 1), where in it ([CLS] is 0)."""

    token: str
    sentence: int
    position: int


@dataclass(frozen=True)
class ContextualEmbeddings:
    """Per requested layer, one row per occurrence; `token_counts` (with special tokens,
    before truncation) above `max_tokens` mark sentences that lost their tail."""

    occurrences: list[Occurrence]
    layers: dict[int, np.ndarray]
    token_counts: list[int]
    max_tokens: int


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
        raise ExportError(
            f"--layer {bad[0]}: {model_name} has layers 0 (the embedding output) to {count}, got {bad[0]}"
        )
    return list(dict.fromkeys(layers))


def embed_sentences(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    sentences: Sequence[str],
    layers: Sequence[int],
    *,
    keep_special: bool = False,
    batch_size: int = BATCH_SIZE,
) -> ContextualEmbeddings:
    """Hidden states of `layers` for every (non-special) token of every sentence.

    Batched under inference mode, on CUDA when present. Each sentence is tokenized alone and
    padded here on the right with an attention mask, so models without a padding token (GPT-2,
    Llama) batch too, and no real token sits after padding or sees it, which makes every state
    the one the sentence gets alone. An encoder-decoder model (T5, BART) runs its encoder only.
    """
    import torch

    from .model import readable_pieces, tokenizer_vocabulary

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = model.to(device).eval()
    vocabulary = tokenizer_vocabulary(tokenizer)
    encoder = model.get_encoder() if getattr(model.config, "is_encoder_decoder", False) else model
    max_length = model_max_tokens(tokenizer.model_max_length, getattr(model.config, "max_position_embeddings", None))
    occurrences: list[Occurrence] = []
    chunks: dict[int, list[np.ndarray]] = {layer: [] for layer in layers}
    token_counts: list[int] = []
    with torch.inference_mode():
        for start in range(0, len(sentences), batch_size):
            # A multi-megabyte line would cost the tokenizer dearly for tokens it then drops.
            batch = [clip_line(s, max_length) for s in sentences[start : start + batch_size]]
            token_counts += [len(ids) for ids in tokenizer(batch, add_special_tokens=True)["input_ids"]]
            encoded = tokenizer(batch, truncation=True, max_length=max_length, return_special_tokens_mask=True)
            inputs, special = pad_right(encoded, tokenizer.pad_token_id)
            keep = inputs["attention_mask"].bool() & (torch.ones_like(special) if keep_special else ~special)
            output = encoder(**{k: v.to(device) for k, v in inputs.items()}, output_hidden_states=True)
            for layer in layers:
                states = output.hidden_states[layer].float().cpu()
                chunks[layer].append(states[keep].numpy())
            for row, ids in enumerate(encoded["input_ids"]):
                tokens = readable_pieces(vocabulary, tokenizer.convert_ids_to_tokens(ids))
                positions = keep[row].nonzero().flatten().tolist()
                occurrences.extend(Occurrence(tokens[p], start + row + 1, p) for p in positions)
    dim = int(model.config.hidden_size)
    matrices = {
        layer: np.ascontiguousarray(np.concatenate(parts) if parts else np.zeros((0, dim)), dtype=np.float32)
        for layer, parts in chunks.items()
    }
    return ContextualEmbeddings(occurrences, matrices, token_counts, max_length)


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


def context_rows(occurrences: Iterable[Occurrence], sentences: Sequence[str], layer: int) -> list[list[str]]:
    """Raw metadata cells (`CONTEXT_HEADER` order) for one layer's tensor."""
    short = [shorten(s) for s in sentences]
    return [[o.token, str(o.sentence), str(o.position), short[o.sentence - 1], str(layer)] for o in occurrences]
