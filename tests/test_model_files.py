"""Malformed model files: each reader checks structure and types before use, so every such file
fails as one `error:` line naming the file and what is wrong, exit 1, no traceback, the previous
bundle untouched; a header that declares more than its file holds fails before anything is allocated.

Each case damages one file of a tiny real BERT and runs every command that reads that file.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from support import ROOT, leftovers, run_failing, snapshot

from projector_bundle.models.checkpoint import ADDED_TOKEN_FLAGS
from projector_bundle.models.modeljson import MAX_JSON_DEPTH, ModelFileError, parse_json, read_text

WORD = "embeddings.word_embeddings.weight"
POSITION = "embeddings.position_embeddings.weight"
DEEP = "[" * 100_000 + "]" * 100_000
# The attack's numbers: a 7 KB header that declares a billion rows, and a config that says the same.
BILLION = 10**9
MEMORY_LIMIT = 2 * 2**30  # a regression fails with MemoryError under it instead of eating the machine
# How tokenizer_config.json must write a token (transformers reads a dict there only with its "__type").
FLAGS = ", ".join(ADDED_TOKEN_FLAGS)
TOKEN_RULE = f'a string, or an object with "__type": "AddedToken", a string "content" and true/false {FLAGS}'

Damage = Callable[[Path], None]
Command = Callable[[Path, Path], list[str]]


def bundle(model: Path, out: Path) -> list[str]:
    return ["bundle", "--model", str(model), "--out", str(out), "--quiet"]


def tokenize(model: Path, out: Path) -> list[str]:
    return ["tokenize", "--model", str(model), "hello world"]


def inspect(model: Path, out: Path) -> list[str]:
    return ["inspect", "--model", str(model)]


# Which commands read which file: every one reads config.json; inspect never loads the tokenizer,
# tokenize never the weights.
WEIGHTS = (bundle, inspect)
TOKENIZER = (bundle, tokenize)
CONFIG = (bundle, tokenize, inspect)


def read_header(file: Path) -> tuple[dict, bytes]:
    data = file.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + length]), data[8 + length :]


def write_header(file: Path, header: dict | bytes, body: bytes) -> None:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    file.write_bytes(struct.pack("<Q", len(raw)) + raw + body)


def edit_header(change: Callable[[dict], object], cut: int = 0) -> Damage:
    """Change the header of model.safetensors in place (and cut `cut` bytes off its end)."""

    def damage(model: Path) -> None:
        header, body = read_header(model / "model.safetensors")
        change(header)
        write_header(model / "model.safetensors", header, body[: len(body) - cut])

    return damage


def set_word(key: str, value: object) -> Damage:
    return edit_header(lambda header: header[WORD].__setitem__(key, value))


def raw_header(raw: bytes) -> Damage:
    """Replace the header of model.safetensors by these bytes, keeping the data after it."""

    def damage(model: Path) -> None:
        write_header(model / "model.safetensors", raw, read_header(model / "model.safetensors")[1])

    return damage


def edit_json(name: str, change: Callable[[dict], object]) -> Damage:
    def damage(model: Path) -> None:
        content = json.loads((model / name).read_text(encoding="utf-8"))
        change(content)
        (model / name).write_text(json.dumps(content), encoding="utf-8")

    return damage


def set_json(name: str, key: str, value: object) -> Damage:
    return edit_json(name, lambda content: content.__setitem__(key, value))


def write(name: str, data: str | bytes) -> Damage:
    def damage(model: Path) -> None:
        (model / name).write_bytes(data.encode() if isinstance(data, str) else data)

    return damage


LATIN1 = '{"note": "café"}'.encode("latin-1")  # é is byte 13
NOT_LATIN1 = "not UTF-8 (byte 0xE9 at offset 13; saved as Latin-1 or another legacy encoding?)"
MALFORMED = "not valid JSON (Expecting property name enclosed in double quotes at line 1, column 2)"


def tensor(name: str) -> str:
    return f'tensor "{name}"'


CASES = [
    # --- model.safetensors: its header, checked as safetensors checks it ---
    pytest.param(
        edit_header(lambda header: None, cut=64),
        "model.safetensors",
        f"{tensor('pooler.dense.weight')}: data_offsets [4352, 4608] run past the end of the file "
        "(its data holds 4,544 bytes; shape [8, 8] of F32)",
        WEIGHTS,
        id="span-past-the-end",
    ),
    pytest.param(
        set_word("data_offsets", [1152.0, 1920.0]),
        "model.safetensors",
        f"{tensor(WORD)}: data_offsets must be [begin, end] in bytes, got [1152.0, 1920.0]",
        WEIGHTS,
        id="float-offsets",
    ),
    pytest.param(
        set_word("data_offsets", [-4, 1920]),
        "model.safetensors",
        f"{tensor(WORD)}: data_offsets must be [begin, end] in bytes, got [-4, 1920]",
        WEIGHTS,
        id="negative-offset",
    ),
    pytest.param(
        set_word("data_offsets", [1152, 1920, 2000]),
        "model.safetensors",
        f"{tensor(WORD)}: data_offsets must be [begin, end] in bytes, got [1152, 1920, 2000]",
        WEIGHTS,
        id="offsets-not-a-pair",
    ),
    pytest.param(
        set_word("data_offsets", "1152-1920"),
        "model.safetensors",
        f'{tensor(WORD)}: data_offsets must be [begin, end] in bytes, got "1152-1920"',
        WEIGHTS,
        id="offsets-a-string",
    ),
    pytest.param(
        set_word("data_offsets", [1920, 1152]),
        "model.safetensors",
        f"{tensor(WORD)}: data_offsets [1920, 1152] end before they begin",
        WEIGHTS,
        id="offsets-reversed",
    ),
    pytest.param(
        set_word("dtype", "F99"),
        "model.safetensors",
        f'{tensor(WORD)} has an unknown dtype "F99"',
        WEIGHTS,
        id="unknown-dtype",
    ),
    pytest.param(
        set_word("shape", [-24, 8]),
        "model.safetensors",
        f"{tensor(WORD)}: shape must be a list of non-negative integers, got [-24, 8]",
        WEIGHTS,
        id="negative-shape",
    ),
    pytest.param(
        set_word("shape", "24x8"),
        "model.safetensors",
        f'{tensor(WORD)}: shape must be a list of non-negative integers, got "24x8"',
        WEIGHTS,
        id="shape-a-string",
    ),
    pytest.param(
        set_word("shape", [24.0, 8]),
        "model.safetensors",
        f"{tensor(WORD)}: shape must be a list of non-negative integers, got [24.0, 8]",
        WEIGHTS,
        id="float-shape",
    ),
    pytest.param(
        set_word("shape", [24, 9]),
        "model.safetensors",
        f"{tensor(WORD)}: shape [24, 9] of F32 takes 864 bytes, but data_offsets [1152, 1920] hold 768",
        WEIGHTS,
        id="shape-and-span-disagree",
    ),
    pytest.param(
        set_word("data_offsets", [64, 832]),
        "model.safetensors",
        f'tensors "{WORD}" and "{POSITION}" share bytes (data_offsets [64, 832] and [64, 1088]); '
        "safetensors refuses such a file",
        WEIGHTS,
        id="word-table-aliases-another-tensor",
    ),
    pytest.param(
        raw_header(DEEP.encode()),
        "model.safetensors",
        "the header is nested more than 64 levels deep",
        WEIGHTS,
        id="deep-header",
    ),
    pytest.param(
        raw_header('{"caf\xe9": 1}'.encode("latin-1")),
        "model.safetensors",
        "the header is not UTF-8 (byte 0xE9 at offset 5; saved as Latin-1 or another legacy encoding?)",
        WEIGHTS,
        id="header-not-utf8",
    ),
    pytest.param(raw_header(b"[]"), "model.safetensors", "the header is a list, not a JSON object", WEIGHTS, id="list"),
    pytest.param(
        edit_header(lambda header: header.__setitem__("__metadata__", {"format": ["pt"]})),
        "model.safetensors",
        '__metadata__ must map names to strings, got {"format": ["pt"]}',
        WEIGHTS,
        id="metadata-not-strings",
    ),
    pytest.param(
        lambda model: (model / "model.safetensors").write_bytes(
            struct.pack("<Q", 10**6) + (model / "model.safetensors").read_bytes()[8:]
        ),
        "model.safetensors",
        "the header length says 1,000,000 bytes, but 6,848 follow it",
        WEIGHTS,
        id="header-length-past-the-file",
    ),
    # --- config.json: every command reads it ---
    pytest.param(write("config.json", "{nope"), "config.json", MALFORMED, CONFIG, id="config-malformed"),
    pytest.param(write("config.json", "[1]"), "config.json", "a list, not a JSON object", CONFIG, id="config-list"),
    pytest.param(
        write("config.json", DEEP), "config.json", "nested more than 64 levels deep", CONFIG, id="config-deep"
    ),
    pytest.param(write("config.json", LATIN1), "config.json", NOT_LATIN1, CONFIG, id="config-latin1"),
    pytest.param(
        set_json("config.json", "vocab_size", "24"),
        "config.json",
        'vocab_size must be a positive integer, got "24"',
        CONFIG,
        id="vocab-size-a-string",
    ),
    pytest.param(
        set_json("config.json", "vocab_size", 0),
        "config.json",
        "vocab_size must be a positive integer, got 0",
        CONFIG,
        id="vocab-size-zero",
    ),
    pytest.param(
        set_json("config.json", "hidden_size", -8),
        "config.json",
        "hidden_size must be a positive integer, got -8",
        CONFIG,
        id="hidden-size-negative",
    ),
    pytest.param(
        set_json("config.json", "hidden_size", 8.5),
        "config.json",
        "hidden_size must be a positive integer, got 8.5",
        CONFIG,
        id="hidden-size-a-float",
    ),
    pytest.param(
        set_json("config.json", "auto_map", None),
        "config.json",
        "auto_map must map auto classes to code references, got null",
        CONFIG,
        id="auto-map-null",
    ),
    # --- tokenizer_config.json: bundle and tokenize read it ---
    pytest.param(
        write("tokenizer_config.json", "{nope"), "tokenizer_config.json", MALFORMED, TOKENIZER, id="tc-malformed"
    ),
    pytest.param(
        write("tokenizer_config.json", "[]"),
        "tokenizer_config.json",
        "a list, not a JSON object",
        TOKENIZER,
        id="tc-list",
    ),
    pytest.param(
        write("tokenizer_config.json", LATIN1), "tokenizer_config.json", NOT_LATIN1, TOKENIZER, id="tc-latin1"
    ),
    pytest.param(
        write("tokenizer_config.json", DEEP),
        "tokenizer_config.json",
        "nested more than 64 levels deep",
        TOKENIZER,
        id="tc-deep",
    ),
    pytest.param(
        set_json("tokenizer_config.json", "additional_special_tokens", 5),
        "tokenizer_config.json",
        "additional_special_tokens must be a list of tokens, got 5",
        TOKENIZER,
        id="additional-special-tokens-5",
    ),
    pytest.param(
        set_json("tokenizer_config.json", "additional_special_tokens", [{"text": "<x>"}]),
        "tokenizer_config.json",
        f'additional_special_tokens[0] must be a token: {TOKEN_RULE}; got {{"text": "<x>"}}',
        TOKENIZER,
        id="extra-token-without-content",
    ),
    pytest.param(
        set_json("tokenizer_config.json", "cls_token", {"__type": "AddedToken", "lstrip": False}),
        "tokenizer_config.json",
        f'cls_token must be a token: {TOKEN_RULE}; got {{"__type": "AddedToken", "lstrip": false}}',
        TOKENIZER,
        id="token-dict-without-content",
    ),
    pytest.param(
        set_json("tokenizer_config.json", "cls_token", {"content": "[CLS]"}),
        "tokenizer_config.json",
        f'cls_token must be a token: {TOKEN_RULE}; got {{"content": "[CLS]"}}',
        TOKENIZER,
        id="token-dict-without-its-type",
    ),
    pytest.param(
        write("special_tokens_map.json", '{"cls_token": {"content": "[CLS]", "lstrip": "yes"}}'),
        "special_tokens_map.json",
        'cls_token must be a token: a string, or an object with a string "content" and true/false '
        f'{", ".join(ADDED_TOKEN_FLAGS)}; got {{"content": "[CLS]", "lstrip": "yes"}}',
        TOKENIZER,
        id="special-tokens-map-flag-not-a-bool",
    ),
    pytest.param(
        write("special_tokens_map.json", '{"extra_special_tokens": [{"content": "<x>", "special": true}]}'),
        "special_tokens_map.json",
        'extra_special_tokens[0] must not set "special" here (transformers sets it), '
        'got {"content": "<x>", "special": true}',
        TOKENIZER,
        id="special-tokens-map-extra-token-special",
    ),
    pytest.param(
        write("special_tokens_map.json", '{"cls_token": "[CLS]", "additional_special_tokens": {"x": "<x>"}}'),
        "special_tokens_map.json",
        'additional_special_tokens must be a list of tokens, got {"x": "<x>"}',
        TOKENIZER,
        id="special-tokens-map-extra-tokens-a-dict",
    ),
    pytest.param(
        set_json("tokenizer_config.json", "chat_markers", [{"__type": "AddedToken", "content": 5}]),
        "tokenizer_config.json",
        f'an AddedToken in chat_markers must be a token: {TOKEN_RULE}; got {{"__type": "AddedToken", "content": 5}}',
        TOKENIZER,
        id="tagged-token-anywhere",
    ),
    pytest.param(
        set_json("tokenizer_config.json", "added_tokens_decoder", None),
        "tokenizer_config.json",
        "added_tokens_decoder must map token ids to tokens, got null",
        TOKENIZER,
        id="added-tokens-decoder-null",
    ),
    pytest.param(
        set_json("tokenizer_config.json", "added_tokens_decoder", [1, 2]),
        "tokenizer_config.json",
        "added_tokens_decoder must map token ids to tokens, got [1, 2]",
        TOKENIZER,
        id="added-tokens-decoder-a-list",
    ),
    pytest.param(
        set_json("tokenizer_config.json", "added_tokens_decoder", {"pad": {"content": "[PAD]"}}),
        "tokenizer_config.json",
        'added_tokens_decoder: "pad" is not a token id',
        TOKENIZER,
        id="added-tokens-decoder-key",
    ),
    pytest.param(
        set_json("tokenizer_config.json", "added_tokens_decoder", {"0": "[PAD]"}),
        "tokenizer_config.json",
        'added_tokens_decoder[0] must be a token object, got "[PAD]"',
        TOKENIZER,
        id="added-tokens-decoder-value",
    ),
    # --- tokenizer.json: bundle and tokenize read it ---
    pytest.param(
        write("tokenizer.json", '{"model": {"type": "Weird"}}'),
        "tokenizer.json",
        'model type "Weird" is not one the tokenizers library reads (BPE, Unigram, WordLevel, WordPiece)',
        TOKENIZER,
        id="unknown-model-type",
    ),
    pytest.param(
        edit_json("tokenizer.json", lambda t: t["model"].__setitem__("vocab", 5)),
        "tokenizer.json",
        "a WordPiece vocab must map tokens to ids, got 5",
        TOKENIZER,
        id="vocab-a-number",
    ),
    pytest.param(
        edit_json("tokenizer.json", lambda t: t["model"].__setitem__("vocab", [["[PAD]", 0]])),
        "tokenizer.json",
        'a WordPiece vocab must map tokens to ids, got [["[PAD]", 0]]',
        TOKENIZER,
        id="vocab-pairs-for-wordpiece",
    ),
    pytest.param(
        edit_json("tokenizer.json", lambda t: t["model"].update(type="Unigram", vocab={"[PAD]": 0})),
        "tokenizer.json",
        'a Unigram vocab must be a list of [piece, score] pairs, got {"[PAD]": 0}',
        TOKENIZER,
        id="unigram-vocab-a-dict",
    ),
    pytest.param(
        edit_json("tokenizer.json", lambda t: t["model"]["vocab"].pop("[UNK]")),
        "tokenizer.json",
        'the WordPiece unk_token "[UNK]" is not in its vocab',
        TOKENIZER,
        id="unk-token-not-in-vocab",
    ),
    pytest.param(
        set_json("tokenizer.json", "normalizer", [{"type": "Lowercase"}]),
        "tokenizer.json",
        'normalizer must be a JSON object or null, got [{"type": "Lowercase"}]',
        TOKENIZER,
        id="normalizer-a-list",
    ),
    pytest.param(write("tokenizer.json", "{nope"), "tokenizer.json", MALFORMED, TOKENIZER, id="tokenizer-malformed"),
    pytest.param(
        set_json("tokenizer.json", "normalizer", {"type": "Nope"}),
        "tokenizer.json",
        "the tokenizers library cannot read it (data did not match any variant of untagged enum "
        "NormalizerUntagged at line 1 column 730)",
        TOKENIZER,
        id="refused-by-tokenizers",
    ),
]


@pytest.mark.parametrize(("damage", "name", "problem", "commands"), CASES)
def test_a_malformed_model_file_is_one_error_line(
    damage: Damage,
    name: str,
    problem: str,
    commands: tuple[Command, ...],
    tiny_model: Path,
    previous: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    damage(model)
    before = snapshot(previous)
    for command in commands:
        err = run_failing(command(model, previous), capsys)
        assert err.splitlines() == [f"error: {model / name}: {problem}"], command.__name__
    assert snapshot(previous) == before
    assert leftovers(previous) == []


def test_safetensors_itself_refuses_an_aliased_word_table(tiny_model: Path, tmp_path: Path) -> None:
    """The aliasing case above is a file safetensors (and so transformers) will not load either."""
    from safetensors import SafetensorError, safe_open

    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    set_word("data_offsets", [64, 832])(model)
    with pytest.raises(SafetensorError, match="invalid offset"), safe_open(model / "model.safetensors", "np"):
        pass


# --- model.safetensors.index.json, in a sharded copy of the tiny model ---


@pytest.fixture(scope="module")
def sharded_model(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import BertModel

    folder = tmp_path_factory.mktemp("sharded") / "model"
    BertModel.from_pretrained(tiny_model).save_pretrained(folder, max_shard_size="2KB")
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt"):
        shutil.copy(tiny_model / name, folder / name)
    return folder


INDEX = "model.safetensors.index.json"


def first_shard_elsewhere(model: Path, shard: str) -> None:
    """Name a real shard file through a path outside the model folder."""
    first = sorted(model.glob("model-*.safetensors"))[0]
    shutil.copy(first, model.parent / "x.safetensors")
    set_json(INDEX, "weight_map", {WORD: shard})(model)


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (write(INDEX, "[]"), "a list, not a JSON object"),
        (set_json(INDEX, "weight_map", [WORD]), "weight_map must map tensor names to shard files, got a list"),
        (
            set_json(INDEX, "weight_map", {WORD: "model-00099-of-00099.safetensors"}),
            'weight_map names "model-00099-of-00099.safetensors", which is not a file in the model folder',
        ),
        (
            lambda m: first_shard_elsewhere(m, "../x.safetensors"),
            'weight_map names "../x.safetensors", outside the model folder',
        ),
        (
            lambda m: first_shard_elsewhere(m, str(m.parent / "x.safetensors")),
            "weight_map names {outside}, outside the model folder",
        ),
        (set_json(INDEX, "weight_map", {WORD: 5}), f'weight_map gives tensor "{WORD}" no shard file name: 5'),
        (write(INDEX, LATIN1), NOT_LATIN1),
    ],
    ids=["list", "weight-map-a-list", "missing-shard", "parent-folder", "absolute-path", "shard-a-number", "latin1"],
)
def test_a_malformed_index_is_one_error_line(
    damage: Damage,
    problem: str,
    sharded_model: Path,
    previous: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    model = tmp_path / "model"
    shutil.copytree(sharded_model, model)
    damage(model)
    problem = problem.format(outside=json.dumps(str(model.parent / "x.safetensors")))
    before = snapshot(previous)
    for command in WEIGHTS:
        err = run_failing(command(model, previous), capsys)
        assert err.splitlines() == [f"error: {model / INDEX}: {problem}"], command.__name__
    assert snapshot(previous) == before


# --- memory bombs: what a header or config declares is checked against the files before anything is allocated ---


def declare_billion_rows(model: Path, variant: str) -> tuple[Path, str]:
    """The attack: config.json and (unless `variant` is "config") the header declare 10^9 rows."""
    set_json("config.json", "vocab_size", BILLION)(model)
    weights = model / "model.safetensors"
    if variant == "span":  # the span matches the shape, and runs 32 GB past the file's end
        set_word("shape", [BILLION, 8])(model)
        set_word("data_offsets", [1152, 1152 + BILLION * 32])(model)
        end = 1152 + BILLION * 32
        return weights, (
            f"{tensor(WORD)}: data_offsets [1152, {end}] run past the end of the file "
            f"(its data holds 4,608 bytes; shape [{BILLION}, 8] of F32)"
        )
    if variant == "shape":  # the shape alone claims 32 GB
        set_word("shape", [BILLION, 8])(model)
        return weights, (
            f"{tensor(WORD)}: shape [{BILLION}, 8] of F32 takes 32,000,000,000 bytes, "
            "but data_offsets [1152, 1920] hold 768"
        )
    return model / "config.json", (
        "vocab_size 1,000,000,000 x hidden_size 8 needs at least 4,000,000,000 bytes of weights "
        "(4 bits a value, the narrowest dtype), but the weight files hold 6,856"
    )


# Under a 2 GiB address-space limit, so that a regression ends in MemoryError instead of swapping.
LIMITED = f"""
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({MEMORY_LIMIT}, {MEMORY_LIMIT}))
from projector_bundle import cli
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.parametrize("variant", ["span", "shape", "config"])
def test_a_billion_declared_rows_are_refused_before_allocating(variant: str, tiny_model: Path, tmp_path: Path) -> None:
    model = tmp_path / "bomb"
    shutil.copytree(tiny_model, model)
    file, problem = declare_billion_rows(model, variant)
    assert (model / "model.safetensors").stat().st_size < 7 * 1024
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for args in (bundle(model, tmp_path / "site"), inspect(model, tmp_path / "site")):
        run = subprocess.run(
            [sys.executable, "-c", LIMITED, *args], capture_output=True, text=True, env=env, timeout=600, check=False
        )
        assert (run.returncode, run.stderr.splitlines()) == (1, [f"error: {file}: {problem}"]), args[0]
    assert not (tmp_path / "site").exists()


# --- modules.json of a sentence-transformers folder, read to find the model inside it ---

TRANSFORMER = "sentence_transformers.models.Transformer"


@pytest.mark.parametrize(
    ("modules", "problem"),
    [
        ("{nope", MALFORMED),
        (DEEP, "nested more than 64 levels deep"),
        ('{"path": "0_Transformer"}', 'must be a list of module objects, got {"path": "0_Transformer"}'),
        (
            f'[{{"type": "{TRANSFORMER}", "path": 0}}]',
            f"the path of its {TRANSFORMER} module must be a folder name, got 0",
        ),
    ],
    ids=["malformed", "deep", "an-object", "path-a-number"],
)
def test_a_malformed_modules_json_is_one_error_line(
    modules: str, problem: str, tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "sentence-model"
    shutil.copytree(tiny_model, folder / "0_Transformer")
    (folder / "modules.json").write_text(modules)
    for command in CONFIG:
        err = run_failing(command(folder, tmp_path / "site"), capsys)
        assert err.splitlines() == [f"error: {folder / 'modules.json'}: {problem}"], command.__name__


# --- the JSON reader's own bounds ---


def test_nesting_is_counted_up_to_the_limit(tmp_path: Path) -> None:
    file = tmp_path / "config.json"
    deepest = "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1)
    assert parse_json(f'{{"x": {deepest}}}', file) == {"x": json.loads(deepest)}
    with pytest.raises(ModelFileError) as caught:
        parse_json(f'{{"x": [{deepest}]}}', file)
    assert str(caught.value) == f"{file}: nested more than {MAX_JSON_DEPTH} levels deep"


def test_a_json_file_is_read_no_further_than_its_limit(tmp_path: Path) -> None:
    file = tmp_path / "tokenizer.json"
    file.write_text('{"model": "' + "x" * 100 + '"}')
    assert read_text(file, limit=200).startswith('{"model"')
    with pytest.raises(ModelFileError) as caught:
        read_text(file, limit=100)
    assert str(caught.value) == f"{file}: larger than 100 bytes: too large for a model's JSON file"


def test_a_malformed_file_in_the_hub_cache_is_named(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not "the hub cannot be reached": the cached model is there, one of its files is not right."""
    from huggingface_hub import constants

    repo = tmp_path / "hub" / "models--someone--tiny"
    snapshot = repo / "snapshots" / "0123abc"
    shutil.copytree(tiny_model, snapshot)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abc")
    write("config.json", "[1]")(snapshot)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    err = run_failing(["tokenize", "--model", "someone/tiny", "hello"], capsys)
    assert err.splitlines() == [f"error: {snapshot / 'config.json'}: a list, not a JSON object"]
