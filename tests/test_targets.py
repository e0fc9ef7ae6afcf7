"""Awkward --out targets: a folder that appears mid-run, a mount point, a loop of links, a name
too long, the current folder. Each is one error line before any work, or at the swap, and the
previous bundle stays byte-identical with nothing left beside it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support import bundle_args, leftovers, mounted, run_failing, snapshot

from projector_bundle import cli
from projector_bundle.output import bundle, swap
from projector_bundle.projector.formats import MANIFEST_JSON
from projector_bundle.projector.validate import validate_bundle

NOT_OURS = (
    "the folder is not empty and has no manifest.json from export.py; "
    "pass --force to write the bundle into it (files of the same names are replaced, the others kept)"
)


def no_model(tmp_path: Path) -> Path:
    """A model that does not exist: an error about --out must come before the model is looked at."""
    return tmp_path / "no-such-model"


# --- a folder that appears at --out while the run works ---


def appearing_at(out: Path, monkeypatch: pytest.MonkeyPatch, make) -> None:
    """Run `make(out)` once the bundle's files are written, before the swap: as another program would."""
    write_files = bundle.write_files

    def then_someone_writes(*args: object, **kwargs: object) -> object:
        written = write_files(*args, **kwargs)
        make(out)
        return written

    monkeypatch.setattr(bundle, "write_files", then_someone_writes)


def write_notes(out: Path) -> None:
    out.mkdir(exist_ok=True)
    (out / "notes.txt").write_text("precious")


def test_a_folder_that_appears_during_the_run_is_kept(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "site"
    appearing_at(out, monkeypatch, write_notes)
    err = run_failing(bundle_args(tiny_model, out), capsys)
    assert err == f"error: --out {out}: {NOT_OURS}\n"
    assert snapshot(out) == {"notes.txt": b"precious"}
    assert leftovers(out) == []


def test_a_bundle_replaced_by_another_folder_during_the_run_is_kept(
    tiny_model: Path, previous: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def replace(out: Path) -> None:
        shutil.rmtree(out)
        write_notes(out)

    appearing_at(previous, monkeypatch, replace)
    err = run_failing(bundle_args(tiny_model, previous), capsys)
    assert err == f"error: --out {previous}: {NOT_OURS}\n"
    assert snapshot(previous) == {"notes.txt": b"precious"}
    assert leftovers(previous) == []


def test_force_writes_into_a_folder_that_appears_during_the_run_and_keeps_its_files(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "site"
    appearing_at(out, monkeypatch, write_notes)
    assert cli.main(bundle_args(tiny_model, out, "--force")) == 0
    assert (out / MANIFEST_JSON).is_file()
    assert (out / "notes.txt").read_text() == "precious"
    assert leftovers(out) == []


# --- targets refused before any work ---


def test_a_mount_point_is_refused_up_front(
    tiny_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mnt"
    out.mkdir()
    with mounted(out, "-t", "tmpfs", "tmpfs") as real:
        if not real:  # no mount allowed here: the same answer from os.path.ismount
            monkeypatch.setattr(swap.os.path, "ismount", lambda path: Path(path) == out)
        for p in tiny_bundle.iterdir():
            shutil.copy(p, out)
        before = snapshot(out)
        err = run_failing(bundle_args(no_model(tmp_path), out, "--force"), capsys)
        assert err == (
            f"error: --out {out}: is a mount point, which export.py cannot swap for a new folder; "
            f"use a folder inside it, such as --out {out}/site\n"
        )
        assert snapshot(out) == before
        assert leftovers(out) == []


def test_a_folder_inside_a_mount_point_works(tiny_model: Path, tmp_path: Path) -> None:
    disk = tmp_path / "mnt"
    disk.mkdir()
    with mounted(disk, "-t", "tmpfs", "tmpfs"):
        assert cli.main(bundle_args(tiny_model, disk / "site")) == 0
        assert cli.main(bundle_args(tiny_model, disk / "site")) == 0
        assert validate_bundle(disk / "site") == []
        assert sorted(p.name for p in disk.iterdir()) == ["site"]


def test_a_loop_of_links_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    for out in (tmp_path / "a", tmp_path / "a" / "site"):
        err = run_failing(bundle_args(no_model(tmp_path), out), capsys)
        assert err == f"error: --out {out}: cannot follow it: a loop of symbolic links\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]


def test_a_name_too_long_for_its_staging_folder_is_refused_up_front(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / ("n" * 240)  # fits, but `.NAME.TOKEN.partial` beside it would not
    err = run_failing(bundle_args(no_model(tmp_path), out), capsys)
    assert err == (
        f"error: --out {out}: the folder name is 240 bytes; the staging folder beside it needs 18 more "
        "and this file system allows 255, so use a name of at most 237 bytes\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_parent_name_too_long_is_refused_up_front(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / ("p" * 256) / "site"
    err = run_failing(bundle_args(no_model(tmp_path), out), capsys)
    assert err == f"error: --out {out}: the name {'p' * 20}… is 256 bytes; this file system allows 255\n"
    assert list(tmp_path.iterdir()) == []


def test_the_longest_name_allowed_works(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / ("n" * 237)
    assert cli.main(bundle_args(tiny_model, out)) == 0
    assert validate_bundle(out) == []
    assert leftovers(out) == []


# --- the current folder ---


def test_out_dot_from_inside_the_bundle_keeps_the_size_warning(
    tiny_model: Path, previous: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(previous)
    assert cli.main(bundle_args(tiny_model, Path("."), "--max-file-mb", "1")) == 0
    err = capsys.readouterr().err
    assert err.startswith("warning: projector_binary.js is 2.0 MB: over 1 MB (--max-file-mb)")
    assert len(err.splitlines()) == 1
    assert validate_bundle(previous) == []
    assert leftovers(previous) == []
    # The shell's folder was swapped away, so a second `--out .` has nothing to name: one line.
    err = run_failing(bundle_args(tiny_model, Path(".")), capsys)
    assert err == (
        "error: --out .: the current folder no longer exists (an earlier run may have replaced it); cd into it again\n"
    )
    assert validate_bundle(previous) == []
    assert leftovers(previous) == []
