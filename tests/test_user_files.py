"""The inputs and the user's own files survive every run: --out may never be, hold or lie inside
an input (--force or not), and a rebuild replaces exactly the files the old manifest lists,
keeping every other file and folder in --out (docs/reliability.md, "Your files in --out")."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from support import TINY_SENTENCES, leftovers, run_failing, snapshot
from test_reliability import bundle_args

from projector_bundle import cli
from projector_bundle.output import bundle
from projector_bundle.projector.formats import MANIFEST_JSON, PAGE_HTML
from projector_bundle.projector.validate import validate_bundle

APART = "the bundle must go to a folder apart from its inputs"


def tree(folder: Path) -> dict[str, bytes | str]:
    """Every file (its bytes), link (its target) and empty folder under `folder`, by relative path."""
    found: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if path.is_symlink():
            found[name] = f"-> {os.readlink(path)}"
        elif path.is_file():
            found[name] = path.read_bytes()
        elif path.is_dir() and not any(path.iterdir()):
            found[name] = "empty folder"
    return found


# --- R1: inputs are sacred ---


@pytest.mark.parametrize("force", [False, True])
def test_out_is_the_model_folder(force: bool, tiny_model: Path, tmp_path: Path, capsys) -> None:
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    before = tree(model)
    err = run_failing(bundle_args(model, model, *(["--force"] if force else [])), capsys)
    assert err == f"error: --out {model}: is the --model input {model}; {APART}\n"
    assert tree(model) == before
    assert leftovers(model) == []


def test_out_inside_the_model_folder(tiny_model: Path, tmp_path: Path, capsys) -> None:
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    before = tree(model)
    out = model / "site"
    err = run_failing(bundle_args(model, out, "--force"), capsys)
    assert err == f"error: --out {out}: lies inside the --model input {model}; {APART}\n"
    assert tree(model) == before


def test_out_holding_the_model_folder(tiny_model: Path, tmp_path: Path, capsys) -> None:
    home = tmp_path / "home"
    model = home / "models" / "tiny"
    shutil.copytree(tiny_model, model)
    before = tree(home)
    err = run_failing(bundle_args(model, home, "--force"), capsys)
    assert err == f"error: --out {home}: holds the --model input {model}; {APART}\n"
    assert tree(home) == before
    assert leftovers(home) == []


def test_out_through_a_link_to_the_model_folder(tiny_model: Path, tmp_path: Path, capsys) -> None:
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    before = tree(model)
    link = tmp_path / "site"
    link.symlink_to(model)
    err = run_failing(bundle_args(model, link, "--force"), capsys)
    assert err == f"error: --out {link}: is the --model input {model}; {APART}\n"
    assert tree(model) == before


def test_out_holding_the_sentences_file(tiny_model: Path, previous: Path, capsys) -> None:
    sentences = previous / "sentences.txt"
    sentences.write_text("\n".join(TINY_SENTENCES) + "\n")
    before = snapshot(previous)
    err = run_failing(bundle_args(tiny_model, previous, "--sentences", str(sentences)), capsys)
    assert err == f"error: --out {previous}: holds the --sentences input {sentences}; {APART}\n"
    assert snapshot(previous) == before
    assert leftovers(previous) == []


def test_every_input_path_is_listed_once() -> None:
    """The one place a new input flag (--texts, --vectors) adds itself to the check."""
    from projector_bundle.pipeline import BundleOptions

    options = BundleOptions(models=(None, "bert-base-uncased", "."), sentences="-")
    assert options.input_paths() == (("--model", Path(".")),)
    assert BundleOptions(sentences="s.txt").input_paths() == (("--sentences", Path("s.txt")),)


# --- R2: a rebuild keeps what is not ours ---


def users_files(out: Path, tiny_model: Path) -> None:
    """What a GitHub Pages folder and a person keep beside a bundle."""
    (out / "CNAME").write_text("embeddings.example.org\n")
    (out / ".nojekyll").write_text("")
    (out / ".git" / "objects" / "ab").mkdir(parents=True)
    (out / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (out / ".git" / "objects" / "ab" / "cdef").write_bytes(b"\x78\x9c object")
    (out / ".git" / "empty").mkdir()
    (out / "notes.txt").write_text("precious")
    (out / "latest").symlink_to(PAGE_HTML)
    shutil.copytree(tiny_model, out / "models" / "old-model")


def test_a_rebuild_keeps_every_file_it_did_not_write(tiny_model: Path, previous: Path) -> None:
    users_files(previous, tiny_model)
    theirs = {name: data for name, data in tree(previous).items() if name not in json.loads(
        (previous / MANIFEST_JSON).read_text())["files"] and name != MANIFEST_JSON}  # fmt: skip
    # A file an earlier run wrote (its manifest lists it) and this one does not write.
    (previous / "stale.json").write_text("[]")
    manifest = json.loads((previous / MANIFEST_JSON).read_text())
    manifest["files"]["stale.json"] = {"size": 3, "sha256": "0" * 64}
    (previous / MANIFEST_JSON).write_text(json.dumps(manifest))
    mtime = (previous / "notes.txt").stat().st_mtime_ns

    assert cli.main(bundle_args(tiny_model, previous, "--no-tsv")) == 0
    after = tree(previous)
    assert {name: after.get(name) for name in theirs} == theirs
    assert (previous / "notes.txt").stat().st_mtime_ns == mtime  # the same file, not a copy
    assert not (previous / "stale.json").exists()
    assert not (previous / "vectors.tsv").exists()  # written before, listed, not written now
    assert leftovers(previous) == []
    assert validate_bundle(previous) == []
    # Everything but the user's files is the new bundle, exactly as its manifest lists it.
    listed = set(json.loads((previous / MANIFEST_JSON).read_text())["files"]) | {MANIFEST_JSON}
    assert set(after) - set(theirs) == listed


def test_a_failed_rebuild_keeps_the_user_files_too(
    tiny_model: Path, previous: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """A failure while the user's files are carried over leaves the old folder whole."""
    users_files(previous, tiny_model)
    before = tree(previous)
    calls = []
    real_link = os.link

    def full_after_two(*args: object, **kwargs: object) -> None:
        calls.append(args)
        if len(calls) > 2:
            raise OSError(28, os.strerror(28))
        real_link(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "link", full_after_two)
    err = run_failing(bundle_args(tiny_model, previous), capsys)
    assert err == f"error: --out {previous}: writing the bundle failed: No space left on device\n"
    assert tree(previous) == before
    assert leftovers(previous) == []


def test_a_folder_of_ours_keeps_the_users_file_inside_it(tiny_model: Path, previous: Path) -> None:
    """A folder an earlier run wrote files into: its listed files go, a user's file in it stays,
    and a folder left with nothing of the user's goes too."""
    for name in ("old/vectors.bytes", "old/deeper/metadata.tsv", "gone/vectors.bytes"):
        (previous / name).parent.mkdir(parents=True, exist_ok=True)
        (previous / name).write_bytes(b"ours")
    (previous / "old" / "deeper" / "mine.txt").write_text("mine")
    manifest = json.loads((previous / MANIFEST_JSON).read_text())
    for name in ("old/vectors.bytes", "old/deeper/metadata.tsv", "gone/vectors.bytes"):
        manifest["files"][name] = {"size": 4, "sha256": "0" * 64}
    (previous / MANIFEST_JSON).write_text(json.dumps(manifest))
    assert cli.main(bundle_args(tiny_model, previous)) == 0
    assert {k: v for k, v in tree(previous).items() if "/" in k} == {"old/deeper/mine.txt": b"mine"}
    assert not (previous / "gone").exists()
    assert validate_bundle(previous) == []


def test_a_file_appearing_in_the_bundle_during_a_rebuild_is_kept(
    tiny_model: Path, previous: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_files = bundle.write_files

    def then_someone_writes(*args: object, **kwargs: object) -> object:
        written = write_files(*args, **kwargs)
        (previous / "CNAME").write_text("late.example.org\n")
        return written

    monkeypatch.setattr(bundle, "write_files", then_someone_writes)
    assert cli.main(bundle_args(tiny_model, previous)) == 0
    assert (previous / "CNAME").read_text() == "late.example.org\n"
