"""Property tests for the readers of model files: for any header, config or tokenizer file they
return, or raise the one `ModelFileError` that names the file, never another exception; a
safetensors header is accepted exactly when safetensors itself accepts it; and the whole
command, on a tiny real model with one file fuzzed, ends in success or one `error:` line.
"""

from __future__ import annotations

import json
import shutil
import struct
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projector_bundle import cli
from projector_bundle.models.checkpoint import (
    DTYPE_BITS,
    EXTRA_SPECIAL,
    NAMED_SPECIAL,
    WIDTH_KEYS,
    check_declared_size,
    check_tokenizer_files,
    list_stored_tensors,
    read_config,
    read_safetensors_header,
    read_special_tokens,
    read_tokenizer_json,
    weight_files,
)
from projector_bundle.models.modeljson import ModelFileError

FEW = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# The whole command loads a model per example: fewer of them.
WHOLE = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["F32", "BF16", "[CLS]", "WordPiece", "BPE", "Unigram", "../x", "content"])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=24,
)


# Tokens as the tokenizer configs write them: strings, or AddedToken objects, right or nearly.
tokens = st.sampled_from(["[CLS]", "[SEP]", "<x>", ""]) | st.fixed_dictionaries(
    {"content": st.sampled_from(["[CLS]", "<x>"]) | scalars},
    optional={"__type": st.just("AddedToken") | scalars, "lstrip": st.booleans() | scalars, "special": st.booleans()},
)
token_values = tokens | st.lists(tokens, max_size=3) | st.dictionaries(st.sampled_from(["a", "b"]), tokens, max_size=2)


@contextmanager
def model_copy(tiny_model: Path) -> Iterator[Path]:
    """A fresh copy of the tiny model per example (function-scoped fixtures are not reset between them)."""
    with tempfile.TemporaryDirectory() as folder:
        model = Path(folder) / "model"
        shutil.copytree(tiny_model, model)
        yield model


def refused_by_safetensors(file: Path) -> bool:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(file, "np"):
            return False
    except SafetensorError:
        return True


def check_header_agrees(file: Path) -> None:
    """Our reader accepts a safetensors file exactly when safetensors does, and fails only as ModelFileError."""
    try:
        read_safetensors_header(file)
        ours = False
    except ModelFileError as exc:
        assert exc.file == file and "\n" not in str(exc)
        ours = True
    assert ours == refused_by_safetensors(file), file.read_bytes()[:300]


# --- safetensors headers ---


@FEW
@given(data=st.binary(max_size=80))
def test_any_bytes_as_a_safetensors_file(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / "model.safetensors"
        file.write_bytes(data)
        check_header_agrees(file)


@st.composite
def headers(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """A header of a few tensors laid out as safetensors lays them out, then perhaps one entry
    moved by a few bytes (so that it shares bytes with a neighbour, or leaves a gap) or one field
    of one entry replaced (by any JSON value, or an integer near the end), and a body that ends
    where the last tensor ends, or a byte before or after."""
    header: dict[str, dict[str, object]] = {}
    position = 0
    for i in range(draw(st.integers(0, 4))):
        dtype = draw(st.sampled_from(sorted(DTYPE_BITS)))
        shape = draw(st.lists(st.integers(0, 5) | st.integers(1, 5), max_size=3))
        bits = DTYPE_BITS[dtype]
        for n in shape:
            bits *= n
        size = bits // 8 if bits % 8 == 0 else draw(st.integers(0, 8))
        header[f"t{i}"] = {"dtype": dtype, "shape": shape, "data_offsets": [position, position + size]}
        position += size
    mutation = draw(st.sampled_from(["none", "move", "field", "entry"])) if header else "none"
    if mutation == "move":
        last = draw(st.booleans())  # the last one, moved back, shares bytes without leaving a gap
        entry = header[sorted(header)[-1] if last else draw(st.sampled_from(sorted(header)))]
        begin, end = entry["data_offsets"]  # type: ignore[misc]
        shift = draw(st.integers(-4, -1) if last else st.integers(-4, 4))
        entry["data_offsets"] = [max(0, begin + shift), max(0, begin + shift) + end - begin]
    elif mutation == "field":
        entry = header[draw(st.sampled_from(sorted(header)))]
        near = st.integers(-2, 2).map(lambda d: position + d)
        field = draw(st.sampled_from(["dtype", "shape", "data_offsets", "other"]))
        entry[field] = draw(json_values | near | st.lists(near, min_size=2, max_size=2))
    content: dict[str, object] = dict(header)
    if mutation == "entry":
        content[draw(st.sampled_from(sorted(header)))] = draw(json_values)
    if draw(st.booleans()):
        content["__metadata__"] = draw(st.none() | st.dictionaries(st.text(max_size=5), scalars, max_size=2))
    spans = [e.get("data_offsets") for e in header.values()]
    ends = [s[1] for s in spans if isinstance(s, list) and len(s) == 2 and isinstance(s[1], int) and 0 <= s[1] < 2**20]
    last = max(ends, default=position)
    body = b"\0" * max(0, last + draw(st.sampled_from([0, 0, 0, 1, -1])))
    return json.dumps(content).encode(), body


@FEW
@given(header=headers())
def test_any_header_is_accepted_exactly_when_safetensors_accepts_it(header: tuple[bytes, bytes]) -> None:
    raw, body = header
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / "model.safetensors"
        file.write_bytes(struct.pack("<Q", len(raw)) + raw + body)
        check_header_agrees(file)


@FEW
@given(data=st.data())
def test_the_tiny_models_header_mutated(data: st.DataObject, tiny_model: Path) -> None:
    """One field of one entry of a real header replaced by any JSON value: both readers agree."""
    original = (tiny_model / "model.safetensors").read_bytes()
    (length,) = struct.unpack("<Q", original[:8])
    header = json.loads(original[8 : 8 + length])
    name = data.draw(st.sampled_from(sorted(header)))
    key = data.draw(st.sampled_from([*sorted(header[name]), "other"]))
    header[name][key] = data.draw(json_values)
    raw = json.dumps(header).encode()
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / "model.safetensors"
        file.write_bytes(struct.pack("<Q", len(raw)) + raw + original[8 + length :])
        check_header_agrees(file)


# --- JSON files: config.json, tokenizer configs, tokenizer.json, the shard index ---


def fails_cleanly(read: Callable[[], object], file: Path) -> None:
    """`read()` returns, or raises ModelFileError naming `file` on one line; nothing else."""
    try:
        read()
    except ModelFileError as exc:
        assert exc.file == file
        assert "\n" not in str(exc) and "\r" not in str(exc)


def merged(
    content: dict, keys: list[str], values: st.SearchStrategy[object] = json_values
) -> st.SearchStrategy[object]:
    """`content` with some of `keys` set to any of `values`, or any JSON value in its place."""
    changes = st.dictionaries(st.sampled_from(keys), values, min_size=1, max_size=3)
    return changes.map(lambda c: {**content, **c}) | json_values


CONFIG_KEYS = ["vocab_size", *WIDTH_KEYS, "model_type", "auto_map", "other"]
TOKENIZER_CONFIG_KEYS = [*NAMED_SPECIAL, *EXTRA_SPECIAL, "added_tokens_decoder", "tokenizer_class", "other"]


@FEW
@given(data=st.data())
def test_any_json_as_config(data: st.DataObject, tiny_model: Path) -> None:
    config = json.loads((tiny_model / "config.json").read_text())
    with model_copy(tiny_model) as model:
        (model / "config.json").write_text(json.dumps(data.draw(merged(config, CONFIG_KEYS))))

        def read() -> None:
            check_declared_size(read_config(model), weight_files(model), model / "config.json")

        fails_cleanly(read, model / "config.json")


@FEW
@given(data=st.data())
def test_any_json_as_tokenizer_config(data: st.DataObject, tiny_model: Path) -> None:
    config = json.loads((tiny_model / "tokenizer_config.json").read_text())
    with model_copy(tiny_model) as model:
        file = model / "tokenizer_config.json"
        file.write_text(json.dumps(data.draw(merged(config, TOKENIZER_CONFIG_KEYS, json_values | token_values))))
        fails_cleanly(lambda: check_tokenizer_files(model), file)
        fails_cleanly(lambda: read_special_tokens(model), file)


@FEW
@given(data=st.data())
def test_any_json_as_special_tokens_map(data: st.DataObject, tiny_model: Path) -> None:
    with model_copy(tiny_model) as model:
        file = model / "special_tokens_map.json"
        content = merged({"cls_token": "[CLS]"}, TOKENIZER_CONFIG_KEYS, json_values | token_values)
        file.write_text(json.dumps(data.draw(content)))
        fails_cleanly(lambda: read_special_tokens(model), file)


@FEW
@given(data=st.data())
def test_any_json_in_tokenizer_json(data: st.DataObject, tiny_model: Path) -> None:
    described = json.loads((tiny_model / "tokenizer.json").read_text())
    where = data.draw(st.sampled_from(["model", "top", "added_tokens", "normalizer"]))
    if where == "model":
        keys = ["type", "vocab", "unk_token", "continuing_subword_prefix", "byte_fallback", "other"]
        described["model"] = data.draw(merged(described["model"], keys))
    elif where == "top":
        described = data.draw(merged(described, ["model", "added_tokens", "pre_tokenizer", "decoder"]))
    else:
        described[where] = data.draw(json_values)
    with model_copy(tiny_model) as model:
        file = model / "tokenizer.json"
        file.write_text(json.dumps(described))
        fails_cleanly(lambda: read_tokenizer_json(file), file)


@FEW
@given(weight_map=json_values | st.dictionaries(st.text(max_size=8), json_values | st.just("model.safetensors")))
def test_any_weight_map(weight_map: object, tiny_model: Path) -> None:
    with model_copy(tiny_model) as model:
        (model / "model.safetensors").rename(model / "shard.safetensors")
        index = model / "model.safetensors.index.json"
        index.write_text(json.dumps({"weight_map": weight_map}))
        fails_cleanly(lambda: list_stored_tensors(model), index)


# --- the whole command, on a tiny model with one file fuzzed ---


def fuzz_header(data: st.DataObject, model: Path) -> None:
    file = model / "model.safetensors"
    original = file.read_bytes()
    (length,) = struct.unpack("<Q", original[:8])
    header = json.loads(original[8 : 8 + length])
    name = data.draw(st.sampled_from(sorted(header)))
    key = data.draw(st.sampled_from(sorted(header[name])))
    header[name][key] = data.draw(json_values)
    raw = json.dumps(header).encode()
    file.write_bytes(struct.pack("<Q", len(raw)) + raw + original[8 + length :])


def fuzz_json(
    name: str, keys: list[str], values: st.SearchStrategy[object] = json_values
) -> Callable[[st.DataObject, Path], None]:
    def fuzz(data: st.DataObject, model: Path) -> None:
        content = json.loads((model / name).read_text())
        (model / name).write_text(json.dumps(data.draw(merged(content, keys, values))))

    return fuzz


TOKENIZER_JSON_KEYS = ["model", "added_tokens", "normalizer", "pre_tokenizer", "decoder", "other"]
FUZZED = {
    "model.safetensors": fuzz_header,
    "config.json": fuzz_json("config.json", CONFIG_KEYS),
    "tokenizer_config.json": fuzz_json("tokenizer_config.json", TOKENIZER_CONFIG_KEYS, json_values | token_values),
    "special_tokens_map.json": fuzz_json("special_tokens_map.json", TOKENIZER_CONFIG_KEYS, json_values | token_values),
    "tokenizer.json": fuzz_json("tokenizer.json", TOKENIZER_JSON_KEYS),
}
# What each command reads of them: tokenize never the weights, inspect never the tokenizer.
COMMANDS = {
    "bundle": ["--out", "{folder}/site", "--quiet"],
    "tokenize": ["hello world"],
    "inspect": [],
}
READS = {
    "model.safetensors": ("bundle", "inspect"),
    "config.json": ("bundle", "tokenize", "inspect"),
    "tokenizer_config.json": ("bundle", "tokenize"),
    "special_tokens_map.json": ("bundle", "tokenize"),
    "tokenizer.json": ("bundle", "tokenize"),
}


@pytest.mark.parametrize(("name", "command"), [(n, c) for n, commands in sorted(READS.items()) for c in commands])
@WHOLE
@given(data=st.data())
def test_the_command_on_a_fuzzed_model_file(
    name: str, command: str, data: st.DataObject, tiny_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with model_copy(tiny_model) as model:
        if not (model / name).exists():
            (model / name).write_text("{}")
        FUZZED[name](data, model)
        capsys.readouterr()
        extra = [arg.format(folder=model.parent) for arg in COMMANDS[command]]
        code = cli.main([command, "--model", str(model), *extra])
        err = capsys.readouterr().err
        if code != 0:
            assert code == 1 and "Traceback" not in err
            [line] = err.splitlines()
            assert line.startswith("error: ") and name in line, line
