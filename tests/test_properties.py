"""Property tests: the TSV writers and label escaping hold for any input, read back the
way the projector reads them; the page stays inert for any model name or label."""

from __future__ import annotations

import json
import sys
import tempfile
import unicodedata
from html.parser import HTMLParser
from pathlib import Path
from unittest import mock

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from support import read_tensor_tsv

from projector_bundle.output import writers
from projector_bundle.output.writers import write_metadata, write_tensor_tsv
from projector_bundle.projector.cells import escape_cell
from projector_bundle.projector.formats import JS_WHITESPACE
from projector_bundle.projector.page import PageInfo, TensorSummary, render_page

# Computed here independently of formats.py: ECMAScript's WhiteSpace and LineTerminator.
JS_TRIMMED = frozenset("\t\n\v\f\r\ufeff\u2028\u2029") | {
    chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Zs"
}


def js_trim(text: str) -> str:
    start, end = 0, len(text)
    while start < end and text[start] in JS_TRIMMED:
        start += 1
    while end > start and text[end - 1] in JS_TRIMMED:
        end -= 1
    return text[start:end]


def parse_metadata_like_the_projector(text: str) -> tuple[list[str], list[list[str]]]:
    """data-provider.ts parseMetadata: split on "\\n", skip lines blank after trim(),
    a first line with a tab is the header, fields split on "\\t"."""
    columns, rows = ["label"], []
    for line in text.split("\n"):
        if not js_trim(line):
            continue
        if not rows and columns == ["label"] and "\t" in line:
            columns = line.split("\t")
            continue
        rows.append(line.split("\t"))
    return columns, rows


def decode_like_the_projector(raw: bytes, chunk: int) -> str:
    """streamParse: each `chunk`-byte slice is decoded on its own, bad bytes as U+FFFD."""
    return "".join(raw[i : i + chunk].decode("utf-8", errors="replace") for i in range(0, len(raw), chunk))


def test_js_whitespace_is_what_javascript_trims() -> None:
    assert frozenset(JS_WHITESPACE) == JS_TRIMMED


# Any text, lone surrogates included, with the characters that matter here made common.
SPECIAL = st.sampled_from([*sorted(JS_TRIMMED), "\t", "\n", "\r", "\0", "\x7f", "\x85", "\ud800", "<", "&", '"'])
# Tokens made only of what trim() removes, or of Python's other whitespace, are the ones a row can be lost to.
BLANKISH = st.text(st.sampled_from([*sorted(JS_TRIMMED), "\x1c", "\x1f", "\x85"]), min_size=1, max_size=4)
LABEL = st.one_of(st.text(st.one_of(st.characters(exclude_categories=()), SPECIAL), max_size=12), BLANKISH)


@settings(max_examples=50, deadline=None)
@given(cells=st.lists(LABEL, min_size=1, max_size=30))
def test_any_labels_keep_one_row_each_in_one_column(cells: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.tsv"
        write_metadata(path, ["Word"], [[c] for c in cells])
        columns, rows = parse_metadata_like_the_projector(path.read_text(encoding="utf-8"))
    assert columns == ["label"]
    assert rows == [[escape_cell(c)] for c in cells]


@settings(max_examples=50, deadline=None)
@given(table=st.lists(st.tuples(LABEL, LABEL, LABEL), min_size=1, max_size=20), header=st.tuples(LABEL, LABEL, LABEL))
def test_any_labels_keep_their_rows_and_columns_under_a_header(
    table: list[tuple[str, str, str]], header: tuple[str, str, str]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.tsv"
        write_metadata(path, header, table)
        columns, rows = parse_metadata_like_the_projector(path.read_text(encoding="utf-8"))
    assert columns == [escape_cell(h) for h in header]
    assert rows == [[escape_cell(c) for c in row] for row in table]


# Short labels heavy in 2-, 3- and 4-byte characters, and chunks small enough that every
# few rows meet a boundary (standing in for the projector's 1,000,000 bytes).
WIDE = st.text(st.one_of(st.sampled_from(["é", "中", "🙂", "a"]), st.characters(exclude_categories=())), max_size=3)


@settings(max_examples=80, deadline=None)
@given(cells=st.lists(WIDE, min_size=1, max_size=40), chunk=st.integers(32, 64))
def test_no_character_is_cut_by_the_projectors_chunks(cells: list[str], chunk: int) -> None:
    with tempfile.TemporaryDirectory() as folder, mock.patch.object(writers, "PROJECTOR_CHUNK_BYTES", chunk):
        path = Path(folder) / "m.tsv"
        write_metadata(path, ["Word"], [[c] for c in cells])
        raw = path.read_bytes()
    _, rows = parse_metadata_like_the_projector(decode_like_the_projector(raw, chunk))
    assert rows == [[escape_cell(c)] for c in cells]


@settings(deadline=None)  # timings are never asserted; a loaded CI machine is slow
@given(cell=LABEL)
def test_an_escaped_cell_is_one_visible_field(cell: str) -> None:
    escaped = escape_cell(cell)
    assert escaped  # the projector turns "" into a missing value
    assert js_trim(escaped)  # and skips a line that trims to nothing
    assert not any(ch in escaped for ch in "\t\n\r")
    assert not any(0xD800 <= ord(ch) <= 0xDFFF for ch in escaped)
    escaped.encode("utf-8")


@settings(deadline=None)
@given(cell=st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1))
def test_visible_text_is_kept_as_it_is(cell: str) -> None:
    if js_trim(cell):
        assert escape_cell(cell) == cell


FLOAT32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=60, deadline=None)
@given(matrix=arrays(np.float32, st.tuples(st.integers(1, 20), st.integers(2, 12)), elements=FLOAT32))
def test_any_finite_matrix_round_trips_through_the_tsv(matrix: np.ndarray) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "v.tsv"
        write_tensor_tsv(path, matrix)
        text = path.read_text(encoding="ascii")
        back = read_tensor_tsv(path)
    lines = text.split("\n")
    assert lines[-1] == ""
    assert [len(line.split("\t")) for line in lines[:-1]] == [matrix.shape[1]] * matrix.shape[0]
    np.testing.assert_array_equal(back.view(np.uint32), matrix.view(np.uint32))  # -0.0 and subnormals too


class PageParts(HTMLParser):
    """Tags, the text of the model-name heading, and the JSON data block."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.open: list[str] = []
        self.heading = ""
        self.data = ""
        self._attrs: dict[str, str | None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.open.append(tag)
        self._attrs = dict(attrs)

    def handle_endtag(self, tag: str) -> None:
        self.open.pop()
        self._attrs = {}

    def handle_data(self, data: str) -> None:
        if self._attrs.get("id") == "model-name":
            self.heading += data
        elif self._attrs.get("id") == "bundle-info-data":
            self.data += data


TEXT = st.text(st.one_of(st.characters(exclude_categories=("Cs",)), st.sampled_from(["<", ">", "&", '"', "'", "/"])))


@settings(max_examples=60, deadline=None)
@given(model_name=TEXT, tensor_name=TEXT, command=TEXT)
def test_the_page_is_inert_for_any_name(model_name: str, tensor_name: str, command: str) -> None:
    info = PageInfo(
        title=f"{model_name} embeddings",
        model_name=model_name,
        tensors=(TensorSummary(tensor_name, 3, 4),),
        tool_version="0",
        created="2026-01-01T00:00:00Z",
        command=command,
        projector_version="0",
    )
    page = render_page(info)
    parts = PageParts()
    parts.feed(page)
    parts.close()
    assert parts.tags == [
        "html", "head", "meta", "meta", "meta", "link", "title", "style", "body", "header", "h1", "ul", "li",
        "span", "span", "span", "details", "summary", "time", "code", "a", "details", "summary", "code", "p",
        "vz-projector-app", "script", "script", "script",
    ]  # fmt: skip
    assert parts.heading == model_name
    assert json.loads(parts.data)["model_name"] == model_name
    assert json.loads(parts.data)["tensors"][0]["name"] == tensor_name
