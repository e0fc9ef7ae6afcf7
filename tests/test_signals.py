"""Kills and stop signals: one `error: interrupted` line, the previous bundle kept, and what a
SIGKILL leaves behind cleared by the next run. The signals are real, sent to a running export."""

from __future__ import annotations

import errno
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import ROOT, bundle_args, leftovers, run_failing, save_big_bert, snapshot, writing_tsv

from projector_bundle import cli, signals
from projector_bundle.output import swap
from projector_bundle.projector.validate import validate_bundle

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
# A new bundle that differs from `previous` (which has every row), so a test can tell which one it sees.
CHANGE = ("--limit", "10")
# Seeded, so a failure can be replayed; each test draws its own moments.
RANDOM_SEED = 20260101


def export(args: list[str], prelude: str = "") -> subprocess.Popen[str]:
    """`export.py` in a child process; `prelude` is Python run before `cli.main` (to inject a fault)."""
    code = f"import sys\nfrom projector_bundle import cli\n{prelude}\nsys.exit(cli.main(sys.argv[1:]))"
    command = [sys.executable, "-c", code, *args]
    return subprocess.Popen(command, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while not condition() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert process.poll() is None, "the export ended before the moment this test waits for"


def old_or_new(out: Path, before: dict[str, bytes]) -> str:
    """Which bundle `out` holds: the previous one, byte for byte, or a complete new one."""
    now = snapshot(out)
    if now == before:
        return "old"
    assert validate_bundle(out) == []
    return "new"


@pytest.fixture(scope="module")
def big_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_big_bert(tmp_path_factory.mktemp("big") / "big-bert")


@pytest.fixture(scope="module")
def run_seconds(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> float:
    """How long one export of the tiny model takes here: the span the random moments are drawn from."""
    out = tmp_path_factory.mktemp("timing") / "site"
    start = time.monotonic()
    process = export(bundle_args(tiny_model, out))
    process.communicate(timeout=120)
    assert process.returncode == 0
    return time.monotonic() - start


# --- SIGTERM and SIGHUP are Ctrl-C ---


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda s: s.name)
def test_a_stop_signal_mid_export_is_one_line(signum: signal.Signals, big_model: Path, previous: Path) -> None:
    before = snapshot(previous)
    process = export(bundle_args(big_model, previous))
    try:
        wait_for(lambda: writing_tsv(previous), process)
        process.send_signal(signum)  # while the vectors TSV is being written in the staging folder
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 128 + signum
    by = "" if signum == signal.SIGINT else f" by {signum.name}"
    assert err.splitlines() == [f"error: interrupted{by}"]
    assert snapshot(previous) == before
    assert leftovers(previous) == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_stop_signal_at_a_random_moment(
    signum: signal.Signals, tiny_model: Path, previous: Path, run_seconds: float
) -> None:
    moments = random.Random(RANDOM_SEED + signum)
    before = snapshot(previous)
    outcomes = []
    for _ in range(4):
        delay = moments.uniform(0, run_seconds * 1.2)
        process = export(bundle_args(tiny_model, previous, *CHANGE))
        time.sleep(delay)
        process.send_signal(signum)
        _, err = process.communicate(timeout=60)
        # Before Python has started, the signal's default action ends the process: nothing was written yet.
        assert process.returncode in (0, 128 + signum, -signum), (delay, err)
        if process.returncode == 128 + signum:
            assert err.splitlines() == [f"error: interrupted by {signum.name}"], (delay, err)
        else:
            assert err == "", (delay, err)
        outcomes.append((round(delay, 2), process.returncode, old_or_new(previous, before)))
        assert leftovers(previous) == [], outcomes
        assert "Traceback" not in err
    print(outcomes)


def test_a_signal_during_the_exchange_waits_for_it(
    tiny_model: Path, previous: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    exchange = swap._exchange

    def exchange_under_fire(a: Path, b: Path) -> bool:
        os.kill(os.getpid(), signal.SIGTERM)  # lands between the check and the exchange
        return exchange(a, b)

    monkeypatch.setattr(swap, "_exchange", exchange_under_fire)
    before = snapshot(previous)
    err = run_failing(bundle_args(tiny_model, previous, *CHANGE), capsys, code=128 + signal.SIGTERM)
    assert err == "error: interrupted by SIGTERM\n"
    # The swap finished first: the new bundle is whole, and the old one is gone, not left as a .partial.
    assert old_or_new(previous, before) == "new"
    assert leftovers(previous) == []
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_a_sigterm_during_the_swap_is_held_until_it_ends() -> None:
    with pytest.raises(signals.Interrupted) as stopped, signals.interrupts_deferred():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)  # handled by now, and only noted
        finished = True
    assert finished
    assert stopped.value.signum == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


# --- SIGKILL: nothing to catch, so the next run clears up ---


def test_sigkill_mid_export_leaves_leftovers_the_next_run_removes(
    big_model: Path, previous: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(previous)
    process = export(bundle_args(big_model, previous))
    try:
        wait_for(lambda: writing_tsv(previous), process)
        process.kill()
        process.communicate(timeout=60)
    finally:
        process.kill()
    left = leftovers(previous)
    assert [name.rsplit(".", 1)[1] for name in left] == ["lock", "partial"]
    assert snapshot(previous) == before
    # Any later run clears them, even one that fails (here: no such model).
    err = run_failing(bundle_args(previous.parent / "no-such-model", previous), capsys)
    assert "no-such-model" in err
    assert leftovers(previous) == []
    assert snapshot(previous) == before


def test_sigkill_at_a_random_moment_never_leaves_the_target_missing(
    tiny_model: Path, previous: Path, run_seconds: float, capsys: pytest.CaptureFixture[str]
) -> None:
    moments = random.Random(RANDOM_SEED)
    before = snapshot(previous)
    for _ in range(4):
        delay = moments.uniform(0, run_seconds * 1.2)
        process = export(bundle_args(tiny_model, previous, *CHANGE))
        time.sleep(delay)
        process.kill()
        process.communicate(timeout=60)
        assert previous.is_dir(), delay
        old_or_new(previous, before)
        kept = snapshot(previous)
        run_failing(bundle_args(previous.parent / "no-such-model", previous), capsys)
        assert leftovers(previous) == [], delay
        assert snapshot(previous) == kept


# --- the two-rename fallback, where renameat2's exchange is missing ---

NO_EXCHANGE = "from projector_bundle.output import swap\nswap._exchange = lambda a, b: False\n"


def test_the_fallback_swap_replaces_the_bundle(
    tiny_model: Path, previous: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(swap, "_exchange", lambda a, b: False)
    before = snapshot(previous)
    assert cli.main(bundle_args(tiny_model, previous, *CHANGE)) == 0
    assert old_or_new(previous, before) == "new"
    assert leftovers(previous) == []


def test_sigkill_between_the_two_renames_is_repaired_by_the_next_run(
    tiny_model: Path, previous: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prelude = NO_EXCHANGE + (
        "import os, signal\n"
        "rename = os.rename\n"
        "def rename_then_die(src, dst):\n"
        "    rename(src, dst)\n"
        "    if str(dst).endswith('.old'):\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "os.rename = rename_then_die\n"
    )
    before = snapshot(previous)
    process = export(bundle_args(tiny_model, previous, *CHANGE), prelude)
    process.communicate(timeout=120)
    assert process.returncode == -signal.SIGKILL
    # The one moment a kill can leave no bundle at --out: the old one lies aside as .old.
    assert not previous.exists()
    assert [name.rsplit(".", 1)[1] for name in leftovers(previous)] == ["lock", "old", "partial"]
    # The next run puts the old bundle back before anything else, even when it then fails.
    run_failing(bundle_args(previous.parent / "no-such-model", previous), capsys)
    assert snapshot(previous) == before
    assert leftovers(previous) == []


def test_a_failed_second_rename_puts_the_old_bundle_back(
    tiny_model: Path, previous: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(swap, "_exchange", lambda a, b: False)
    rename = os.rename

    def failing_rename(src: Path, dst: Path) -> None:
        if str(src).endswith(swap.STAGING_SUFFIX):
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        rename(src, dst)

    monkeypatch.setattr(os, "rename", failing_rename)
    before = snapshot(previous)
    err = run_failing(bundle_args(tiny_model, previous, *CHANGE), capsys)
    assert err == f"error: --out {previous}: writing the bundle failed: Input/output error\n"
    assert snapshot(previous) == before
    assert leftovers(previous) == []


def test_an_interrupt_raised_between_the_renames_puts_the_old_bundle_back(
    tiny_model: Path, previous: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(swap, "_exchange", lambda a, b: False)
    rename = os.rename

    def interrupted_rename(src: Path, dst: Path) -> None:
        if str(src).endswith(swap.STAGING_SUFFIX):
            raise KeyboardInterrupt  # as a signal handler would, between the two renames
        rename(src, dst)

    monkeypatch.setattr(os, "rename", interrupted_rename)
    before = snapshot(previous)
    err = run_failing(bundle_args(tiny_model, previous, *CHANGE), capsys, code=130)
    assert err == "error: interrupted\n"
    assert snapshot(previous) == before
    assert leftovers(previous) == []


# --- whose leftovers a run may remove ---


def write_leftover(out: Path, token: str, suffix: str, owner: str | None) -> Path:
    folder = out.with_name(f".{out.name}.{token}{suffix}")
    folder.mkdir()
    (folder / "vectors.tsv").write_text("0.5\n")
    if owner is not None:
        out.with_name(f".{out.name}.{token}.lock").write_text(owner)
    return folder


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_only_leftovers_of_runs_that_are_gone_are_removed(tiny_model: Path, previous: Path) -> None:
    me = swap.owner_line(os.getpid())
    living = write_leftover(previous, "alive000", ".partial", me)
    mine_aside = write_leftover(previous, "alive001", ".old", me)
    gone = write_leftover(previous, "dead0000", ".partial", f"{dead_pid()} 1\n")
    reused = write_leftover(previous, "reused00", ".partial", f"{os.getpid()} 1\n")  # same pid, another start
    unlocked = write_leftover(previous, "nolock00", ".old", None)
    being_written = write_leftover(previous, "empty000", ".partial", "")
    foreign = [
        write_leftover(previous, "ABCDEFGH", ".partial", None),  # not a name tempfile makes
        write_leftover(previous, "backup", "", None),
        previous.with_name(f"{previous.name}.abcdefgh.partial"),  # not hidden: not ours
        previous.with_name(f".other.abcdefgh{swap.STAGING_SUFFIX}"),
    ]
    for path in foreign[2:]:
        path.mkdir()
    assert cli.main(bundle_args(tiny_model, previous)) == 0
    for path in (living, mine_aside, being_written, *foreign):
        assert path.is_dir(), path.name
    for path in (gone, reused, unlocked):
        assert not path.exists(), path.name
        assert not path.with_name(path.name.rsplit(".", 1)[0] + ".lock").exists()
    assert validate_bundle(previous) == []
