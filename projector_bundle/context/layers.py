"""`--layer` values: layer numbers, or "all" for every hidden state."""

from __future__ import annotations

from collections.abc import Sequence

ALL_LAYERS = "all"


def parse_layer_text(text: str) -> list[int | str]:
    """One `--layer` value: "all", or layer numbers separated by commas (ValueError otherwise)."""
    if text.strip().lower() == ALL_LAYERS:
        return [ALL_LAYERS]
    return [int(part) for part in text.split(",") if part.strip()] or [int(text)]


def expand_layers(requested: Sequence[int | str], count: int) -> list[int]:
    """The requested layers with "all" replaced by every hidden state, 0 (the embedding output) to `count`;
    repeats are left for `contextual.check_layers` to drop."""
    layers: list[int] = []
    for item in requested:
        layers += range(count + 1) if item == ALL_LAYERS else [int(item)]
    return layers
