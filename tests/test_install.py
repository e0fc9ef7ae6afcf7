"""`pip install .` gives a working command: the wheel carries the package and its page templates."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from support import ROOT

from projector_bundle.projector.formats import CONFIG_JSON, PAGE_HTML


@pytest.mark.packaged
def test_the_wheel_in_a_fresh_venv_builds_the_default_bundle(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    build = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels), "."]
    subprocess.run(build, cwd=ROOT, check=True, capture_output=True)
    (wheel,) = wheels.glob("projector_bundle-*.whl")

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index"]
    subprocess.run([*install, str(wheel)], check=True, capture_output=True)
    # The heavy runtime (torch, transformers, ...) comes from this environment's site-packages,
    # appended after the fresh venv's own, so `projector_bundle` is the installed wheel's.
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True
    ).stdout.strip()
    Path(purelib, "runtime.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    work = tmp_path / "elsewhere"  # not the repository: the templates must come from the wheel
    work.mkdir()
    where = subprocess.run(
        [python, "-c", "import projector_bundle; print(projector_bundle.__file__)"],
        cwd=work, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert where.startswith(str(venv)), where
    result = subprocess.run(
        [venv / "bin" / "projector-bundle", "bundle", "--out", "site", "--quiet", "--projections", "none"],
        cwd=work, capture_output=True, text=True, env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "sentence-transformers/all-MiniLM-L6-v2" in (work / "site" / PAGE_HTML).read_text(encoding="utf-8")
    (embedding,) = json.loads((work / "site" / CONFIG_JSON).read_text())["embeddings"]
    assert embedding["tensorShape"] == [30522, 384]
