"""JSON files of a model, read and checked before anything uses them.

A model folder is data from elsewhere: its config or tokenizer files may be truncated,
saved as Latin-1, a list, nested 100,000 levels deep, or hold a number where a name
belongs. Every reader of them goes through `read_json_object` and the typed accessors
here, so such a file fails as one `ModelFileError` that names the file and what is
wrong, before our code or transformers trips over it with a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypeGuard

from projector_bundle import ExportError
from projector_bundle.files import open_regular
from projector_bundle.text import one_line

# The largest tokenizer.json files are tens of megabytes; a JSON file of a model past this
# is not one, and reading it whole would only cost memory.
MAX_JSON_BYTES = 256 * 2**20
# Real configs nest about six levels; transformers walks them recursively (a config nested
# 500 levels ends in its RecursionError), and the tokenizers library stops at 128.
MAX_JSON_DEPTH = 64
# How much of an offending value a message quotes.
SHOWN_CHARS = 200


class ModelFileError(ExportError):
    """A model file that is not what its format says: the file, and what is wrong with it."""

    def __init__(self, file: Path, problem: str) -> None:
        super().__init__(f"{file}: {problem}")
        self.file = file
        self.problem = problem


def read_json_object(file: Path, depth: int | None = MAX_JSON_DEPTH) -> dict[str, object]:
    """A JSON file that must hold an object (config.json, tokenizer_config.json, ...), checked:
    bounded in size, strict UTF-8, valid JSON, at most `depth` levels deep (None: not counted)."""
    return require_object(read_json(file, depth), file)


def read_json(file: Path, depth: int | None = MAX_JSON_DEPTH) -> object:
    """Any JSON value from a file, checked as `read_json_object` checks it."""
    return parse_json(read_text(file), file, depth=depth)


def read_text(file: Path, limit: int = MAX_JSON_BYTES) -> str:
    """A text file of a model as UTF-8, read no further than `limit` bytes."""
    try:
        with open_regular(file) as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise ModelFileError(file, f"cannot be read ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise ModelFileError(file, f"larger than {limit:,} bytes: too large for a model's JSON file")
    return decode_utf8(data, file)


def decode_utf8(data: bytes, file: Path, subject: str = "") -> str:
    """`data` as strict UTF-8 (the encoding JSON requires); `subject` names a part of the file."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        byte = data[exc.start]
        problem = f"not UTF-8 (byte 0x{byte:02X} at offset {exc.start:,}; saved as Latin-1 or another legacy encoding?)"
        raise ModelFileError(file, _is(subject, problem)) from None


def parse_json(
    text: str, file: Path, subject: str = "", depth: int | None = MAX_JSON_DEPTH, constants: bool = True
) -> object:
    """`text` as JSON, at most `depth` levels deep; `subject` names a part of the file ("the header").
    Python reads NaN and Infinity, which JSON lacks; `constants=False` refuses them, as stricter readers do."""
    try:
        value = json.loads(text) if constants else json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        detail = f"{exc.msg} at line {exc.lineno}, column {exc.colno}"
        raise ModelFileError(file, _is(subject, f"not valid JSON ({detail})")) from None
    except ValueError as exc:  # a number of more than 4,300 digits, or a constant refused
        raise ModelFileError(file, _is(subject, f"not valid JSON ({one_line(exc)})")) from None
    except RecursionError:
        raise ModelFileError(file, _is(subject, f"nested more than {MAX_JSON_DEPTH} levels deep")) from None
    if depth is not None and nested_deeper(value, depth):
        raise ModelFileError(file, _is(subject, f"nested more than {depth} levels deep"))
    return value


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON value")


def require_object(value: object, file: Path, subject: str = "") -> dict[str, object]:
    if not isinstance(value, dict):
        raise ModelFileError(file, _is(subject, f"{kind(value)}, not a JSON object"))
    return value


def nested_deeper(value: object, depth: int) -> bool:
    """Whether lists and objects inside `value` go more than `depth` levels deep (no recursion)."""
    stack: list[tuple[dict | list, int]] = [(value, 1)] if isinstance(value, (dict, list)) else []
    while stack:
        item, level = stack.pop()
        if level > depth:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return False


def _is(subject: str, problem: str) -> str:
    return f"{subject} is {problem}" if subject else problem


# --- typed accessors: a value of the wrong type fails naming the key, the expected and the actual value ---


def optional_positive_int(obj: dict[str, object], key: str, file: Path) -> int | None:
    """`obj[key]` when it is a positive integer, None when absent (null is not a size)."""
    if key not in obj:
        return None
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ModelFileError(file, f"{key} must be a positive integer, got {shown(value)}")
    return value


def optional_string(obj: dict[str, object], key: str, file: Path) -> str | None:
    """`obj[key]` when it is a string, None when absent or null."""
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise ModelFileError(file, f"{key} must be a string, got {shown(value)}")
    return value


def is_int(value: object) -> TypeGuard[int]:
    """A JSON integer (JSON's true and false are not numbers, though Python's bool is an int)."""
    return isinstance(value, int) and not isinstance(value, bool)


def kind(value: object) -> str:
    """A JSON value's type, as a message names it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "a JSON object"


def shown(value: object) -> str:
    """A value as JSON, ASCII-only and cut short, so that it stays on the message's one line."""
    try:
        text = json.dumps(value)
    except (ValueError, RecursionError):
        text = kind(value)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 3] + "..."


def field_name(key: str) -> str:
    """A key from a file as a message names it: as it is when it is a plain name, else quoted as JSON."""
    return key if key.isascii() and key.replace("_", "").isalnum() else shown(key)
