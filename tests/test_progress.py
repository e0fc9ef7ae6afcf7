"""Progress: bars on a terminal, plain step lines in a pipe, nothing with --quiet."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support import ROOT


def run_export(args: list[str], terminal: bool) -> str:
    """export.py in a subprocess, its stderr a pseudo-terminal or a pipe; returns what stderr got."""
    command = [sys.executable, "export.py", *args]
    if not terminal:
        return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stderr
    leader, follower = pty.openpty()
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=follower) as process:
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert process.wait() == 0
    os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.fixture
def bundle_args(tiny_model: Path, tmp_path: Path) -> list[str]:
    return ["bundle", "--model", str(tiny_model), "--out", str(tmp_path / "site")]


def test_a_terminal_gets_a_bar_for_the_vectors(bundle_args: list[str]) -> None:
    err = run_export(bundle_args, terminal=True)
    assert re.search(r"\rexport: writing vectors\.tsv: +100%.* 24\.0/24\.0 \[.*row/s\]", err), err
    assert "export: labelling 24 tokens" in err


def test_a_pipe_gets_step_lines_only(bundle_args: list[str]) -> None:
    err = run_export(bundle_args, terminal=False)
    assert "export: labelling 24 tokens" in err
    assert "%|" not in err and "\r" not in err


def test_quiet_prints_nothing_even_on_a_terminal(bundle_args: list[str]) -> None:
    assert run_export([*bundle_args, "--quiet"], terminal=True) == ""
