"""Run a model over texts and pool each text's token states into one vector, as `Pooling` says.

For a sentence-transformers folder this gives what `SentenceTransformer.encode` gives
(tests/test_textvectors.py checks it against the library): the same truncation
(max_seq_length), prompt, pooling formulas and normalisation, run on the transformer's
last hidden state (or the `--layer` asked for).

Speed: texts go longest first, in batches padded to their own longest, so little padding
is computed; each batch is tokenized in one call, pooled by tensor operations (no Python
per token), and its vectors are written into their rows of one preallocated matrix, so
order is restored without a copy and memory holds the result plus one batch. Under
torch.inference_mode, on CUDA when present.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from projector_bundle import ExportError
from projector_bundle.context.sentences import clip_line, model_max_tokens
from projector_bundle.models.pooling import CLS, LAST_TOKEN, MAX, MEAN, MEAN_SQRT, WEIGHTED_MEAN, Pooling
from projector_bundle.text import one_line

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

# Texts per model call: sentence-transformers' default batch size, which it tunes for CPUs
# and small GPUs alike; sorted by length, padding stays small.
BATCH_SIZE = 32


@dataclass(frozen=True)
class TextVectors:
    """A vector per text (per layer asked for), and what truncation did."""

    layers: dict[int | None, np.ndarray]  # layer (None: the last hidden state) -> (texts, dim) float32
    max_tokens: int
    truncated: int  # texts longer than max_tokens, cut to it
    truncated_rows: tuple[int, ...] = ()  # their indices (the first few)


def embed_texts(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    pooling: Pooling,
    layers: Sequence[int | None] = (None,),
    *,
    batch_size: int = BATCH_SIZE,
    advance: Callable[[int], None] = lambda done: None,
) -> TextVectors:
    """One vector per text for each of `layers` (None: the last hidden state, as sentence-transformers reads it)."""
    import torch

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = model.to(device).eval()
    encoder = model.get_encoder() if getattr(model.config, "is_encoder_decoder", False) else model
    max_tokens = pooling.max_tokens or model_max_tokens(
        tokenizer.model_max_length, getattr(model.config, "max_position_embeddings", None)
    )
    prepare_tokenizer(tokenizer, pooling)
    prompt_length = measure_prompt(tokenizer, pooling.prompt) if pooling.prompt and not pooling.include_prompt else 0
    # Longest first, as sentence-transformers orders them; the matrix rows restore the order.
    order = np.argsort([-len(t) for t in texts], kind="stable")
    hidden = hidden_width(model)
    width = hidden * len(pooling.modes)
    matrices = {layer: np.empty((len(texts), width), dtype=np.float32) for layer in layers}
    truncated: list[int] = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            batch = [pooling.prompt + clip_line(texts[i], max_tokens) for i in rows]
            try:
                encoded = tokenizer(batch, padding=True, truncation=True, max_length=max_tokens, return_tensors="pt")
            except Exception as exc:  # a tokenizer that loads but cannot encode
                raise ExportError(f"--texts: the tokenizer failed on a text: {one_line(exc)}") from None
            if encoded.encodings is not None:  # a fast tokenizer keeps what truncation cut off
                truncated += [int(i) for i, e in zip(rows, encoded.encodings, strict=True) if e.overflowing]
            inputs = {
                k: v.to(device) for k, v in encoded.items() if k in ("input_ids", "attention_mask", "token_type_ids")
            }
            want_layers = any(layer is not None for layer in layers)
            try:
                output = encoder(**inputs, output_hidden_states=want_layers)
            except Exception as exc:  # token ids beyond the model's table, say
                raise ExportError(f"--texts: the model failed on a batch of texts: {one_line(exc)}") from None
            mask = inputs["attention_mask"]
            for layer, matrix in matrices.items():
                states = output.last_hidden_state if layer is None else output.hidden_states[layer]
                vectors = pool(states, mask, pooling.modes, prompt_length)
                if pooling.normalize:
                    vectors = torch.nn.functional.normalize(vectors, p=2, dim=1)
                matrix[rows] = vectors.float().cpu().numpy()
            advance(len(rows))
    return TextVectors(matrices, max_tokens, len(truncated), tuple(sorted(truncated)[:5]))


def hidden_width(model: PreTrainedModel) -> int:
    config = model.config
    for key in ("hidden_size", "d_model", "n_embd", "dim"):
        value = getattr(config, key, None)
        if isinstance(value, int):
            return value
    raise ExportError(f"the model states no hidden size ({type(model).__name__})")


def prepare_tokenizer(tokenizer: PreTrainedTokenizerBase, pooling: Pooling) -> None:
    """Padding on the right with any id (the attention mask hides it), and case folded first
    when the sentence-transformers config asks (do_lower_case), as that library does."""
    tokenizer.padding_side = "right"
    if tokenizer.pad_token_id is None:
        # GPT-2 and Llama have no padding token; which id fills the padding does not matter.
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token or tokenizer.convert_ids_to_tokens(0)
    if pooling.lowercase:
        lowercase_first(tokenizer)


def lowercase_first(tokenizer: PreTrainedTokenizerBase) -> None:
    """Put a Lowercase step in front of the tokenizer's normalizer, unless it already folds case."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        tokenizer.do_lower_case = True
        return
    from tokenizers import normalizers

    current = backend.normalizer
    if current is not None and current.normalize_str("A") == "a":
        return
    steps = [normalizers.Lowercase()] + ([current] if current is not None else [])
    backend.normalizer = normalizers.Sequence(steps)


def measure_prompt(tokenizer: PreTrainedTokenizerBase, prompt: str) -> int:
    """The prompt's length in tokens without a trailing special token (as sentence-transformers counts it)."""
    ids = tokenizer([prompt])["input_ids"][0]
    return len(ids) - 1 if ids and ids[-1] in set(tokenizer.all_special_ids) else len(ids)


def pool(states: torch.Tensor, mask: torch.Tensor, modes: Sequence[str], prompt_length: int = 0) -> torch.Tensor:
    """Each row's token states (batch, tokens, dim) pooled by `modes`, concatenated: the formulas
    of sentence-transformers' Pooling module, on right-padded batches."""
    import torch

    if prompt_length:
        mask = mask.clone()
        mask[:, :prompt_length] = 0
    weights = mask.unsqueeze(-1).to(states.dtype)
    rows = torch.arange(states.shape[0], device=states.device)
    out = []
    for mode in modes:
        if mode == CLS:  # the first pooled token: the first of the text, after a prompt left out
            out.append(states[rows, mask.int().argmax(dim=1)])
        elif mode == MAX:
            out.append(states.masked_fill(weights == 0, float("-inf")).max(dim=1).values)
        elif mode in (MEAN, MEAN_SQRT):
            total = (states * weights).sum(dim=1)
            count = torch.clamp(weights.sum(dim=1), min=1e-9)
            out.append(total / (count if mode == MEAN else torch.sqrt(count)))
        elif mode == WEIGHTED_MEAN:
            position = torch.arange(1, states.shape[1] + 1, device=states.device, dtype=states.dtype).view(1, -1, 1)
            weighted = weights * position
            out.append((states * weighted).sum(dim=1) / torch.clamp(weighted.sum(dim=1), min=1e-9))
        elif mode == LAST_TOKEN:  # the last token the mask keeps
            last = states.shape[1] - 1 - mask.flip(1).int().argmax(dim=1)
            out.append(states[rows, last])
        else:
            raise ExportError(f"pooling mode {mode!r}: unknown")
    return torch.cat(out, dim=-1)
