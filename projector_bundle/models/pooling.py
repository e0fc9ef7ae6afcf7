"""How a model turns a text's token states into one vector: its own prescription, or ours.

A sentence-transformers folder prescribes it in `modules.json`: the Transformer module's
`sentence_bert_config.json` (max_seq_length, do_lower_case), a Pooling module's
`config.json` (cls, max, mean, mean_sqrt_len_tokens, weightedmean, lasttoken; several
are concatenated in that order), a Normalize module, and `config_sentence_transformers.json`
(prompts, default_prompt_name). `read_pooling` reads all of that into one `Pooling`.

Any other model takes `--pooling` or the default of its architecture: the mean of the
tokens for an encoder (BERT and kin), the encoder's mean for an encoder-decoder (T5,
BART), the last token for a decoder-only model (GPT-2, Llama), whose last position is the
only one that has seen the whole text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from projector_bundle import ExportError
from projector_bundle.models.modeljson import ModelFileError, read_json, read_json_object, shown

# `--pooling` choices, and the sentence-transformers modes they share names with.
MEAN, CLS, MAX, LAST = "mean", "cls", "max", "last"
POOLING_MODES = (MEAN, CLS, MAX, LAST)
MEAN_SQRT, WEIGHTED_MEAN, LAST_TOKEN = "mean_sqrt_len_tokens", "weightedmean", "lasttoken"
# sentence-transformers' modes, in the order its Pooling module concatenates them.
ST_MODES = (CLS, MAX, MEAN, MEAN_SQRT, WEIGHTED_MEAN, LAST_TOKEN)
# Its older configs give one boolean per mode.
ST_LEGACY_KEYS = {
    "pooling_mode_cls_token": CLS,
    "pooling_mode_max_tokens": MAX,
    "pooling_mode_mean_tokens": MEAN,
    "pooling_mode_mean_sqrt_len_tokens": MEAN_SQRT,
    "pooling_mode_weightedmean_tokens": WEIGHTED_MEAN,
    "pooling_mode_lasttoken": LAST_TOKEN,
}
# Our names for theirs.
FROM_FLAG = {MEAN: MEAN, CLS: CLS, MAX: MAX, LAST: LAST_TOKEN}

MODULES_JSON = "modules.json"
ST_PREFIX = "sentence_transformers.models."
TRANSFORMER, POOLING, NORMALIZE = "Transformer", "Pooling", "Normalize"
ST_TRANSFORMER_CONFIG = "sentence_bert_config.json"
ST_MODEL_CONFIG = "config_sentence_transformers.json"


@dataclass(frozen=True)
class Pooling:
    """Everything between the text and its vector, besides the model itself."""

    modes: tuple[str, ...]  # sentence-transformers mode names, concatenated in this order
    normalize: bool = False  # unit length (a Normalize module)
    max_tokens: int | None = None  # max_seq_length; None is the model's own limit
    lowercase: bool = False  # do_lower_case: the tokenizer folds case first
    prompt: str = ""  # prepended to every text (the default prompt)
    include_prompt: bool = True  # whether the prompt's tokens are pooled too
    source: str = "default"  # where it came from, for the progress line: "modules.json", "--pooling", ...

    def describe(self) -> str:
        parts = ["+".join(self.modes)]
        if self.normalize:
            parts.append("normalised")
        if self.max_tokens is not None:
            parts.append(f"at most {self.max_tokens} tokens")
        if self.prompt:
            parts.append(f"prompt {self.prompt!r}")
        return f"{', '.join(parts)} ({self.source})"


def read_pooling(folder: Path | None, flag: str | None, *, decoder_only: bool) -> Pooling:
    """The pooling of the model whose sentence-transformers root is `folder` (None: not one),
    with `--pooling` (`flag`) overriding the modes it prescribes."""
    prescribed = read_st_pooling(folder) if folder is not None else None
    if flag is not None:
        base = prescribed or Pooling((MEAN,))
        return Pooling(
            (FROM_FLAG[flag],),
            base.normalize,
            base.max_tokens,
            base.lowercase,
            base.prompt,
            base.include_prompt,
            "--pooling",
        )
    if prescribed is not None:
        return prescribed
    if decoder_only:
        return Pooling((LAST_TOKEN,), source="the default for a decoder-only model")
    return Pooling((MEAN,), source="the default for an encoder")


def read_st_pooling(folder: Path) -> Pooling | None:
    """What a sentence-transformers folder prescribes, or None when it has no Pooling module."""
    file = folder / MODULES_JSON
    modules = read_json(file)
    if not isinstance(modules, list) or not all(isinstance(m, dict) for m in modules):
        raise ModelFileError(file, f"must be a list of module objects, got {shown(modules)}")
    kinds = [(str(m.get("type", "")).removeprefix(ST_PREFIX).rsplit(".", 1)[-1], m.get("path", "")) for m in modules]
    pooling = next((path for kind, path in kinds if kind == POOLING), None)
    if pooling is None:
        return None
    unknown = [kind for kind, _ in kinds if kind not in (TRANSFORMER, POOLING, NORMALIZE)]
    if unknown:
        raise ExportError(
            f"--model {folder.name}: {MODULES_JSON} lists a {unknown[0]} module, which export.py does not apply; "
            "its vectors would not be the model's (give --pooling to pool the transformer's states yourself)"
        )
    config = read_json_object(folder / str(pooling) / "config.json")
    modes = _pooling_modes(config, folder / str(pooling) / "config.json")
    transformer = next((path for kind, path in kinds if kind == TRANSFORMER), "")
    st_config = folder / str(transformer) / ST_TRANSFORMER_CONFIG
    settings = read_json_object(st_config) if st_config.is_file() else {}
    max_tokens = settings.get("max_seq_length")
    model_config = read_json_object(folder / ST_MODEL_CONFIG) if (folder / ST_MODEL_CONFIG).is_file() else {}
    prompts = model_config.get("prompts") or {}
    default = model_config.get("default_prompt_name")
    prompt = prompts.get(default, "") if isinstance(prompts, dict) and isinstance(default, str) else ""
    return Pooling(
        modes=modes,
        normalize=any(kind == NORMALIZE for kind, _ in kinds),
        max_tokens=max_tokens if isinstance(max_tokens, int) and max_tokens > 0 else None,
        lowercase=bool(settings.get("do_lower_case", False)),
        prompt=prompt if isinstance(prompt, str) else "",
        include_prompt=bool(config.get("include_prompt", True)),
        source=MODULES_JSON,
    )


def _pooling_modes(config: dict[str, object], file: Path) -> tuple[str, ...]:
    """The modes of a Pooling config, new style (`pooling_mode`) or old (one boolean per mode)."""
    given = config.get("pooling_mode")
    if given is not None:
        modes = (given,) if isinstance(given, str) else tuple(given) if isinstance(given, list) else ()
    else:
        modes = tuple(mode for key, mode in ST_LEGACY_KEYS.items() if config.get(key)) or (MEAN,)
    bad = [m for m in modes if m not in ST_MODES]
    if bad or not modes:
        raise ModelFileError(file, f"pooling_mode must be one of {', '.join(ST_MODES)}, got {shown(given)}")
    # Concatenated in sentence-transformers' order, whatever order the config lists them in.
    return tuple(m for m in ST_MODES if m in modes) if given is None else modes
