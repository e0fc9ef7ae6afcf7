"""`export.py validate` and the checks behind it, on hand-made bundles and on ours."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from projector_bundle import cli
from projector_bundle.projector.formats import (
    CONFIG_JSON,
    DEFAULT_FILES,
    GIT_FILE_CASE,
    GITHUB_FILE_LIMIT,
    MANIFEST_JSON,
    PAGE_HTML,
)
from projector_bundle.projector.validate import Problem, check_config, validate_bundle

ROOT = Path(__file__).resolve().parent.parent
MATRIX = np.arange(12, dtype=np.float32).reshape(4, 3) / 7


def write_hand_made(folder: Path, **embedding: object) -> Path:
    """A minimal bundle as a person would write it: config, raw bytes and a 2-column metadata TSV."""
    folder.mkdir(parents=True, exist_ok=True)
    MATRIX.astype("<f4").tofile(folder / "t.bytes")
    (folder / "t.tsv").write_text("".join("\t".join(f"{v:.9g}" for v in row) + "\n" for row in MATRIX))
    (folder / "meta.tsv").write_text("word\tkind\na\tx\nb\tx\nc\ty\nd\ty\n", encoding="utf-8")
    info = {"tensorName": "t", "tensorShape": [4, 3], "tensorPath": "t.bytes", "metadataPath": "meta.tsv"}
    info.update(embedding)
    (folder / CONFIG_JSON).write_text(json.dumps({"embeddings": [info]}))
    return folder


def messages(problems: list[Problem]) -> list[str]:
    return [str(p) for p in problems]


def test_our_bundle_is_valid(tiny_bundle: Path) -> None:
    assert validate_bundle(tiny_bundle) == []


def test_a_hand_made_bundle_is_valid(tmp_path: Path) -> None:
    assert validate_bundle(write_hand_made(tmp_path / "b")) == []
    assert validate_bundle(write_hand_made(tmp_path / "tsv", tensorPath="t.tsv")) == []


def test_several_embeddings_bookmarks_and_sprite(tmp_path: Path) -> None:
    folder = write_hand_made(tmp_path / "b")
    (folder / "marks.json").write_text("[]")
    (folder / "sprite.png").write_bytes(b"\x89PNG")
    config = json.loads((folder / CONFIG_JSON).read_text())
    second = dict(config["embeddings"][0], tensorName="u", tensorPath="t.tsv", bookmarksPath="marks.json")
    second["sprite"] = {"imagePath": "sprite.png", "singleImageDim": [8, 8]}
    config["embeddings"].append(second)
    (folder / CONFIG_JSON).write_text(json.dumps(config))
    assert validate_bundle(folder) == []


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ([], ["error: projector_config.json: expected a JSON object, got a list"]),
        ({}, ["error: projector_config.json: 'embeddings' must be a non-empty list, got nothing"]),
        (
            {"embeddings": []},
            ["error: projector_config.json: 'embeddings' must be a non-empty list, got an empty list"],
        ),
        (
            {"embeddings": [{"tensorName": "t", "tensorShape": [4, 3], "tensorPath": "t.bytes"}], "extra": 1},
            ["warning: projector_config.json: unknown key 'extra'"],
        ),
        (
            {"embeddings": [{"tensorName": "", "tensorShape": [4], "tensorPath": "t.bytes"}]},
            [
                'error: projector_config.json: embeddings[0]: tensorName must be a non-empty string, got ""',
                "error: projector_config.json: embeddings[0]: tensorShape must be [rows, dimensions] > 0, got [4]",
            ],
        ),
        (
            {"embeddings": [{"tensorName": "t", "tensorShape": [4, 1], "tensorPath": "t.bytes"}]},
            [
                "error: projector_config.json: embeddings[0] (t): tensorShape has 1 dimension; "
                "the projector needs 2 or more"
            ],
        ),
        (
            {"embeddings": [{"tensorName": "t", "tensorShape": [4, True]}]},
            [
                "error: projector_config.json: embeddings[0] (t): tensorShape must be [rows, dimensions] > 0, "
                "got [4,true]",
                "error: projector_config.json: embeddings[0] (t): no tensorPath; "
                "a static bundle has no checkpoint to read from",
            ],
        ),
        (
            {"embeddings": [{"tensorName": "t", "tensorShape": [4, 3], "tensorPath": "t.bytes", "sprite": {}}]},
            [
                "error: projector_config.json: embeddings[0] (t): sprite.singleImageDim must be [width, height] > 0, "
                "got nothing",
                "error: projector_config.json: embeddings[0] (t): sprite.imagePath must be a non-empty string, "
                "got nothing",
            ],
        ),
    ],
)
def test_config_schema(config: object, expected: list[str]) -> None:
    assert messages(check_config(config)[0]) == expected


def test_tensor_names_are_unique() -> None:
    info = {"tensorName": "t", "tensorShape": [4, 3], "tensorPath": "t.bytes"}
    assert messages(check_config({"embeddings": [info, info]})[0]) == [
        "error: projector_config.json: embeddings[1] (t): tensorName 't' is used twice"
    ]


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/etc/passwd", "is absolute; it must be relative to the bundle"),
        ("../t.bytes", "leaves the bundle folder"),
        ("sub/../../t.bytes", "leaves the bundle folder"),
        ("https://example.com/t.bytes", "is a URL; a bundle must hold its own files"),
        ("//example.com/t.bytes", "is a URL; a bundle must hold its own files"),
        ("C:/t.bytes", "is absolute; it must be relative to the bundle"),
        ("sub\\t.bytes", "uses a backslash; URLs need '/'"),
        ("t.bytes?v=2", "holds '?', '#' or '%', which a URL reads differently"),
        ("t%20.bytes", "holds '?', '#' or '%', which a URL reads differently"),
    ],
)
def test_paths_stay_inside_the_bundle(tmp_path: Path, path: str, why: str) -> None:
    folder = write_hand_made(tmp_path / "b", tensorPath=path)
    assert messages(validate_bundle(folder)) == [
        f"error: projector_config.json: embeddings[0] (t): tensorPath {path!r} {why}"
    ]


def test_a_link_out_of_the_bundle_is_refused(tmp_path: Path) -> None:
    folder = write_hand_made(tmp_path / "b")
    (folder / "meta.tsv").rename(tmp_path / "elsewhere.tsv")
    (folder / "meta.tsv").symlink_to(tmp_path / "elsewhere.tsv")
    assert messages(validate_bundle(folder)) == [
        f"error: meta.tsv: a link to {tmp_path / 'elsewhere.tsv'}, outside the bundle folder"
    ]


def test_missing_files(tmp_path: Path) -> None:
    folder = write_hand_made(tmp_path / "b", bookmarksPath="marks.json")
    (folder / "t.bytes").unlink()
    (folder / "meta.tsv").unlink()
    assert messages(validate_bundle(folder)) == [
        "error: t.bytes: missing",
        "error: meta.tsv: missing",
        "error: marks.json: missing",
    ]


def test_bytes_size_is_rows_times_dim_times_four(tmp_path: Path) -> None:
    folder = write_hand_made(tmp_path / "b")
    with open(folder / "t.bytes", "ab") as f:
        f.write(b"\0\0\0")
    assert messages(validate_bundle(folder)) == ["error: t.bytes: 51 bytes, expected 4 rows x 3 dimensions x 4 = 48"]


def test_non_finite_values(tmp_path: Path) -> None:
    folder = write_hand_made(tmp_path / "b")
    bad = MATRIX.copy()
    bad[2, 1], bad[3, 0] = np.nan, np.inf
    bad.astype("<f4").tofile(folder / "t.bytes")
    assert messages(validate_bundle(folder)) == ["error: t.bytes: 2 NaN or infinite values (the first in row 3)"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1\t2\t3\n4\t5\t6\n\n7\t8\t9\n1\t1\t1\n", []),  # blank lines are skipped, as the projector does
        ("1\t2\t3\n4\t5\n7\t8\t9\n1\t1\t1\n", ["error: t.tsv line 2: 2 fields, expected 3"]),
        ("1\t2\t3\n4\tfive\t6\n7\t8\t9\n1\t1\t1\n", ["error: t.tsv line 2: a field is not a finite number"]),
        ("1\t2\t3\n4\tnan\t6\n7\t8\t9\n1\t1\t1\n", ["error: t.tsv line 2: a field is not a finite number"]),
        ("1\t2\t3\n4\t\t6\n7\t8\t9\n1\t1\t1\n", ["error: t.tsv line 2: a field is not a finite number"]),
        ("1\t2\t3\n4\t5\t6\n", ["error: t.tsv: 2 rows, but tensorShape says 4"]),
    ],
)
def test_vectors_tsv_rows(tmp_path: Path, text: str, expected: list[str]) -> None:
    folder = write_hand_made(tmp_path / "b", tensorPath="t.tsv")
    (folder / "t.tsv").write_text(text)
    assert messages(validate_bundle(folder)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a\nb\nc\nd\n", []),  # one column: no header
        ("a\nb\nc\nd", []),  # no final newline
        ("word\nb\nc\nd\ne\n", ["error: meta.tsv: 5 rows, but the tensor has 4"]),  # a header on one column
        ("a\tx\nb\tx\nc\tx\nd\tx\n", ["error: meta.tsv: 3 rows after the header, but the tensor has 4"]),
        ("word\tkind\na\tx\nb\nc\tx\nd\tx\n", ["error: meta.tsv line 3: 1 field, expected 2 as in the header"]),
        ("a\nb\tx\nc\nd\n", ["error: meta.tsv line 2: 2 fields, expected 1, as the first line has no tab"]),
        (
            "a\n \nc\nd\n",
            ["error: meta.tsv: 3 rows, but the tensor has 4 (line 2 is blank, and the projector skips blank lines)"],
        ),
        (
            "a\n\ufeff\n\u3000\nd\n",
            ["error: meta.tsv: 2 rows, but the tensor has 4 (line 2 is blank, and the projector skips blank lines)"],
        ),
        ("a\n\nb\nc\n\u3000\nd\n\n", []),  # blank lines between labels lose nothing
        ("a\r\nb\r\nc\r\nd\r\n", ["warning: meta.tsv: CRLF line ends; the projector keeps the \\r in the last column"]),
        ("", ["error: meta.tsv: no rows, but the tensor has 4"]),
    ],
)
def test_metadata_rules(tmp_path: Path, text: str, expected: list[str]) -> None:
    folder = write_hand_made(tmp_path / "b")
    (folder / "meta.tsv").write_text(text, encoding="utf-8", newline="")
    assert messages(validate_bundle(folder)) == expected


def test_metadata_must_be_utf8(tmp_path: Path) -> None:
    folder = write_hand_made(tmp_path / "b")
    (folder / "meta.tsv").write_bytes(b"a\nb\n\xff\nd\n")
    assert messages(validate_bundle(folder)) == ["error: meta.tsv: not UTF-8 (byte 4); the projector would show U+FFFD"]


def test_a_character_across_the_projectors_chunk_boundary(tmp_path: Path) -> None:
    folder = write_hand_made(tmp_path / "b")
    # Four rows; the third label is long enough that "é" (2 bytes) straddles byte 1,000,000.
    third = "c" * (1_000_000 - len("a\nb\n") - 1) + "é"
    (folder / "meta.tsv").write_text(f"a\nb\n{third}\nd\n", encoding="utf-8")
    assert messages(validate_bundle(folder)) == [
        "warning: meta.tsv: byte 1,000,000 is inside a multi-byte character on line 3; the projector "
        "decodes 1,000,000-byte chunks separately and will show U+FFFD there"
    ]
    (folder / "meta.tsv").write_text(f"a\nb\n{third[1:]}\nd\n", encoding="utf-8")  # one byte earlier: whole
    assert validate_bundle(folder) == []


def test_bookmarks_must_be_a_json_list(tmp_path: Path) -> None:
    folder = write_hand_made(tmp_path / "b", bookmarksPath="marks.json")
    (folder / "marks.json").write_text('{"a": 1}')
    assert messages(validate_bundle(folder)) == ["error: marks.json: expected a JSON list of bookmarks, got an object"]


def test_files_over_githubs_limit_get_a_warning(tmp_path: Path) -> None:
    folder = write_hand_made(tmp_path / "b")
    with open(folder / "big.bin", "wb") as f:  # sparse: no disk space used
        f.truncate(GITHUB_FILE_LIMIT + 1)
    with open(folder / "limit.bin", "wb") as f:
        f.truncate(GITHUB_FILE_LIMIT)
    assert messages(validate_bundle(folder)) == [
        f"warning: big.bin is 100.0 MiB, over the 100.0 MiB file limit: {GIT_FILE_CASE}"
    ]


def test_manifest_sizes_and_hashes(tiny_bundle: Path, tmp_path: Path) -> None:
    folder = tmp_path / "b"
    shutil.copytree(tiny_bundle, folder)
    page = (folder / PAGE_HTML).read_bytes()
    (folder / PAGE_HTML).write_bytes(page.replace(b"<title>", b"<title>X", 1)[:-1])  # same size, other bytes
    (folder / DEFAULT_FILES.tsv).write_text("1\t2\n")
    assert messages(validate_bundle(folder)) == [
        f"error: {PAGE_HTML}: its sha256 differs from the one in {MANIFEST_JSON}",
        f"error: {DEFAULT_FILES.tsv}: 4 bytes, but {MANIFEST_JSON} says "
        f"{json.loads((tiny_bundle / MANIFEST_JSON).read_text())['files'][DEFAULT_FILES.tsv]['size']:,}",
        f"error: {DEFAULT_FILES.tsv} line 1: 2 fields, expected 8",
        f"error: {DEFAULT_FILES.tsv}: 1 row, but tensorShape says 24",
    ]


# --- the command ---


def test_validate_command_on_a_good_bundle(tiny_bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["validate", str(tiny_bundle)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"validate: {tiny_bundle}: 0 errors, 0 warnings\n"


def test_validate_command_prints_one_line_per_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = write_hand_made(tmp_path / "b", tensorName="t", extra=1)
    (folder / "meta.tsv").write_text("word\tkind\na\tx\n")
    assert cli.main(["validate", str(folder)]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        "warning: projector_config.json: embeddings[0] (t): unknown key 'extra'",
        "error: meta.tsv: 1 row after the header, but the tensor has 4",
    ]
    assert captured.err == f"validate: {folder}: 1 error, 1 warning\n"


def test_validate_command_warnings_alone_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = write_hand_made(tmp_path / "b", extra=1)
    assert cli.main(["validate", str(folder)]) == 0
    assert capsys.readouterr().out == "warning: projector_config.json: embeddings[0] (t): unknown key 'extra'\n"


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (lambda f: None, "error: projector_config.json: missing"),
        (lambda f: (f / CONFIG_JSON).write_text("{embeddings: }"), "error: projector_config.json: not valid JSON"),
    ],
)
def test_validate_command_on_a_folder_without_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setup, expected: str
) -> None:
    setup(tmp_path)
    assert cli.main(["validate", str(tmp_path)]) == 1
    assert capsys.readouterr().out.startswith(expected)


def test_validate_command_on_a_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["validate", str(tmp_path / "nope")]) == 1
    assert capsys.readouterr().err == f"error: {tmp_path / 'nope'}: no such folder\n"


# --- bounded memory, and nothing read outside the folder ---


def peak_rss_mb_of_validate(folder: Path) -> tuple[float, list[str]]:
    """Validate in a fresh process and return its peak RSS (MB) and messages."""
    code = (
        "import json, sys; from pathlib import Path; "
        "from projector_bundle.projector.validate import validate_bundle; "
        "found = [str(p) for p in validate_bundle(Path(sys.argv[1]))]; "
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking pytest process.
        "peak = next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1]; "
        "print(json.dumps([int(peak) / 1024, found]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(folder)], capture_output=True, text=True, check=True, cwd=ROOT
    )
    rss, found = json.loads(done.stdout)
    return rss, found


def test_a_sparse_bytes_file_is_validated_in_bounded_memory(tmp_path: Path) -> None:
    rows, dim = 65_536, 800  # 200 MiB of zeros that take no disk
    folder = write_hand_made(tmp_path / "b", tensorShape=[rows, dim])
    (folder / "meta.tsv").write_text("w\n" * rows)
    with open(folder / "t.bytes", "wb") as f:
        f.truncate(rows * dim * 4)
        f.seek(rows * dim * 4 - 4)
        f.write(np.float32(np.inf).tobytes())  # the very last value, so every block is read
    rss, found = peak_rss_mb_of_validate(folder)
    assert found == [
        f"warning: t.bytes is 200.0 MiB, over the 100.0 MiB file limit: {GIT_FILE_CASE}",
        "error: t.bytes: 1 NaN or infinite value (the first in row 65,536)",
    ] or found == ["error: t.bytes: 1 NaN or infinite value (the first in row 65,536)",
                   f"warning: t.bytes is 200.0 MiB, over the 100.0 MiB file limit: {GIT_FILE_CASE}"]  # fmt: skip
    assert rss < 150, f"peak RSS {rss:.0f} MB for a 200 MiB file"


def test_a_sparse_tsv_and_metadata_are_read_in_bounded_memory(tmp_path: Path) -> None:
    folder = write_hand_made(tmp_path / "b", tensorPath="t.tsv")
    for name in ("t.tsv", "meta.tsv"):
        with open(folder / name, "wb") as f:
            f.truncate(200 * 1024 * 1024)  # NUL bytes, no newline
    rss, found = peak_rss_mb_of_validate(folder)
    assert found[:2] == [
        "error: t.tsv line 1: over 194 bytes, too long for 3 numbers",
        "error: meta.tsv: 1 row, but the tensor has 4",
    ]
    assert rss < 150, f"peak RSS {rss:.0f} MB for 200 MiB files"


@pytest.mark.parametrize("name", [CONFIG_JSON, MANIFEST_JSON])
def test_the_config_and_manifest_are_not_read_through_a_link_out(tmp_path: Path, name: str) -> None:
    folder = write_hand_made(tmp_path / "b")
    outside = tmp_path / "elsewhere.json"
    outside.write_bytes((folder / CONFIG_JSON).read_bytes() if name == CONFIG_JSON else b'{"files": {}}')
    (folder / name).unlink(missing_ok=True)
    (folder / name).symlink_to(outside)
    assert messages(validate_bundle(folder)) == [f"error: {name}: a link to {outside}, outside the bundle folder"]
    (folder / name).unlink()
    (folder / name).symlink_to("/etc/passwd")
    assert messages(validate_bundle(folder)) == [f"error: {name}: a link to /etc/passwd, outside the bundle folder"]


def test_a_nul_byte_in_a_path_is_a_problem_not_a_traceback(tmp_path: Path, capsys) -> None:
    folder = write_hand_made(tmp_path / "b", metadataPath="meta\u0000.tsv")
    assert messages(validate_bundle(folder)) == [
        "error: 'meta\\x00.tsv': not a possible file name (it holds a NUL byte)"
    ]
    (folder / MANIFEST_JSON).write_text(json.dumps({"files": {"a\u0000b": {"size": 1, "sha256": "x"}}}))
    assert "error: a\x00b: missing, but listed in manifest.json" in messages(validate_bundle(folder))
    assert cli.main(["validate", str(folder) + "\0"]) == 1
    assert capsys.readouterr().err.startswith("error: ")


def test_a_folder_nested_1100_levels_deep(tmp_path: Path) -> None:
    folder = write_hand_made(tmp_path / "b")
    deep = str(folder)
    try:
        for _ in range(1100):  # one mkdir at a time: pathlib's own mkdir(parents=True) would recurse
            deep += "/d"
            os.mkdir(deep)
        with open(deep + "/big.bin", "wb") as f:
            f.write(b"x")
        assert validate_bundle(folder) == []
        # A name longer than the system allows is a problem too (export.py's own is_dir check is the lead's).
        (problem,) = validate_bundle(Path(deep + "/d" * 1000))
        assert problem.severity == "error"
        assert problem.message.endswith(": cannot be opened (File name too long)")
    finally:  # pytest's own clean-up would recurse too
        if os.path.exists(deep + "/big.bin"):
            os.remove(deep + "/big.bin")
        while deep != str(folder):
            if os.path.isdir(deep):
                os.rmdir(deep)
            deep = deep.removesuffix("/d")
