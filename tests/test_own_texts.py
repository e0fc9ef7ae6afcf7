"""`--texts FILE`: every table format, the texts tensor first with its columns, the word table
left out unless asked, several models, `--sample` before embedding, and each bad input."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support import read_tensor_bytes, run_failing, snapshot

from projector_bundle import ExportError, cli
from projector_bundle.inputs.texts import FULL_TEXT_CHARS, read_texts

TEXTS = ["the river bank", "hello world and welcome", "the bank account", "welcome into the world", "hello 1990"]
TOPICS = ["nature", "greeting", "money", "greeting", "time"]
SCORES = [0.5, 1.5, 2.0, 3.25, 4.0]
LONG = "the river bank and the world " * 4  # 116 characters: its label is shortened


def write_formats(folder: Path) -> dict[str, Path]:
    """The same three columns (text, topic, score) in every table format."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = list(zip(TEXTS, TOPICS, SCORES, strict=True))
    files = {
        "csv": folder / "t.csv",
        "tsv": folder / "t.tsv",
        "jsonl": folder / "t.jsonl",
        "ndjson": folder / "t.ndjson",
        "parquet": folder / "t.parquet",
    }
    files["csv"].write_text("text,topic,score\n" + "".join(f'"{t}",{c},{s}\n' for t, c, s in rows), encoding="utf-8")
    files["tsv"].write_text("text\ttopic\tscore\n" + "".join(f"{t}\t{c}\t{s}\n" for t, c, s in rows), encoding="utf-8")
    lines = "".join(json.dumps({"text": t, "topic": c, "score": s}) + "\n" for t, c, s in rows)
    files["jsonl"].write_text(lines, encoding="utf-8")
    files["ndjson"].write_text(lines, encoding="utf-8")
    pq.write_table(pa.table({"text": TEXTS, "topic": TOPICS, "score": SCORES}), files["parquet"], row_group_size=2)
    return files


@pytest.mark.parametrize("kind", ["csv", "tsv", "jsonl", "ndjson", "parquet"])
def test_every_table_format_reads_the_same(tmp_path: Path, kind: str) -> None:
    texts = read_texts(str(write_formats(tmp_path)[kind]))
    assert texts.texts == TEXTS
    assert texts.metadata is not None
    assert texts.metadata.header == ("topic", "score") and texts.metadata.numeric == (False, True)
    assert texts.metadata.columns[0] == tuple(TOPICS)
    assert [float(c) for c in texts.metadata.columns[1]] == SCORES


def test_plain_text_and_stdin(tmp_path: Path) -> None:
    file = tmp_path / "t.txt"
    file.write_text("\ufeff" + "\r\n".join(TEXTS) + "\r\n", encoding="utf-8")
    assert read_texts(str(file)).texts == TEXTS
    from_stdin = read_texts("-", stdin=io.BytesIO("\n".join(TEXTS).encode()))
    assert from_stdin.texts == TEXTS and from_stdin.metadata is None


def test_bundle_of_texts(tmp_path: Path, tiny_model: Path) -> None:
    """One point per row, the texts tensor alone (no word table), labelled by the text, coloured by topic."""
    file = tmp_path / "t.csv"
    rows = [*zip(TEXTS, TOPICS, SCORES, strict=True), (LONG, "nature", 5.0)]
    file.write_text("id,text,topic,score\n" + "".join(f'{i},"{t}",{c},{s}\n' for i, (t, c, s) in enumerate(rows)))
    out = tmp_path / "site"
    assert cli.main(["bundle", "--model", str(tiny_model), "--texts", str(file), "--out", str(out), "--quiet"]) == 0
    config = json.loads((out / "projector_config.json").read_text())
    assert [e["tensorName"] for e in config["embeddings"]] == ["tiny-bert/texts"]
    assert config["embeddings"][0]["tensorShape"] == [6, 8]
    lines = (out / "metadata.tsv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "text\ttext (full)\tid\ttopic\tscore"
    assert lines[1] == "the river bank\tthe river bank\t0\tnature\t0.5"
    label, full = lines[6].split("\t")[:2]
    assert label.endswith("…") and len(label) <= 80 and full == LONG
    (mark,) = json.loads((out / "vectors.bookmarks.json").read_text())
    assert mark["selectedLabelOption"] == "text" and mark["selectedColorOptionName"] == "topic"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["tensors"][0]["columns"] == ["text", "text (full)", "id", "topic", "score"]
    assert cli.main(["validate", str(out)]) == 0


def test_word_table_on_request_and_several_models(tmp_path: Path, tiny_model: Path) -> None:
    from support import save_tiny_bert

    other = save_tiny_bert(tmp_path / "other", seed=1)
    file = write_formats(tmp_path / "in")["jsonl"]
    out = tmp_path / "site"
    args = ["bundle", "--model", str(tiny_model), "--model", str(other), "--texts", str(file), "--tensors", "word"]
    assert cli.main([*args, "--out", str(out), "--quiet"]) == 0
    names = [e["tensorName"] for e in json.loads((out / "projector_config.json").read_text())["embeddings"]]
    assert names == ["tiny-bert/texts", "other/texts", "tiny-bert/word_embeddings", "other/word_embeddings"]
    first = read_tensor_bytes(out / "vectors.bytes", 8)
    second = read_tensor_bytes(out / "other.texts.bytes", 8)
    assert first.shape == second.shape == (5, 8) and not np.allclose(first, second)


def test_sample_draws_rows_before_embedding(tmp_path: Path, tiny_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import projector_bundle.context.textvectors as textvectors

    seen: list[int] = []
    embed = textvectors.embed_texts

    def counting(model, tokenizer, texts, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(len(texts))
        return embed(model, tokenizer, texts, *args, **kwargs)

    monkeypatch.setattr(textvectors, "embed_texts", counting)
    file = tmp_path / "t.txt"
    file.write_text("\n".join(f"hello world {i}" for i in range(40)) + "\n")
    out = tmp_path / "site"
    args = ["bundle", "--model", str(tiny_model), "--texts", str(file), "--sample", "7", "--seed", "3"]
    assert cli.main([*args, "--out", str(out), "--quiet"]) == 0
    assert seen == [7]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["tensors"][0]["reduced"] == {"sample": {"points": 40, "seed": 3}}


def test_the_rest_of_the_pipeline_applies(tmp_path: Path, tiny_model: Path) -> None:
    """Neighbours (the neighbours' texts shortened), the light first view and the manifest, on the texts tensor."""
    file = tmp_path / "t.csv"
    rows = [(f"{t} {LONG}" if i == 2 else t, c) for i, (t, c) in enumerate(zip(TEXTS, TOPICS, strict=True))]
    file.write_text("text,topic\n" + "".join(f'"{t}",{c}\n' for t, c in rows))
    out = tmp_path / "site"
    args = ["bundle", "--model", str(tiny_model), "--texts", str(file), "--neighbors", "4", "--first-view", "light"]
    assert cli.main([*args, "--out", str(out), "--quiet"]) == 0
    config = json.loads((out / "projector_config.json").read_text())
    assert [(e["tensorName"], e["tensorShape"]) for e in config["embeddings"]] == [
        ("tiny-bert/texts (exact 3-D PCA)", [5, 3]),
        ("tiny-bert/texts", [5, 8]),
    ]
    header, *lines = (line.split("\t") for line in (out / "metadata.tsv").read_text().splitlines())
    assert header == ["text", "text (full)", "topic", "neighbors"]
    cells = [line[3] for line in lines]
    assert all(len(cell.split(" | ")) == 4 for cell in cells)  # every other point, each set apart
    # The long text, as a neighbour of each other point: its first 40 characters.
    assert sum("the bank account the river bank and…" in cell.split(" | ") for cell in cells) == 4
    assert cli.main(["validate", str(out)]) == 0


# --- bad input: one line, the exit code, nothing lost ---


@pytest.fixture
def previous(tmp_path: Path, tiny_model: Path) -> Path:
    file = tmp_path / "ok.txt"
    file.write_text("\n".join(TEXTS) + "\n")
    out = tmp_path / "site"
    assert cli.main(["bundle", "--model", str(tiny_model), "--texts", str(file), "--out", str(out), "--quiet"]) == 0
    return out


def fails(previous: Path, args: list[str], capsys: pytest.CaptureFixture[str], code: int = 1) -> str:
    before = snapshot(previous)
    err = run_failing(["bundle", "--out", str(previous), "--quiet", *args], capsys, code)
    assert snapshot(previous) == before
    assert err.count("\n") == 1 and err.startswith("error: ")
    return err.strip()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("none.csv", None, "no such file"),
        ("empty.csv", b"", "the file is empty"),
        ("blank.csv", b'text,topic\n,a\n"  ",b\n', "no texts, only empty ones (2 rows)"),
        ("bad.csv", b'text\n"fine"\n"open\n', "line 3 is malformed"),
        ("short.csv", b"text,topic\nfine,a\nno topic\n", "line 3 has 1 fields but the header has 2"),
        ("latin1.csv", b"text\nfine\ncaf\xe9\n", "not UTF-8 text (byte 0xe9 on line 3, byte offset 13)"),
        ("nul.txt", b"fine\nbin\x00ary\n", "not text (a NUL byte on line 2, byte offset 8); expected UTF-8 text"),
        ("bad.jsonl", b'{"text": "fine"}\n{"text": \n', "line 2 is not JSON (Expecting value, column 10)"),
        ("list.jsonl", b'{"text": "fine"}\n["x"]\n', "line 2 is a JSON list, expected an object"),
        ("t.parquet", b"PAR1 not really", "not a readable Parquet file"),
    ],
)
def test_unreadable_texts(
    previous: Path,
    tmp_path: Path,
    tiny_model: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: bytes | None,
    message: str,
) -> None:
    file = tmp_path / name
    if content is not None:
        file.write_bytes(content)
    err = fails(previous, ["--model", str(tiny_model), "--texts", str(file)], capsys)
    assert err.startswith(f"error: --texts {file}: {message}")


def test_a_device_is_refused_before_it_is_read(
    previous: Path, tiny_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = fails(previous, ["--model", str(tiny_model), "--texts", "/dev/zero"], capsys)
    assert err == "error: --texts /dev/zero: is a character device, not a file"


def test_a_table_over_the_bound_is_one_line(
    previous: Path, tmp_path: Path, tiny_model: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from projector_bundle.inputs import tables

    monkeypatch.setattr(tables, "MAX_TABLE_BYTES", 2048)
    file = tmp_path / "t.txt"
    file.write_text("a short text\n" * 200)  # 2,600 bytes
    err = fails(previous, ["--model", str(tiny_model), "--texts", str(file)], capsys)
    assert err == (
        f"error: --texts {file}: more than 2.0 KiB, the most a table is read into memory; "
        "split it, or sample its rows beforehand"
    )


def test_missing_text_column_lists_the_columns(
    previous: Path, tmp_path: Path, tiny_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "t.csv"
    file.write_text("title,body\na,b\n")
    err = fails(previous, ["--model", str(tiny_model), "--texts", str(file)], capsys)
    assert err == (
        f"error: --texts {file}: no column text (its columns: title, body); "
        "name the one with the texts with --text-column"
    )
    err = fails(previous, ["--model", str(tiny_model), "--texts", str(file), "--text-column", "summary"], capsys)
    assert err == f"error: --text-column summary: no such column in {file} (its columns: title, body)"


def test_a_ten_megabyte_text(tmp_path: Path, tiny_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Read whole, cut by the tokenizer as any long text, shown by its start on the page."""
    file = tmp_path / "t.jsonl"
    huge = "the river bank " * 700_000  # 10.5 MB
    file.write_text(json.dumps({"text": "hello"}) + "\n" + json.dumps({"text": huge}) + "\n")
    out = tmp_path / "site"
    assert cli.main(["bundle", "--model", str(tiny_model), "--texts", str(file), "--out", str(out), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert f"--texts {file}: 1 text is longer than {FULL_TEXT_CHARS:,} characters; the page shows its start" in err
    assert "1 of 2 texts are longer than" in err
    assert (out / "metadata.tsv").stat().st_size < 3 * FULL_TEXT_CHARS


def test_parquet_without_pyarrow_names_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)  # what a missing package looks like to import
    file = tmp_path / "t.parquet"
    file.write_bytes(b"PAR1")
    with pytest.raises(ExportError) as raised:
        read_texts(str(file))
    assert str(raised.value) == (f"--texts {file}: reading Parquet needs the pyarrow package (pip install pyarrow)")
