"""The GitHub Pages workflow: it parses, uses GitHub's Pages actions, and hands the Pages URL to `make bundle`."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml
from support import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "pages.yml"
PAGES_ACTIONS = [
    "actions/checkout",
    "actions/setup-python",
    "actions/configure-pages",
    "actions/upload-pages-artifact",
    "actions/deploy-pages",
]


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def steps(workflow: dict, job: str = "build") -> list[dict]:
    return workflow["jobs"][job]["steps"] + (workflow["jobs"]["deploy"]["steps"] if job == "build" else [])


def test_runs_on_push_to_main_and_by_hand(workflow: dict) -> None:
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["push"]["branches"] == ["main"]
    assert "workflow_dispatch" in triggers


def test_uses_githubs_pages_actions_pinned_to_a_major_version(workflow: dict) -> None:
    uses = [step["uses"] for step in steps(workflow) if "uses" in step]
    assert [u.split("@")[0] for u in uses] == PAGES_ACTIONS
    assert all(re.fullmatch(r"v\d+", u.split("@")[1]) for u in uses), uses


def test_tests_pass_before_anything_is_built_or_deployed(workflow: dict) -> None:
    test = workflow["jobs"]["test"]
    assert workflow["jobs"]["build"]["needs"] == "test"
    assert [s["uses"].split("@")[0] for s in test["steps"] if "uses" in s] == ["actions/checkout"]
    assert any(s.get("run", "").split()[:3] == ["make", "lint", "test"] for s in test["steps"])
    assert test["container"].split(":")[1].endswith("bookworm")  # Debian: the chromium the tests need


def test_may_deploy_pages(workflow: dict) -> None:
    assert workflow["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    deploy = workflow["jobs"]["deploy"]
    assert deploy["needs"] == "build"
    assert deploy["environment"]["name"] == "github-pages"


def test_builds_with_the_pages_url_and_uploads_the_bundle(workflow: dict) -> None:
    build = workflow["jobs"]["build"]["steps"]
    pages_step = next(s for s in build if s.get("uses", "").startswith("actions/configure-pages"))
    make_step = next(s for s in build if "make bundle" in s.get("run", ""))
    upload = next(s for s in build if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert build.index(pages_step) < build.index(make_step) < build.index(upload)
    assert f'BASE_URL="${{{{ steps.{pages_step["id"]}.outputs.base_url }}}}"' in make_step["run"]
    makefile_out = re.search(r"^OUT \?= (\S+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)[1]
    assert upload["with"]["path"] == makefile_out


def test_make_bundle_passes_base_url_to_the_export(workflow: dict) -> None:
    make = shutil.which("make")
    assert make, "make is missing"
    dry_run = subprocess.run(
        [make, "-n", "--no-print-directory", "bundle", "BASE_URL=https://octo.github.io/repo", "BUNDLE_ARGS=--no-tsv"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    command = " ".join(dry_run.replace("\\\n", " ").split())
    assert (
        "export.py bundle --out site --sentences examples/sentences.txt --base-url https://octo.github.io/repo --no-tsv"
        in command
    )
