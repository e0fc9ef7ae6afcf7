"""`--vectors FILE [--metadata FILE]`: every format read back exactly, the metadata typed as the
projector reads it, and every bad input one `error:` line with the previous bundle intact."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support import read_tensor_bytes, run_failing, snapshot

from projector_bundle import cli
from projector_bundle.inputs.tables import Metadata, read_table
from projector_bundle.inputs.vectors import EmbeddingInput, read_vectors
from projector_bundle.output.writers import write_tensor_tsv
from projector_bundle.projector.cells import MISSING, escape_cell

RNG = np.random.default_rng(7)
MATRIX = RNG.normal(size=(12, 5)).astype(np.float32)
NAMES = [f"doc {i}" for i in range(12)]
TOPICS = ["cats", "cars", "rain"] * 4


def bundle(args: list[str], out: Path) -> Path:
    assert cli.main(["bundle", "--out", str(out), "--quiet", *args]) == 0
    return out


def metadata_lines(out: Path) -> list[str]:
    return (out / "metadata.tsv").read_text(encoding="utf-8").splitlines()


# --- formats ---


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_npy_of_each_float_width_is_stored_float32(tmp_path: Path, dtype: type) -> None:
    np.save(tmp_path / "v.npy", MATRIX.astype(dtype))
    read = read_vectors(str(tmp_path / "v.npy"))
    assert read.matrix.dtype == np.float32 and read.name == "v"
    np.testing.assert_array_equal(read.matrix, MATRIX.astype(dtype).astype(np.float32))


def test_npz_by_name_and_the_only_array(tmp_path: Path) -> None:
    np.savez(tmp_path / "one.npz", emb=MATRIX)
    np.savez(tmp_path / "two.npz", emb=MATRIX, other=MATRIX * 2)
    np.testing.assert_array_equal(read_vectors(str(tmp_path / "one.npz")).matrix, MATRIX)
    named = read_vectors(f"{tmp_path / 'two.npz'}:other")
    np.testing.assert_array_equal(named.matrix, MATRIX * 2)
    assert named.name == "two/other"


def test_parquet_list_column_brings_its_other_columns_as_metadata(tmp_path: Path) -> None:
    table = pa.table({"title": NAMES, "embedding": [list(map(float, row)) for row in MATRIX], "year": list(range(12))})
    pq.write_table(table, tmp_path / "v.parquet", row_group_size=5)
    read = read_vectors(str(tmp_path / "v.parquet"))
    np.testing.assert_array_equal(read.matrix, MATRIX)
    assert read.metadata is not None
    assert read.metadata.header == ("title", "year") and read.metadata.numeric == (False, True)
    assert read.metadata.columns[0] == tuple(NAMES)


def test_parquet_of_numeric_columns(tmp_path: Path) -> None:
    pq.write_table(pa.table({f"d{j}": MATRIX[:, j] for j in range(5)}), tmp_path / "v.parquet")
    np.testing.assert_array_equal(read_vectors(str(tmp_path / "v.parquet")).matrix, MATRIX)


def test_csv_with_a_list_column_and_with_numeric_columns(tmp_path: Path) -> None:
    lists = tmp_path / "lists.csv"
    rows = [f'{n},"{json.dumps([float(x) for x in row])}"' for n, row in zip(NAMES, MATRIX, strict=True)]
    lists.write_text("name,vector\n" + "\n".join(rows) + "\n", encoding="utf-8")
    read = read_vectors(str(lists))
    np.testing.assert_array_equal(read.matrix, MATRIX)
    assert read.metadata is not None and read.metadata.header == ("name",)
    plain = tmp_path / "plain.csv"
    plain.write_text("\n".join(",".join(repr(float(x)) for x in row) for row in MATRIX) + "\n", encoding="utf-8")
    np.testing.assert_array_equal(read_vectors(str(plain)).matrix, MATRIX)


def test_tensorboard_tsv_round_trip(tmp_path: Path) -> None:
    write_tensor_tsv(tmp_path / "v.tsv", MATRIX)  # the writer the bundle's vectors TSV comes from
    np.testing.assert_array_equal(read_vectors(str(tmp_path / "v.tsv")).matrix, MATRIX)


def test_bundle_of_vectors_and_metadata_loads_no_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import projector_bundle.models.loader as loader

    def no_model(*args: object) -> None:
        raise AssertionError("a model was resolved for --vectors")

    monkeypatch.setattr(loader, "resolve_model", no_model)
    np.save(tmp_path / "v.npy", MATRIX)
    meta = tmp_path / "m.csv"
    meta.write_text(
        "name,topic,score\n" + "".join(f"{n},{t},{i / 2}\n" for i, (n, t) in enumerate(zip(NAMES, TOPICS, strict=True)))
    )
    out = bundle(["--vectors", str(tmp_path / "v.npy"), "--metadata", str(meta), "--neighbors", "2"], tmp_path / "site")
    np.testing.assert_array_equal(read_tensor_bytes(out / "vectors.bytes", 5), MATRIX)
    lines = metadata_lines(out)
    assert lines[0] == "name\ttopic\tscore\tneighbors"
    assert lines[1].startswith("doc 0\tcats\t0.0\t")
    config = json.loads((out / "projector_config.json").read_text())
    assert [e["tensorName"] for e in config["embeddings"]] == ["v"]
    (mark,) = json.loads((out / "vectors.bookmarks.json").read_text())
    assert mark["selectedLabelOption"] == "name" and mark["selectedColorOptionName"] == "topic"
    assert cli.main(["validate", str(out)]) == 0


# --- metadata typing ---


def test_metadata_columns_typed_in_file_order(tmp_path: Path) -> None:
    file = tmp_path / "m.jsonl"
    records = [
        {"id": 3, "label": "a\tb", "score": 0.5, "flag": True},
        {"id": 4, "label": "", "flag": False, "extra": {"k": 1}},
        {"id": 5, "label": "c", "score": None, "flag": True},
    ]
    file.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    meta = Metadata.from_table(read_table(str(file), "--metadata"))
    assert meta.header == ("id", "label", "score", "flag", "extra")
    assert meta.numeric == (True, False, True, False, False)
    assert meta.columns[0] == ("3", "4", "5")
    assert meta.columns[2] == ("0.5", MISSING, MISSING)
    assert meta.columns[3] == ("true", "false", "true")
    assert meta.columns[4] == ("", '{"k":1}', "")
    # A gap in a number column is written empty (null to the projector); an empty text stays visible.
    assert escape_cell(meta.columns[2][1]) == "" and escape_cell(meta.columns[1][1]) == "[empty]"
    assert escape_cell(meta.columns[1][0]) == "a\u2409b"


@pytest.mark.parametrize(
    ("values", "numeric", "cells"),
    [
        (["1", " 2.5", "-3e2", ""], True, ("1", "2.5", "-3e2", MISSING)),
        (["1", "two"], False, ("1", "two")),
        (["0x1F", "3"], False, ("0x1F", "3")),  # hexadecimal stays text
        ([1, 2.0, float("nan"), float("inf")], True, ("1", "2.0", MISSING, "Infinity")),
        ([True, False], False, ("true", "false")),
        ([None, None], False, ("", "")),
        ([np.int64(4), np.float32(0.5)], True, ("4", "0.5")),
    ],
)
def test_typed_cells(values: list[object], numeric: bool, cells: tuple[str, ...]) -> None:
    meta = Metadata.from_columns({"c": values})
    assert meta.numeric == (numeric,) and meta.columns[0] == cells


def test_embedding_input_from_arrays_checks_rows() -> None:
    made = EmbeddingInput.from_arrays("mine", MATRIX.astype(np.float64), {"name": NAMES})
    assert made.matrix.dtype == np.float32 and made.metadata is not None
    with pytest.raises(Exception, match="the metadata has 3 rows but the vectors have 12"):
        EmbeddingInput.from_arrays("mine", MATRIX, {"name": NAMES[:3]})


# --- bad input: one line, the exit code, nothing lost ---


@pytest.fixture
def previous(tmp_path: Path) -> Path:
    np.save(tmp_path / "ok.npy", MATRIX)
    return bundle(["--vectors", str(tmp_path / "ok.npy")], tmp_path / "site")


def fails(previous: Path, args: list[str], capsys: pytest.CaptureFixture[str], code: int = 1) -> str:
    before = snapshot(previous)
    err = run_failing(["bundle", "--out", str(previous), "--quiet", *args], capsys, code)
    assert snapshot(previous) == before
    assert err.count("\n") == 1 and err.startswith("error: ")
    return err.strip()


def test_metadata_of_another_row_count(previous: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    meta = tmp_path / "m.csv"
    meta.write_text("name\n" + "\n".join(NAMES[:11]) + "\n")
    err = fails(previous, ["--vectors", str(tmp_path / "ok.npy"), "--metadata", str(meta)], capsys)
    assert err == f"error: --metadata {meta}: has 11 rows but --vectors {tmp_path / 'ok.npy'} has 12"


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_infinity_names_the_row(
    previous: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: float
) -> None:
    matrix = MATRIX.copy()
    matrix[6, 2] = bad
    matrix[9, 0] = bad
    np.save(tmp_path / "bad.npy", matrix)
    err = fails(previous, ["--vectors", str(tmp_path / "bad.npy")], capsys)
    assert err == (
        f"error: --vectors {tmp_path / 'bad.npy'}: row 7 holds NaN or infinity (or a value beyond float32) "
        "(2 rows in all); the projector cannot place such a point"
    )


def test_ragged_tsv_and_parquet(previous: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tsv = tmp_path / "v.tsv"
    tsv.write_text("1\t2\t3\n4\t5\t6\n7\t8\n")
    assert (
        fails(previous, ["--vectors", str(tsv)], capsys)
        == f"error: --vectors {tsv}: line 3 has 2 values but line 1 has 3"
    )
    parquet = tmp_path / "v.parquet"
    pq.write_table(pa.table({"vec": [[1.0, 2.0], [3.0, 4.0], [5.0]]}), parquet)
    err = fails(previous, ["--vectors", str(parquet)], capsys)
    assert err == f"error: --vectors {parquet}: row 3 of column vec has 1 values but row 1 has 2"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("none.npy", None, "no such file"),
        ("empty.tsv", b"", "the file is empty"),
        ("words.tsv", b"1\t2\n3\tx\n", "line 2 holds a value that is not a number"),
        ("text.npy", b"not numpy", "not a numeric .npy array"),
        ("v.bin", b"1 2", "unknown format; expected .npy, .npz, .parquet, .csv, .tsv"),
    ],
)
def test_unreadable_vectors(
    previous: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: bytes | None, message: str
) -> None:
    file = tmp_path / name
    if content is not None:
        file.write_bytes(content)
    err = fails(previous, ["--vectors", str(file)], capsys)
    assert err.startswith(f"error: --vectors {file}: {message}")


def test_npz_with_several_arrays_asks_for_a_name(
    previous: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    np.savez(tmp_path / "two.npz", a=MATRIX, b=MATRIX)
    err = fails(previous, ["--vectors", str(tmp_path / "two.npz")], capsys)
    file = tmp_path / "two.npz"
    assert err == f"error: --vectors {file}: the archive holds 2 arrays (a, b); name one as {file}:NAME"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'name\n"unclosed\n', "line 2 is malformed"),
        (b"name,topic\na,b\nc\n", "line 3 has 1 fields but the header has 2"),
        (b"name\nok\n\xff\xfe bad\n", "not UTF-8 text (byte 0xff on line 3, byte offset 8)"),
        (b"name\nok\x00\n", "not text (a NUL byte on line 2, byte offset 7); expected UTF-8 text"),
    ],
)
def test_malformed_metadata(
    previous: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    meta = tmp_path / "m.csv"
    meta.write_bytes(content)
    err = fails(previous, ["--vectors", str(tmp_path / "ok.npy"), "--metadata", str(meta)], capsys)
    assert err.startswith(f"error: --metadata {meta}: {message}")


def test_metadata_without_vectors_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = run_failing(["bundle", "--out", str(tmp_path / "s"), "--metadata", "m.csv"], capsys, code=2)
    assert err == "error: --metadata needs --vectors (it gives the columns of those vectors)\n"
