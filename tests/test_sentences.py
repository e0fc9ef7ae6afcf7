"""Reading --sentences files: every bad file gets one exact message; long lines are flagged."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest

from projector_bundle import ExportError
from projector_bundle.model import ModelRef, load_tokenizer
from projector_bundle.sentences import (
    MAX_CHARS_PER_TOKEN,
    Sentence,
    clip_line,
    model_max_tokens,
    parse_sentences,
    read_sentences,
    truncation_warning,
)


def error_of(source: str, data: bytes | None = None) -> str:
    with pytest.raises(ExportError) as info:
        if data is None:
            read_sentences(source)
        else:
            parse_sentences(data, source)
    return str(info.value)


def test_lines_become_sentences_with_their_line_numbers() -> None:
    data = "\ufeffThe bank of the river.\r\n\r\n   \n  I opened an account.  \n\tlast".encode()
    assert parse_sentences(data, "s.txt") == [
        Sentence(1, "The bank of the river."),
        Sentence(4, "I opened an account."),
        Sentence(5, "last"),
    ]


def test_a_file_and_standard_input(tmp_path: Path) -> None:
    path = tmp_path / "s.txt"
    path.write_text("one\ntwo\n", encoding="utf-8")
    assert read_sentences(str(path)) == [Sentence(1, "one"), Sentence(2, "two")]
    assert read_sentences("-", stdin=io.BytesIO(b"three\n")) == [Sentence(1, "three")]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "--sentences s.txt: the file is empty; expected one sentence a line"),
        (b"\n \r\n\t\n", "--sentences s.txt: no sentences, only blank lines"),
        (b"caf\xe9\n", "--sentences s.txt: not UTF-8 text (byte 0xe9 at offset 3)"),  # Latin-1
        ("hi\n".encode("utf-16"), "--sentences s.txt: not text (a NUL byte at offset 3); expected UTF-8 text"),
        (b"\x7fELF\x02\x01\x01\x00", "--sentences s.txt: not text (a NUL byte at offset 7); expected UTF-8 text"),
    ],
    ids=["empty", "blank", "latin-1", "utf-16", "binary"],
)
def test_bad_files(data: bytes, expected: str) -> None:
    assert error_of("s.txt", data) == expected


def test_binary_noise_stops_at_its_first_fault_in_reading_order() -> None:
    noise = random.Random(0).randbytes(4096)
    # 0xcd opens a two-byte character, but 0x07 cannot continue it: the first fault, before any NUL.
    assert noise[:2] == b"\xcd\x07"
    assert noise.find(bytes(1)) == 323
    assert error_of("noise.bin", noise) == "--sentences noise.bin: not UTF-8 text (byte 0xcd at offset 0)"
    nul = noise.find(bytes(1))
    text_then_noise = b"fine\n" * 10 + noise[nul:]
    assert error_of("noise.bin", text_then_noise) == (
        "--sentences noise.bin: not text (a NUL byte at offset 50); expected UTF-8 text"
    )


def test_missing_file_and_folder(tmp_path: Path) -> None:
    assert error_of(str(tmp_path / "nope.txt")) == f"--sentences {tmp_path / 'nope.txt'}: no such file"
    assert error_of(str(tmp_path)) == f"--sentences {tmp_path}: is a folder, not a file"


def test_empty_standard_input() -> None:
    with pytest.raises(ExportError, match=r"^--sentences -: the file is empty"):
        read_sentences("-", stdin=io.BytesIO(b""))


@pytest.mark.parametrize(
    ("tokenizer_max", "positions", "expected"),
    [(512, 512, 512), (int(1e30), 32, 32), (128, 512, 128), (None, 64, 64), (256, None, 256)],
)
def test_model_max_tokens(tokenizer_max: int | None, positions: int | None, expected: int) -> None:
    assert model_max_tokens(tokenizer_max, positions) == expected


def test_a_model_without_a_length_limit() -> None:
    with pytest.raises(ExportError) as info:
        model_max_tokens(int(1e30), None)
    assert str(info.value) == ("the model states no maximum input length (no model_max_length or position embeddings)")


def test_huge_lines_are_flagged_and_cut_by_a_real_tokenizer(tiny_model: Path) -> None:
    """How `bundle --sentences` should use this module, on the tiny BERT (32 positions)."""
    import json

    tokenizer = load_tokenizer(ModelRef(name="tiny", path=tiny_model, source="folder"))
    positions = json.loads((tiny_model / "config.json").read_text())["max_position_embeddings"]
    limit = model_max_tokens(tokenizer.model_max_length, positions)
    huge = "hello world " * 1_000_000  # 12 MB on one line
    sentences = parse_sentences(f"hello world\n\n{huge}\nthe river bank\n".encode(), "s.txt")
    texts = [clip_line(s.text, limit) for s in sentences]
    assert len(texts[1]) == limit * MAX_CHARS_PER_TOKEN
    counts = [len(ids) for ids in tokenizer(texts)["input_ids"]]
    assert truncation_warning("s.txt", sentences, counts, limit) == (
        "--sentences s.txt: 1 of 3 sentences are longer than the model's 32 tokens and are cut to it (line 3)"
    )
    cut = tokenizer(texts, truncation=True, max_length=limit)["input_ids"]
    assert [len(ids) for ids in cut] == [4, 32, 5]


def test_no_warning_when_everything_fits() -> None:
    sentences = [Sentence(1, "a"), Sentence(2, "b")]
    assert truncation_warning("s.txt", sentences, [3, 32], 32) is None


def test_many_long_lines_are_counted_not_all_listed() -> None:
    sentences = [Sentence(n, "x") for n in range(1, 9)]
    assert truncation_warning("-", sentences, [100] * 8, 10) == (
        "--sentences -: 8 of 8 sentences are longer than the model's 10 tokens and are cut to it "
        "(lines 1, 2, 3, 4, 5, ...)"
    )
