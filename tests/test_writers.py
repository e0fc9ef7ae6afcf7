from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from support import read_tensor_bytes, read_tensor_tsv

from projector_bundle.output.manifest import sha256_file
from projector_bundle.output.writers import (
    WRITE_CHUNK_BYTES,
    WrittenFile,
    boundary_padding,
    escape_cell,
    write_json,
    write_metadata,
    write_tensor_bytes,
    write_tensor_tsv,
)
from projector_bundle.projector.formats import PROJECTOR_CHUNK_BYTES


def seeded_matrix(rows: int = 6, dim: int = 4, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((rows, dim)).astype(np.float32)


def awkward_matrix() -> np.ndarray:
    """Values whose shortest round-trip forms are long, tiny, huge or signed zero."""
    values = [
        0.1, -0.0, 0.0, 1e-45, 3.4028235e38, -3.4028235e38, 1.1754944e-38, 16777217.0,
        0.33333334, -2.5e-10, 123456.79, 1.0,
    ]  # fmt: skip
    return np.array(values, dtype=np.float32).reshape(3, 4)


@pytest.mark.parametrize("matrix", [seeded_matrix(), seeded_matrix(5000, 3, seed=1), awkward_matrix()])
def test_tsv_round_trip_is_float32_exact(tmp_path: Path, matrix: np.ndarray) -> None:
    path = tmp_path / "vectors.tsv"
    write_tensor_tsv(path, matrix)
    back = read_tensor_tsv(path)
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back.view(np.uint32), matrix.view(np.uint32))


def test_tsv_has_no_header_and_one_line_per_row(tmp_path: Path) -> None:
    path = tmp_path / "vectors.tsv"
    write_tensor_tsv(path, seeded_matrix(6, 4))
    lines = path.read_text().split("\n")
    assert lines[-1] == ""
    assert len(lines[:-1]) == 6
    assert all(len(line.split("\t")) == 4 for line in lines[:-1])


def test_bytes_round_trip_is_exact_little_endian_float32(tmp_path: Path) -> None:
    matrix = seeded_matrix(7, 5)
    path = tmp_path / "vectors.bytes"
    write_tensor_bytes(path, matrix)
    assert path.stat().st_size == 7 * 5 * 4
    np.testing.assert_array_equal(read_tensor_bytes(path, 5), matrix)
    assert path.read_bytes()[:4] == matrix[0, 0].astype("<f4").tobytes()


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("hello", "hello"),
        ("a\tb", "a\u2409b"),
        ("line\nbreak", "line\u240abreak"),
        ("cr\r", "cr\u240d"),
        ("", "[empty]"),
        (" ", "[U+0020]"),
        ("\u3000", "[U+3000]"),
        (" x ", " x "),
        ("<script>", "<script>"),
        ("שלום", "שלום"),
        ("🙂", "🙂"),
    ],
)
def test_escape_cell_keeps_one_visible_cell(cell: str, expected: str) -> None:
    assert escape_cell(cell) == expected


def test_metadata_header_only_with_several_columns(tmp_path: Path) -> None:
    many, one = tmp_path / "many.tsv", tmp_path / "one.tsv"
    write_metadata(many, ["Word", "Length"], [["a", "1"], ["b\tc", "3"]])
    write_metadata(one, ["Word"], [["a"], [" "]])
    assert many.read_text(encoding="utf-8") == "Word\tLength\na\t1\nb\u2409c\t3\n"
    assert one.read_text(encoding="utf-8") == "a\n[U+0020]\n"


def test_a_character_on_the_projectors_chunk_boundary_is_moved_past_it(tmp_path: Path) -> None:
    """The projector decodes 1,000,000-byte chunks separately: a blank line (which it
    skips) moves a label whose character would be cut, so the label arrives whole."""
    path = tmp_path / "m.tsv"
    long = "c" * (PROJECTOR_CHUNK_BYTES - len("a\nb\n") - 1) + "é"  # "é" would straddle the boundary
    write_metadata(path, ["Word"], [["a"], ["b"], [long], ["d"]])
    raw = path.read_bytes()
    assert raw == f"a\nb\n\n{long}\nd\n".encode()
    chunks = [raw[i : i + PROJECTOR_CHUNK_BYTES] for i in range(0, len(raw), PROJECTOR_CHUNK_BYTES)]
    text = "".join(c.decode("utf-8", errors="replace") for c in chunks)
    assert [line for line in text.split("\n") if line.strip()] == ["a", "b", long, "d"]


@pytest.mark.parametrize(
    ("position", "line", "pad"),
    [
        (0, b"abc\n", 0),
        (PROJECTOR_CHUNK_BYTES - 1, "é\n".encode(), 1),  # the boundary would cut "é" after its first byte
        (PROJECTOR_CHUNK_BYTES - 2, "xé\n".encode(), 1),
        (PROJECTOR_CHUNK_BYTES - 3, "x🙂\n".encode(), 2),  # two bytes of the emoji before the boundary
        (PROJECTOR_CHUNK_BYTES - 5, "x🙂\n".encode(), 0),  # the boundary falls on the newline
        (PROJECTOR_CHUNK_BYTES, "é\n".encode(), 0),  # starts on the boundary
    ],
)
def test_boundary_padding(position: int, line: bytes, pad: int) -> None:
    assert boundary_padding(position, line) == pad


def reference_metadata(header: list[str], rows: list[list[str]]) -> bytes:
    """The writer before it streamed: one line at a time, padding computed for every line."""
    out = bytearray()
    for row in ([header] if len(header) > 1 else []) + rows:
        line = ("\t".join(escape_cell(cell) for cell in row) + "\n").encode("utf-8")
        out += b"\n" * boundary_padding(len(out), line) + line
    return bytes(out)


def test_streamed_metadata_is_byte_identical_across_chunk_boundaries(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    alphabet = ["a", "é", "🙂", "中", "\t", " ", ""]
    rows = [["".join(rng.choice(alphabet, rng.integers(0, 400))), str(i)] for i in range(12_000)]
    path = tmp_path / "m.tsv"
    written = write_metadata(path, ["Word", "n"], iter(rows))  # a generator is enough
    raw = path.read_bytes()
    assert len(raw) > 3 * PROJECTOR_CHUNK_BYTES
    assert raw == reference_metadata(["Word", "n"], rows)
    assert written == WrittenFile(len(raw), hashlib.sha256(raw).hexdigest())


def test_every_writer_returns_the_size_and_sha256_of_what_it_wrote(tmp_path: Path) -> None:
    matrix = seeded_matrix(3000, 7)
    for path, written in [
        (tmp_path / "v.tsv", write_tensor_tsv(tmp_path / "v.tsv", matrix)),
        (tmp_path / "v4.tsv", write_tensor_tsv(tmp_path / "v4.tsv", matrix, digits=4)),
        (tmp_path / "v.bytes", write_tensor_bytes(tmp_path / "v.bytes", matrix)),
        (tmp_path / "m.tsv", write_metadata(tmp_path / "m.tsv", ["w"], [["x"]] * 10)),
        (tmp_path / "c.json", write_json(tmp_path / "c.json", {"a": [1, 2]})),
    ]:
        assert written == WrittenFile(path.stat().st_size, sha256_file(path)), path.name


def test_bytes_are_written_in_blocks_from_a_memory_map(tmp_path: Path) -> None:
    matrix = seeded_matrix(WRITE_CHUNK_BYTES // 16 + 3, 8)  # two blocks and a bit
    matrix.astype(np.float64).tofile(tmp_path / "source.f8")
    mapped = np.memmap(tmp_path / "source.f8", dtype=np.float64, mode="r", shape=matrix.shape)
    written = write_tensor_bytes(tmp_path / "v.bytes", mapped)
    assert written.size == matrix.size * 4
    np.testing.assert_array_equal(read_tensor_bytes(tmp_path / "v.bytes", 8), matrix)
    assert write_tensor_bytes(tmp_path / "empty.bytes", np.zeros((0, 8), np.float32)).size == 0
