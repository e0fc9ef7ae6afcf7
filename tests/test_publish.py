"""Publishing options: --base-url, the remote config and its link, TSV size options, the size warning."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest
from support import PUBLISHED_BASE_URL, leftovers, read_tensor_bytes, snapshot

from projector_bundle import cli
from projector_bundle.output.publish import build_remote_config, normalise_base_url, projector_link, size_warning
from projector_bundle.output.writers import write_tensor_tsv
from projector_bundle.projector.formats import CONFIG_JSON, DEFAULT_FILES, REMOTE_CONFIG_JSON
from projector_bundle.projector.schema import EmbeddingInfo
from projector_bundle.projector.validate import check_config


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://octo.github.io/repo", "https://octo.github.io/repo/"),
        ("https://octo.github.io/repo/", "https://octo.github.io/repo/"),
        ("https://octo.github.io", "https://octo.github.io/"),
        ("http://127.0.0.1:8000/site/", "http://127.0.0.1:8000/site/"),
    ],
)
def test_base_url_gets_one_trailing_slash(text: str, expected: str) -> None:
    assert normalise_base_url(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("octo.github.io/repo", "expected an http:// or https:// URL, got 'octo.github.io/repo'"),
        ("ftp://octo.github.io/", "expected an http:// or https:// URL, got 'ftp://octo.github.io/'"),
        ("file:///tmp/site/", "expected an http:// or https:// URL, got 'file:///tmp/site/'"),
        ("https:///repo/", "expected a URL with a host, got 'https:///repo/'"),
        ("https://octo.github.io/repo/?v=1", "expected a folder URL without ?query or #fragment, got 'https://octo.github.io/repo/?v=1'"),
        ("https://octo.github.io/repo/#top", "expected a folder URL without ?query or #fragment, got 'https://octo.github.io/repo/#top'"),
    ],
)  # fmt: skip
def test_bad_base_url_is_a_usage_error(text: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["bundle", "--base-url", text])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"export.py bundle: error: argument --base-url: {message}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        *((url, "a port from 1 to 65535 in the URL") for url in
          ["https://o.github.io:99999/", "https://o.github.io:0/", "https://o.github.io:-1/", "https://o.github.io:http/"]),
        *((url, "a URL without spaces or control characters") for url in
          ["https://o.github.io/re\npo/", "https://o.github.io/re\tpo/", "https://o.github.io/my repo/",
           "https://o.github.io/\r", "\x7fhttps://o.github.io/", "https://o.github.io/\u200brepo/", " https://o.github.io/"]),
    ],
)  # fmt: skip
def test_a_base_url_with_a_bad_port_or_hidden_characters_is_a_usage_error(
    text: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["bundle", "--base-url", text])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"export.py bundle: error: argument --base-url: expected {expected}, got {text!r}"
    )


def test_remote_config_makes_every_path_absolute() -> None:
    config = [
        EmbeddingInfo("a", (2, 3), "a.bytes", metadata_path="a.tsv"),
        EmbeddingInfo("b", (2, 3), "b.bytes", bookmarks_path="b.txt"),
    ]
    remote = build_remote_config(config, "https://o.github.io/r/")
    assert remote == {
        "embeddings": [
            {"tensorName": "a", "tensorShape": [2, 3], "tensorPath": "https://o.github.io/r/a.bytes",
             "metadataPath": "https://o.github.io/r/a.tsv"},
            {"tensorName": "b", "tensorShape": [2, 3], "tensorPath": "https://o.github.io/r/b.bytes",
             "bookmarksPath": "https://o.github.io/r/b.txt"},
        ]
    }  # fmt: skip
    assert config[0].tensor_path == "a.bytes"  # the relative entries are left alone


def test_projector_link_survives_the_projectors_query_parser() -> None:
    link = projector_link("https://o.github.io/r/?")
    assert (
        link
        == "https://projector.tensorflow.org/?config=https%3A%2F%2Fo.github.io%2Fr%2F%3Fprojector_config.remote.json"
    )
    # The projector splits on "&" and "=", then decodes each value.
    query = link.split("?", 1)[1]
    assert [pair.split("=") for pair in query.split("&")] == [["config", query.split("=")[1]]]
    assert unquote(query.split("=")[1]) == "https://o.github.io/r/?projector_config.remote.json"


def test_published_bundle_has_both_configs(published_bundle: Path) -> None:
    local = json.loads((published_bundle / CONFIG_JSON).read_text())
    remote = json.loads((published_bundle / REMOTE_CONFIG_JSON).read_text())
    problems, embeddings = check_config(local)  # the written config parses back into the one schema
    assert problems == []
    assert remote == build_remote_config(embeddings, PUBLISHED_BASE_URL + "/")


def test_plain_bundle_has_no_remote_config(tiny_bundle: Path) -> None:
    assert not (tiny_bundle / REMOTE_CONFIG_JSON).exists()
    assert 'id="projector-link"' not in (tiny_bundle / "index.html").read_text()


# --- file sizes ---

MB = 1_000_000


def warnings(stderr: str) -> list[str]:
    """Our lines on stderr, without the progress bars transformers draws while loading."""
    return [line for line in stderr.splitlines() if line.startswith(("warning:", "error:"))]


def test_sizes_within_the_bound_say_nothing() -> None:
    assert size_warning({"vectors.tsv": 100 * MB, "vectors.bytes": 47 * MB}, 100, {"vectors.tsv"}) is None


def test_an_oversized_tsv_names_every_way_out() -> None:
    sizes = {"vectors.tsv": 290_412_345, "vectors.bytes": 93_763_584, "metadata.tsv": 600_000}
    assert size_warning(sizes, 100, {"vectors.tsv"}) == (
        "vectors.tsv is 290.4 MB: over 100 MB (--max-file-mb), which GitHub refuses in a git push; "
        "ways out: --limit N (fewer rows), --no-tsv (the page reads the .bytes file), "
        "--tsv-digits 4 (a shorter TSV), a larger --max-file-mb where the host allows it"
    )


def test_oversized_bytes_can_only_lose_rows() -> None:
    sizes = {"vectors.bytes": 93_763_584, "metadata.tsv": 600_000}
    assert size_warning(sizes, 50, {"vectors.tsv"}) == (
        "vectors.bytes is 93.8 MB: over 50 MB (--max-file-mb), which GitHub refuses in a git push; "
        "ways out: --limit N (fewer rows), a larger --max-file-mb where the host allows it"
    )


def test_several_oversized_files_are_listed_by_name() -> None:
    sizes = {"vectors.tsv": 2_500_000, "vectors.bytes": 1_500_000, "metadata.tsv": 10}
    assert size_warning(sizes, 1.2, {"vectors.tsv"}) == (
        "vectors.bytes is 1.5 MB, vectors.tsv is 2.5 MB: over 1.2 MB (--max-file-mb), which GitHub refuses "
        "in a git push; ways out: --limit N (fewer rows), --no-tsv (the page reads the .bytes file), "
        "--tsv-digits 4 (a shorter TSV), a larger --max-file-mb where the host allows it"
    )


def test_export_warns_about_oversized_files_and_still_writes(
    tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "site"
    args = ["bundle", "--model", str(tiny_model), "--out", str(out), "--max-file-mb", "0.001", "--quiet"]
    assert cli.main(args) == 0
    sizes = {p.name: p.stat().st_size for p in out.iterdir()}
    assert sizes[DEFAULT_FILES.tsv] > 1000  # the bound is 1000 bytes
    # The tensor's files are advised about before they are written, with the reductions that fix them;
    # the other files (the page, the projector) after, with the ways a host allows.
    tensor_files = {DEFAULT_FILES.bytes, DEFAULT_FILES.tsv, DEFAULT_FILES.metadata}
    after = size_warning({n: s for n, s in sizes.items() if n not in tensor_files}, 0.001, {DEFAULT_FILES.tsv})
    advice, rest = warnings(capsys.readouterr().err)
    assert rest == f"warning: {after}"
    assert "projector_binary.js is 2.0 MB" in after and "vectors.tsv" not in after
    assert advice.startswith("warning: tensor tiny-bert/word_embeddings is too heavy for a page: metadata.tsv is ")
    # In bytes: as kB or MB a file just over a limit this small would read as the limit itself.
    assert re.search(r"vectors\.tsv is [1-9][\d,]+ bytes, over the 1,000 bytes file limit", advice)
    assert advice.endswith("Ways out: --limit 11 (the first rows), --sample 11 (a seeded uniform sample)")


def test_no_warning_within_the_default_bound(
    tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["bundle", "--model", str(tiny_model), "--out", str(tmp_path / "s"), "--quiet"]) == 0
    assert warnings(capsys.readouterr().err) == []


@pytest.mark.parametrize("value", ["0", "-1", "many", "nan", "inf", "-inf", "1e308", "1e-6", "0.0009", "1e9000"])
def test_bad_max_file_mb_is_a_usage_error(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["bundle", f"--max-file-mb={value}"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "export.py bundle: error: argument --max-file-mb: expected a number of megabytes from 0.001 to "
        f"1,000,000,000, got {value!r}"
    )


# --- the ways out: --no-tsv and --tsv-digits ---


def test_no_tsv_leaves_the_vectors_tsv_out(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    assert cli.main(["bundle", "--model", str(tiny_model), "--out", str(out), "--no-tsv", "--quiet"]) == 0
    assert not (out / DEFAULT_FILES.tsv).exists()
    assert read_tensor_bytes(out / DEFAULT_FILES.bytes, 8).shape == (24, 8)
    assert json.loads((out / CONFIG_JSON).read_text())["embeddings"][0]["tensorPath"] == DEFAULT_FILES.bytes


def test_tsv_digits_rounds_to_significant_digits(tiny_model: Path, tiny_bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    assert cli.main(["bundle", "--model", str(tiny_model), "--out", str(out), "--tsv-digits", "3", "--quiet"]) == 0
    exact = read_tensor_bytes(out / DEFAULT_FILES.bytes, 8)
    cells = [line.split("\t") for line in (out / DEFAULT_FILES.tsv).read_text().splitlines()]
    assert cells == [[f"{float(x):.3g}" for x in row] for row in exact]
    assert (out / DEFAULT_FILES.tsv).stat().st_size < (tiny_bundle / DEFAULT_FILES.tsv).stat().st_size


def test_tsv_writer_digits_default_is_exact(tmp_path: Path) -> None:
    matrix = np.array([[0.1, 1 / 3], [-2.5e-10, 16777216.0]], dtype=np.float32)
    write_tensor_tsv(tmp_path / "exact.tsv", matrix)
    write_tensor_tsv(tmp_path / "short.tsv", matrix, digits=2)
    assert (tmp_path / "short.tsv").read_text() == "0.1\t0.33\n-2.5e-10\t1.7e+07\n"
    back = np.loadtxt(tmp_path / "exact.tsv", dtype=np.float32, delimiter="\t")
    np.testing.assert_array_equal(back, matrix)


@pytest.mark.parametrize("value", ["0", "10", "-3", "four"])
def test_bad_tsv_digits_is_a_usage_error(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["bundle", f"--tsv-digits={value}"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"export.py bundle: error: argument --tsv-digits: expected an integer from 1 to 9, got {value!r}"
    )


def test_no_tsv_and_tsv_digits_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["bundle", "--no-tsv", "--tsv-digits", "4"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "export.py bundle: error: argument --tsv-digits: not allowed with argument --no-tsv"
    )


# --- the environment and the URL are checked before any work ---


@pytest.mark.parametrize("epoch", ["abc", "1e9", "", "1767225600.5", "99999999999999999999"])
def test_a_bad_source_date_epoch_is_a_usage_error(
    epoch: str, tiny_model: Path, previous: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", epoch)
    before = snapshot(previous)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["bundle", "--model", str(tiny_model), "--out", str(previous), "--quiet"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"export.py bundle: error: SOURCE_DATE_EPOCH: expected whole seconds since 1970 such as 1767225600, "
        f"got {epoch!r}"
    )
    assert snapshot(previous) == before
    assert leftovers(previous) == []


def test_a_bad_base_url_writes_nothing(tiny_model: Path, previous: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(previous)
    args = ["bundle", "--model", str(tiny_model), "--out", str(previous), "--base-url", "https://o.github.io:99999/"]
    with pytest.raises(SystemExit) as exit_info:
        cli.main(args)
    assert exit_info.value.code == 2
    assert "Traceback" not in capsys.readouterr().err
    assert snapshot(previous) == before
    assert leftovers(previous) == []
