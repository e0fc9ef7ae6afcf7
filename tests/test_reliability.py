"""Bad input never crashes the export, never half-writes, never destroys the last good bundle.

Every failure here is real: damaged weight files, a pickle that would run code, a
tmpfs that fills up, a read-only mount, a SIGINT sent to a running export.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file
from support import (
    ROOT,
    TINY_VOCAB,
    assert_untouched,
    bundle_args,
    copy_model,
    leftovers,
    mounted,
    run_failing,
    save_big_bert,
    save_tiny_bert,
    snapshot,
    writing_tsv,
)

from projector_bundle import cli, signals
from projector_bundle.output import swap
from projector_bundle.projector.formats import DEFAULT_FILES, MANIFEST_JSON, PAGE_HTML
from projector_bundle.projector.validate import validate_bundle

WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"


# --- models that cannot be read ---


@pytest.mark.parametrize(
    ("damage", "detail"),
    [
        (
            lambda data: data[: len(data) // 2],
            'tensor "embeddings.word_embeddings.weight": data_offsets [1152, 1920] run past the end of the file '
            "(its data holds 1,180 bytes; shape [24, 8] of F32)",
        ),
        (lambda data: data[:100], "the header length says 2,240 bytes, but 92 follow it"),
        (
            lambda data: b"\xff" * 64 + data[64:],
            "the header length says 18,446,744,073,709,551,615 bytes, but 6,848 follow it",
        ),
        (
            lambda data: (10).to_bytes(8, "little") + b"{not json}" + data[18:],
            "the header is not valid JSON (Expecting property name enclosed in double quotes at line 1, column 2)",
        ),
        (lambda data: b"", "0 bytes: too short for safetensors (its header length takes 8)"),
    ],
    ids=["truncated", "truncated-header", "garbage-length", "garbage-json", "empty"],
)
def test_damaged_safetensors(
    damage, detail: str, tiny_model: Path, previous: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = copy_model(tiny_model, tmp_path / "damaged")
    weights = model / "model.safetensors"
    weights.write_bytes(damage(weights.read_bytes()))
    before = snapshot(previous)
    for command in (bundle_args(model, previous), ["inspect", "--model", str(model)]):
        err = run_failing(command, capsys)
        assert err.splitlines() == [f"error: {weights}: {detail}"]
    assert_untouched(previous, before)


def test_a_pickle_that_would_run_code_is_refused(
    tiny_model: Path, previous: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    sentinel = tmp_path / "pwned"

    class RunsCode:
        def __reduce__(self):
            return (os.system, (f"touch {sentinel}",))

    model = copy_model(tiny_model, tmp_path / "pickled")
    (model / "model.safetensors").unlink()
    torch.save({WORD_EMBEDDINGS: RunsCode()}, model / "pytorch_model.bin")
    before = snapshot(previous)
    err = run_failing(bundle_args(model, previous), capsys)
    assert err.splitlines()[-1] == (
        f"error: --model {model}: torch.load(weights_only=True) refused its PyTorch weights "
        "(Trying to load unsupported GLOBAL posix.system whose module posix is blocked.)"
    )
    assert not sentinel.exists()
    assert_untouched(previous, before)


def test_plain_pytorch_weights_still_load(tiny_model: Path, tmp_path: Path) -> None:
    import torch

    model = copy_model(tiny_model, tmp_path / "bin")
    tensors = {k: torch.from_numpy(v) for k, v in load_file(model / "model.safetensors").items()}
    (model / "model.safetensors").unlink()
    torch.save(tensors, model / "pytorch_model.bin")
    assert cli.main(bundle_args(model, tmp_path / "site")) == 0
    expected = tensors[WORD_EMBEDDINGS].numpy()
    assert (tmp_path / "site" / DEFAULT_FILES.bytes).read_bytes() == expected.astype("<f4").tobytes()


def test_a_model_that_needs_its_own_code_is_refused(
    tiny_model: Path, previous: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sentinel = tmp_path / "pwned"
    model = copy_model(tiny_model, tmp_path / "custom")
    config = json.loads((model / "config.json").read_text())
    config.update(model_type="custom-bert", auto_map={"AutoConfig": "custom.Config", "AutoModel": "custom.Model"})
    (model / "config.json").write_text(json.dumps(config))
    (model / "custom.py").write_text(f"open({str(sentinel)!r}, 'w').close()\n")
    before = snapshot(previous)
    err = run_failing(bundle_args(model, previous), capsys)
    assert err.splitlines()[-1] == (
        f"error: --model {model}: it needs its own Python code (auto_map in its config), which export.py never runs"
    )
    assert not sentinel.exists()
    assert_untouched(previous, before)


def test_non_finite_embeddings_fail_validation(
    tiny_model: Path, previous: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = copy_model(tiny_model, tmp_path / "nan")
    weights = load_file(model / "model.safetensors")
    weights[WORD_EMBEDDINGS][5, 3] = np.nan
    save_file(weights, model / "model.safetensors", metadata={"format": "pt"})
    before = snapshot(previous)
    err = run_failing(bundle_args(model, previous), capsys)
    assert err.splitlines()[-1] == (
        f"error: tensor {model.name}/word_embeddings: 1 NaN or infinite value (the first in row 6)"
    )
    assert_untouched(previous, before)


# --- --limit ---


def test_limit_larger_than_the_vocabulary_is_clamped_with_a_warning(
    tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "site"
    assert cli.main(bundle_args(tiny_model, out, "--limit", "100000")) == 0
    assert capsys.readouterr().err.splitlines() == [
        f"warning: --limit 100,000 is more than the {len(TINY_VOCAB)} vocabulary rows; exporting all of them"
    ]
    assert (out / DEFAULT_FILES.bytes).stat().st_size == len(TINY_VOCAB) * 8 * 4


def test_limit_equal_to_the_vocabulary_gives_no_warning(
    tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(bundle_args(tiny_model, tmp_path / "site", "--limit", str(len(TINY_VOCAB)))) == 0
    assert capsys.readouterr().err == ""


# --- the output folder ---


def test_a_folder_we_did_not_write_needs_force(
    tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "notes.txt").write_text("precious")
    (home / PAGE_HTML).write_text("the user's own page")
    before = snapshot(home)
    err = run_failing(bundle_args(tiny_model, home), capsys)
    assert err == (
        f"error: --out {home}: the folder is not empty and has no manifest.json from export.py; "
        "pass --force to write the bundle into it (files of the same names are replaced, the others kept)\n"
    )
    assert snapshot(home) == before
    assert leftovers(home) == []
    # --force writes the bundle in: a file of a bundle's name is replaced, every other file kept.
    assert cli.main(bundle_args(tiny_model, home, "--force")) == 0
    assert (home / "notes.txt").read_text() == "precious"
    assert (home / PAGE_HTML).read_text() != "the user's own page"
    assert validate_bundle(home) == []


def test_a_foreign_manifest_is_not_ours(tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "site"
    out.mkdir()
    (out / MANIFEST_JSON).write_text('{"generator": "some other tool"}')
    err = run_failing(bundle_args(tiny_model, out), capsys)
    assert err.startswith(f"error: --out {out}: the folder is not empty and has no manifest.json from export.py")


def test_an_empty_folder_needs_no_force(tiny_model: Path, tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    assert cli.main(bundle_args(tiny_model, tmp_path / "site")) == 0


def test_the_root_folder_is_refused(tiny_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = run_failing(bundle_args(tiny_model, Path("/"), "--force"), capsys)
    assert err == "error: --out /: cannot replace the root folder\n"


def test_the_disk_filling_up_mid_write(
    tiny_model: Path, tiny_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    used = sum(p.stat().st_size for p in tiny_bundle.iterdir())
    # Room for the old bundle and the new tensor files, not for the new page's projector script.
    size = (used // 4096 + 32) * 4096
    with mounted(disk, "-t", "tmpfs", "-o", f"size={size}", "tmpfs") as real:
        out = disk / "site"
        shutil.copytree(tiny_bundle, out)
        before = snapshot(out)
        if not real:  # no mount allowed: the projector copy fails as on a full disk

            def full(*args: object, **kwargs: object) -> None:
                raise OSError(28, os.strerror(28))

            monkeypatch.setattr(shutil, "copyfile", full)
        err = run_failing(bundle_args(tiny_model, out), capsys)
        assert err == f"error: --out {out}: writing the bundle failed: No space left on device\n"
        assert_untouched(out, before)
        assert sorted(p.name for p in disk.iterdir()) == ["site"]


def test_a_read_only_output(
    tiny_model: Path, tiny_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    parent = tmp_path / "ro"
    out = parent / "site"
    shutil.copytree(tiny_bundle, out)
    before = snapshot(out)
    with contextlib.ExitStack() as stack:
        read_only = stack.enter_context(mounted(parent, "--bind", str(parent))) and stack.enter_context(
            mounted(parent, "-o", "remount,bind,ro")
        )
        if read_only:
            why = "Read-only file system"
        elif os.geteuid() != 0:
            why = "Permission denied"  # permissions stop anyone but root
            parent.chmod(0o555)
            stack.callback(parent.chmod, 0o755)
        else:  # root where mounting is not allowed: a folder creation that fails as on a read-only mount
            why = "Read-only file system"

            def read_only_mkdtemp(*args: object, **kwargs: object) -> str:
                raise OSError(30, os.strerror(30))

            monkeypatch.setattr(swap.tempfile, "mkstemp", read_only_mkdtemp)
        err = run_failing(bundle_args(tiny_model, out), capsys)
    assert err == f"error: --out {out}: cannot create a folder in {parent}: {why}\n"
    assert_untouched(out, before)


# --- Ctrl-C ---


def test_an_interrupt_mid_export(previous: Path, tmp_path: Path) -> None:
    model = save_big_bert(tmp_path / "big-bert")
    before = snapshot(previous)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, str(ROOT / "export.py"), *bundle_args(model, previous)]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not writing_tsv(previous) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        assert process.poll() is None, "the export ended before it started its vectors TSV"
        process.send_signal(signal.SIGINT)  # while the TSV is being written
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130
    assert err.splitlines()[-1] == "error: interrupted"
    assert "Traceback" not in err
    assert_untouched(previous, before)


def test_an_interrupt_during_the_swap_waits_for_it() -> None:
    with pytest.raises(KeyboardInterrupt), signals.interrupts_deferred():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # the signal has been handled by now, and only noted
        finished = True
    assert finished
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# --- the same inputs give the same bytes ---


def test_a_rebuild_is_byte_identical(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    assert cli.main(bundle_args(tiny_model, out)) == 0
    first = snapshot(out)
    assert cli.main(bundle_args(tiny_model, out)) == 0
    assert snapshot(out) == first


def test_only_the_build_time_differs_without_a_fixed_epoch(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "site"
    assert cli.main(bundle_args(tiny_model, out)) == 0
    first = snapshot(out)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767312000")  # a day later
    assert cli.main(bundle_args(tiny_model, out)) == 0
    second = snapshot(out)
    assert sorted(k for k in first if first[k] != second[k]) == [PAGE_HTML, MANIFEST_JSON]
    assert json.loads(second[MANIFEST_JSON])["created"] == "2026-01-02T00:00:00Z"


# --- awkward vocabularies ---

AWKWARD = ["a\tb", 'say "hi"', "it's", "<script>alert(1)</script>", "&amp;", "שלום", "مرحبا", "🙂",
           "👩\u200d👩\u200d👧", "\ufeff", "\u3000", " ", "x\\ny"]  # fmt: skip


@pytest.mark.parametrize("labels", ["token", "token,length"])
def test_awkward_vocabularies_keep_every_row(labels: str, tmp_path: Path) -> None:
    vocab = [*TINY_VOCAB[:7], *AWKWARD]
    model = save_tiny_bert(tmp_path / "awkward", vocab=vocab)
    out = tmp_path / "site"
    assert cli.main(bundle_args(model, out, "--labels", labels)) == 0
    assert validate_bundle(out) == []
    lines = (out / DEFAULT_FILES.metadata).read_text(encoding="utf-8").split("\n")
    words = [line.split("\t")[0] for line in lines[(1 if "," in labels else 0) : -1]]
    assert len(words) == len(vocab)
    # The tokenizer strips whitespace-only lines of vocab.txt, so "\u3000" and " " both
    # become "": the first id loses its text, the second keeps an empty one.
    assert words[7:] == ["a\u2409b", 'say "hi"', "it's", "<script>alert(1)</script>", "&amp;", "שלום", "مرحبا",
                         "🙂", "👩\u200d👩\u200d👧", "[U+FEFF]", "[id 17]", "[empty]", "x\\ny"]  # fmt: skip


def test_an_awkward_model_name_is_escaped_in_the_page(tiny_model: Path, tmp_path: Path) -> None:
    from html.parser import HTMLParser

    name = "<img src=x onerror=alert(1)>\"'&amp;"
    model = copy_model(tiny_model, tmp_path / name)
    out = tmp_path / "site"
    assert cli.main(bundle_args(model, out)) == 0
    page = (out / PAGE_HTML).read_text(encoding="utf-8")

    class Tags(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.tags: list[str] = []
            self.title = ""
            self._in_h1 = False

        def handle_starttag(self, tag: str, attrs: list) -> None:
            self.tags.append(tag)
            self._in_h1 = tag == "h1"

        def handle_endtag(self, tag: str) -> None:
            self._in_h1 = False

        def handle_data(self, data: str) -> None:
            if self._in_h1:
                self.title += data

    parser = Tags()
    parser.feed(page)
    assert "img" not in parser.tags
    assert parser.tags.count("script") == 3  # the data, the projector, view.js: none from the name
    assert parser.title == model.name  # the folder name: a page never shows a local path
