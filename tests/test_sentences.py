"""Reading --sentences files: every bad file gets one exact message; long lines are flagged."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projector_bundle import ExportError
from projector_bundle.context.sentences import (
    MAX_CHARS_PER_TOKEN,
    MAX_LINE_BYTES,
    Sentence,
    clip_line,
    clipped_warning,
    iter_sentence_batches,
    iter_sentences,
    model_max_tokens,
    parse_stream,
    truncation_warning,
)
from projector_bundle.models.loader import ModelRef, load_tokenizer


def read_sentences(source: str, stdin: io.BytesIO | None = None) -> list[Sentence]:
    """Every sentence of a file, or of standard input for "-"."""
    return list(iter_sentences(source, stdin))


def parse_sentences(data: bytes, source: str) -> list[Sentence]:
    """Every sentence of `data`, as read from `source`."""
    return list(parse_stream(io.BytesIO(data), source))


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


class CountingStream(io.RawIOBase):
    """An endless or finite byte source that records how much was read from it."""

    def __init__(self, data: bytes, repeat: bool = False) -> None:
        self.data, self.repeat, self.position = data, repeat, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        if not self.repeat and self.position >= len(self.data):
            return 0
        n = len(buffer)
        chunk = (self.data * (n // len(self.data) + 2))[self.position % len(self.data) :][:n]
        if not self.repeat:
            chunk = chunk[: len(self.data) - self.position]
        buffer[: len(chunk)] = chunk
        self.position += len(chunk)
        return len(chunk)


def test_dev_zero_stops_at_once(tmp_path: Path) -> None:
    assert error_of("/dev/zero") == "--sentences /dev/zero: not text (a NUL byte at offset 0); expected UTF-8 text"
    endless = CountingStream(b"\0", repeat=True)
    with pytest.raises(ExportError, match="NUL byte at offset 0"):
        next(iter_sentences("-", stdin=io.BufferedReader(endless)))
    assert endless.position <= 2 * MAX_LINE_BYTES


def test_endless_noise_without_newlines_is_never_read_whole() -> None:
    endless = CountingStream("é".encode() * 1000 + b"\xff", repeat=True)
    with pytest.raises(ExportError, match=r"not UTF-8 text \(byte 0xff at offset 2,000\)"):
        list(iter_sentences("-", stdin=io.BufferedReader(endless)))
    assert endless.position <= 2 * MAX_LINE_BYTES


def test_a_line_over_the_byte_limit_is_clipped_at_a_character_and_the_rest_skipped() -> None:
    head = "a" * 9 + "é"  # the limit of 10 bytes falls inside "é"
    data = f"one\n{head}{'é' * 50}\ntwo\n".encode()
    sentences = list(parse_stream(io.BytesIO(data), "s.txt", max_line_bytes=10))
    assert sentences == [Sentence(1, "one"), Sentence(2, "a" * 9, clipped=True), Sentence(3, "two")]
    assert clipped_warning("s.txt", [2], 1) == (
        f"--sentences s.txt: 1 line longer than {MAX_LINE_BYTES:,} bytes was cut to it (line 2)"
    )
    assert clipped_warning("s.txt", [], 0) is None
    assert clipped_warning("-", [1, 2, 3, 4, 5], 7) == (
        f"--sentences -: 7 lines longer than {MAX_LINE_BYTES:,} bytes were cut to it (lines 1, 2, 3, 4, 5, ...)"
    )


def test_a_nul_in_the_skipped_part_of_a_long_line_still_stops_the_reading() -> None:
    data = b"x" * 30 + b"\0" + b"\ntwo\n"
    with pytest.raises(ExportError, match="NUL byte at offset 30"):
        list(parse_stream(io.BytesIO(data), "s.txt", max_line_bytes=10))


def test_batches_are_read_lazily(tmp_path: Path) -> None:
    path = tmp_path / "s.txt"
    path.write_text("".join(f"sentence {n}\n" for n in range(1, 26)) + "\0", encoding="utf-8")
    batches = iter_sentence_batches(str(path), 10)
    first = next(batches)
    assert [s.line for s in first] == list(range(1, 11))
    assert [s.line for s in next(batches)] == list(range(11, 21))
    with pytest.raises(ExportError, match="NUL byte"):  # the fault is met only when its batch is read
        next(batches)
    stdin = io.BytesIO(b"a\nb\nc\n")
    assert [[s.text for s in b] for b in iter_sentence_batches("-", 2, stdin=stdin)] == [["a", "b"], ["c"]]


@settings(max_examples=80, deadline=None)
@given(lines=st.lists(st.text(st.characters(blacklist_characters="\0\r\n", blacklist_categories=["Cs"]), max_size=30),
                      min_size=1, max_size=20), limit=st.integers(4, 64))  # fmt: skip
def test_streaming_matches_splitting_the_whole_text(lines: list[str], limit: int) -> None:
    data = "\n".join(lines).encode()
    expected = [
        Sentence(n, line.encode()[:limit].decode(errors="ignore").strip(), len(line.encode()) > limit)
        for n, line in enumerate(lines, 1)
    ]
    expected = [s for s in expected if s.text]
    if not data:
        return
    if not expected:
        with pytest.raises(ExportError, match="only blank lines"):
            list(parse_stream(io.BytesIO(data), "s", max_line_bytes=limit))
        return
    assert list(parse_stream(io.BytesIO(data), "s", max_line_bytes=limit)) == expected


def test_the_truncation_warning_from_running_counts() -> None:
    from projector_bundle.context.sentences import truncation_message

    assert truncation_message("c.txt", [], 0, 1_000_000, 512) is None
    assert truncation_message("c.txt", [7, 9, 12, 40, 41], 30, 1_000_000, 512) == (
        "--sentences c.txt: 30 of 1,000,000 sentences are longer than the model's 512 tokens and are cut to it "
        "(lines 7, 9, 12, 40, 41, ...)"
    )
