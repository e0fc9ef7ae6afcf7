"""Odd paths, names, numbers and files, through argv, the environment or a file: each is one
`error:` line naming it (or works), never a traceback, and nothing is lost or left behind."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import sys
import time
from pathlib import Path

import pytest
from safetensors.numpy import load_file, save_file
from support import TINY_SENTENCES, assert_untouched, bundle_args, copy_model, leftovers, run_failing, snapshot

from projector_bundle import cli
from projector_bundle.output import swap
from projector_bundle.projector.formats import CONFIG_JSON, DEFAULT_FILES, MANIFEST_JSON, PAGE_HTML
from projector_bundle.projector.validate import validate_bundle

WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"


def messages(folder: Path) -> list[str]:
    return [str(p) for p in validate_bundle(folder)]


# --- D1: names that are not UTF-8 ---


def test_an_out_name_that_is_not_utf8(tiny_model: Path, tmp_path: Path) -> None:
    out = Path(os.fsdecode(bytes(tmp_path) + b"/site\xff"))
    assert cli.main(bundle_args(tiny_model, out)) == 0
    page = (out / PAGE_HTML).read_text(encoding="utf-8")
    assert "site\\\\xff" in page  # the command line shown, as a \xff escape inside JSON
    assert validate_bundle(out) == []


def test_a_model_folder_name_that_is_not_utf8(tiny_model: Path, previous: Path, tmp_path: Path, capsys) -> None:
    model = copy_model(tiny_model, Path(os.fsdecode(bytes(tmp_path) + b"/model\xff")))
    before = snapshot(previous)
    for command in (bundle_args(model, previous), ["inspect", "--model", str(model)]):
        err = run_failing(command, capsys)
        assert err == (
            f"error: --model {tmp_path}/model\\xff: its path is not valid UTF-8, which transformers cannot open; "
            "rename the folder\n"
        )
    assert_untouched(previous, before)


def test_a_sentences_file_name_that_is_not_utf8(tiny_model: Path, tmp_path: Path) -> None:
    sentences = Path(os.fsdecode(bytes(tmp_path) + b"/s\xff.txt"))
    sentences.write_text("\n".join(TINY_SENTENCES) + "\n")
    out = tmp_path / "site"
    assert cli.main(bundle_args(tiny_model, out, "--sentences", str(sentences))) == 0
    assert "s\\\\xff.txt" in (out / PAGE_HTML).read_text(encoding="utf-8")
    assert validate_bundle(out) == []


# --- D2: 2,000 levels deep ---


def test_an_out_deeper_than_the_recursion_limit(tiny_model: Path, tmp_path: Path, monkeypatch) -> None:
    """Path.mkdir(parents=True) recursed once a level: a RecursionError past about 1,000 levels.
    Here 700 levels under a limit of 600 (pytest itself cannot remove a folder 1,000 deep)."""
    monkeypatch.chdir(tmp_path)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(600)
    try:
        out = Path(*["d"] * 700)
        assert cli.main(bundle_args(tiny_model, out)) == 0
    finally:
        sys.setrecursionlimit(limit)
    assert cli.main(bundle_args(tiny_model, out)) == 0
    assert (out / MANIFEST_JSON).is_file()


def test_an_out_path_longer_than_the_system_allows(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    out = Path(*["d"] * 2000)
    err = run_failing(bundle_args(tiny_model, out), capsys)
    full = len(os.fsencode(tmp_path / out))
    assert err == (
        f"error: --out {out}: its full path is {full:,} bytes; with the staging folder's name and the bundle's "
        f"file names the run would need {full + 18 + 1 + 100:,}, and this system allows 4,095\n"
    )
    assert list(tmp_path.iterdir()) == []


# --- D4: a full disk while the lock is written; an empty stale lock ---


def test_a_lock_that_cannot_be_written_is_removed(
    tiny_model: Path, previous: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    def full(pid: int) -> str:
        raise OSError(28, os.strerror(28))

    monkeypatch.setattr(swap, "owner_line", full)
    before = snapshot(previous)
    err = run_failing(bundle_args(tiny_model, previous), capsys)
    assert err == f"error: --out {previous}: cannot create a folder in {previous.parent}: No space left on device\n"
    assert_untouched(previous, before)


def test_an_empty_stale_lock_is_not_a_living_run(tiny_model: Path, previous: Path) -> None:
    lock = previous.parent / f".{previous.name}.abcd1234.lock"
    partial = previous.parent / f".{previous.name}.abcd1234.partial"
    lock.write_text("")
    partial.mkdir()
    old = time.time() - swap.EMPTY_LOCK_SECONDS - 5
    os.utime(lock, (old, old))
    assert cli.main(bundle_args(tiny_model, previous)) == 0
    assert leftovers(previous) == []


def test_a_fresh_empty_lock_is_left_alone(tiny_model: Path, previous: Path) -> None:
    """Just made, not yet written: its run may be alive."""
    lock = previous.parent / f".{previous.name}.abcd1234.lock"
    lock.write_text("")
    assert cli.main(bundle_args(tiny_model, previous)) == 0
    assert leftovers(previous) == [lock.name]


# --- D5, D6: files that are too large, never end, or never open ---


def fifo_or_zero(path: Path, kind: str) -> None:
    path.unlink(missing_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "zero":
        path.symlink_to("/dev/zero")
    else:  # a sparse file of 3 GB: no disk, but reading it whole would take 3 GB of memory
        with open(path, "wb") as file:
            file.truncate(3 * 10**9)


@pytest.mark.parametrize("kind", ["fifo", "zero", "sparse"])
def test_a_manifest_that_is_not_a_small_file_is_not_ours(kind: str, tiny_model: Path, previous: Path, capsys) -> None:
    fifo_or_zero(previous / MANIFEST_JSON, kind)
    before = {p.name for p in previous.iterdir()}
    err = run_failing(bundle_args(tiny_model, previous), capsys)
    assert err.startswith(f"error: --out {previous}: the folder is not empty and has no manifest.json from export.py")
    assert {p.name for p in previous.iterdir()} == before
    assert leftovers(previous) == []


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("fifo", "error: vectors.bookmarks.json: not a file"),
        ("zero", "error: vectors.bookmarks.json: a link to /dev/zero, outside the bundle folder"),
        (
            "sparse",
            "error: vectors.bookmarks.json: 3,000,000,000 bytes, more than the 67,108,864 expected at most; "
            "expected a JSON file",
        ),
    ],
)
def test_validate_reads_no_bookmarks_file_whole(kind: str, expected: str, tiny_bundle: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(tiny_bundle, site)
    fifo_or_zero(site / DEFAULT_FILES.bookmarks, kind)
    assert expected in messages(site)


@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_a_model_config_that_is_not_a_file(kind: str, tiny_model: Path, previous: Path, tmp_path: Path, capsys) -> None:
    model = copy_model(tiny_model, tmp_path / "model")
    fifo_or_zero(model / "config.json", kind)
    before = snapshot(previous)
    err = run_failing(bundle_args(model, previous), capsys)
    detail = (
        "not a regular file but a FIFO (named pipe)" if kind == "fifo" else "not a regular file but a character device"
    )
    assert err == f"error: {model / 'config.json'}: cannot be read ({detail})\n"
    assert_untouched(previous, before)


# --- D10: a table whose rows disagree with vocab_size ---


def test_rows_that_disagree_with_vocab_size_are_named(tiny_model: Path, previous: Path, tmp_path: Path, capsys) -> None:
    model = copy_model(tiny_model, tmp_path / "model")
    config = json.loads((model / "config.json").read_text())
    config["vocab_size"] = 30
    (model / "config.json").write_text(json.dumps(config))
    before = snapshot(previous)
    for command in (bundle_args(model, previous), ["inspect", "--model", str(model)]):
        err = run_failing(command, capsys)
        assert err == (
            f"error: {model / 'config.json'}: vocab_size is 30, but the word-embedding table {WORD_EMBEDDINGS} "
            "in model.safetensors has 24 rows; they must agree\n"
        )
    assert_untouched(previous, before)


# --- smaller items ---


def test_a_raw_pickle_is_refused_without_torchs_warning(tiny_model: Path, previous: Path, tmp_path: Path, capsys):
    model = copy_model(tiny_model, tmp_path / "pickled")
    tensors = load_file(model / "model.safetensors")
    (model / "model.safetensors").unlink()
    with open(model / "pytorch_model.bin", "wb") as file:
        pickle.dump({name: value.tolist() for name, value in tensors.items()}, file, protocol=4)
    before = snapshot(previous)
    err = run_failing(bundle_args(model, previous), capsys)
    assert err.splitlines() == [
        f"error: --model {model}: torch.load(weights_only=True) refused its PyTorch weights (Unsupported operand 149)"
    ]
    assert_untouched(previous, before)


def test_a_negative_vocab_id_quotes_only_its_entry(tiny_model: Path, tmp_path: Path, capsys) -> None:
    model = copy_model(tiny_model, tmp_path / "model")
    tokenizer = json.loads((model / "tokenizer.json").read_text())
    tokenizer["model"]["vocab"]["the"] = -3
    (model / "tokenizer.json").write_text(json.dumps(tokenizer))
    err = run_failing(["tokenize", "--model", str(model), "the bank"], capsys)
    assert err == (
        f'error: {model / "tokenizer.json"}: a WordPiece vocab must map tokens to ids of 0 or more, got "the": -3\n'
    )


def test_auto_map_with_a_known_type_runs_no_code_and_says_so(tiny_model: Path, tmp_path: Path, capsys) -> None:
    sentinel = tmp_path / "ran"
    model = copy_model(tiny_model, tmp_path / "custom")
    config = json.loads((model / "config.json").read_text())
    config["auto_map"] = {"AutoModel": "custom.Model"}
    (model / "config.json").write_text(json.dumps(config))
    (model / "custom.py").write_text(f"open({str(sentinel)!r}, 'w').close()\n")
    out = tmp_path / "site"
    assert cli.main(bundle_args(model, out, "--tensors", "word,position")) == 0
    assert capsys.readouterr().err == (
        f"warning: --model {model}: its config.json names its own Python code (auto_map), which export.py never "
        "runs; it is read with transformers' built-in class for model_type 'bert'\n"
    )
    assert not sentinel.exists()


def test_validate_a_file_says_not_a_folder(tiny_bundle: Path, capsys) -> None:
    err = run_failing(["validate", str(tiny_bundle / PAGE_HTML)], capsys)
    assert err == f"error: {tiny_bundle / PAGE_HTML}: not a folder\n"
    assert messages(tiny_bundle / PAGE_HTML) == [f"error: {tiny_bundle / PAGE_HTML}: not a folder"]


def test_validate_names_a_loop_of_links(tiny_bundle: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(tiny_bundle, site)
    (site / DEFAULT_FILES.metadata).unlink()
    (site / DEFAULT_FILES.metadata).symlink_to(DEFAULT_FILES.metadata)
    assert f"error: {DEFAULT_FILES.metadata}: a loop of symbolic links" in messages(site)


@pytest.mark.parametrize(
    ("bookmarks", "expected"),
    [
        ([{"projections": 5}, 3, None], "bookmark 1: 'projections' must be a list of objects, got a number"),
        ([3], "bookmark 1 is a number, expected an object"),
        ([{"projections": [{"pca-0": 1}]}, None], "bookmark 2 is null, expected an object"),
        ([{"projections": [5]}], "bookmark 1: 'projections' must be a list of objects, got a list with a non-object"),
        ([{"projections": [{}] * 25}], "bookmark 1: 25 projections, but the tensor has 24"),
    ],
)
def test_validate_rejects_malformed_bookmarks(bookmarks: list, expected: str, tiny_bundle: Path, tmp_path: Path):
    site = tmp_path / "site"
    shutil.copytree(tiny_bundle, site)
    (site / DEFAULT_FILES.bookmarks).write_text(json.dumps(bookmarks))
    found = [m for m in messages(site) if DEFAULT_FILES.bookmarks in m and "sha256" not in m and "bytes, but" not in m]
    assert found == [f"error: {DEFAULT_FILES.bookmarks}: {expected}"]


def test_validate_rejects_a_size_written_as_a_string(tiny_bundle: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(tiny_bundle, site)
    manifest = json.loads((site / MANIFEST_JSON).read_text())
    size = manifest["files"][PAGE_HTML]["size"]
    manifest["files"][PAGE_HTML]["size"] = str(size)
    (site / MANIFEST_JSON).write_text(json.dumps(manifest))
    digest = manifest["files"][PAGE_HTML]["sha256"]
    assert messages(site) == [
        f"error: {MANIFEST_JSON}: {PAGE_HTML}: size must be a whole number of bytes and sha256 a string, "
        f'got "{size}" and "{digest}"'
    ]


@pytest.mark.parametrize("key", ["modelCheckpointPath", "modelCheckpointDir"])
def test_validate_rejects_an_absolute_checkpoint_path(key: str, tiny_bundle: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(tiny_bundle, site)
    config = json.loads((site / CONFIG_JSON).read_text())
    config[key] = "/etc/passwd"
    (site / CONFIG_JSON).write_text(json.dumps(config))
    problems = messages(site)
    assert f"error: {CONFIG_JSON}: {key} '/etc/passwd' is absolute; it must be relative to the bundle" in problems


@pytest.mark.parametrize(("link", "target"), [("root", "/"), ("up", ".."), ("more/etc", "../../etc")])
def test_validate_rejects_links_out_of_the_bundle(link: str, target: str, tiny_bundle: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(tiny_bundle, site)
    (site / "more").mkdir()
    (site / link).symlink_to(target)
    resolved = (site / link).resolve()
    assert messages(site) == [f"error: {link}: a link to {resolved}, outside the bundle folder"]
    (site / link).unlink()
    (site / link).symlink_to(f"../{site.name}/{PAGE_HTML}" if "/" not in link else f"../{PAGE_HTML}")
    assert messages(site) == []  # a link that leads back inside is fine


@pytest.mark.parametrize("url", ["https://user:secret@example.github.io/r/", "https://token@example.github.io/r/"])
def test_a_base_url_with_credentials_is_refused(url: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["bundle", "--base-url", url])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == (
        "export.py bundle: error: argument --base-url: expected a URL without a user name or password, which the "
        "bundle would publish, got 'https://***@example.github.io/r/'"
    )
    assert "secret" not in err and "token" not in err


def test_a_dangling_link_out_is_refused(tiny_model: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "site"
    out.symlink_to(tmp_path / "elsewhere" / "deep")
    err = run_failing(bundle_args(tiny_model, out), capsys)
    assert err == (
        f"error: --out {out}: {out} is a link to {tmp_path / 'elsewhere' / 'deep'}, which does not exist; "
        "create that folder or remove the link\n"
    )
    assert not (tmp_path / "elsewhere").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_a_model_table_saved_as_safetensors_still_loads(tiny_model: Path, tmp_path: Path) -> None:
    """The row check names a mismatch only: a table that agrees with vocab_size passes it."""
    model = copy_model(tiny_model, tmp_path / "model")
    tensors = load_file(model / "model.safetensors")
    save_file(tensors, model / "model.safetensors")
    assert cli.main(bundle_args(model, tmp_path / "site")) == 0
