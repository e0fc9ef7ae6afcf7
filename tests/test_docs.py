"""docs/cli.md holds every command's --help, generated from the parser itself; the README stays a front door.

`make golden` (UPDATE_GOLDEN=1) rewrites it; a mismatch shows the diff.
"""

from __future__ import annotations

import difflib
import os
import re

from support import ROOT

from projector_bundle.cli import usage_text

CLI_DOC = ROOT / "docs" / "cli.md"
README = ROOT / "README.md"
# The front door stays short: reference material lives in docs/.
MAX_README_LINES = 200
BLOCK = re.compile(r"(<!-- usage:start -->\n```text\n)(.*?)(```\n<!-- usage:end -->)", re.S)


def test_usage_section_is_the_parsers_help() -> None:
    text = CLI_DOC.read_text(encoding="utf-8")
    match = BLOCK.search(text)
    assert match, "docs/cli.md has no <!-- usage:start --> ... <!-- usage:end --> block"
    expected = usage_text()
    if os.environ.get("UPDATE_GOLDEN"):
        CLI_DOC.write_text(text[: match.start(2)] + expected + text[match.end(2) :], encoding="utf-8")
        return
    diff = "".join(difflib.unified_diff(match[2].splitlines(True), expected.splitlines(True), "docs/cli.md", "--help"))
    assert match[2] == expected, f"docs/cli.md differs from the parser's help (make golden rewrites it):\n{diff}"


def test_the_readme_is_a_front_door_that_links_only_to_files_that_exist() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= MAX_README_LINES
    assert "make bundle" in text and "make test" in text
    for target in re.findall(r"\]\(((?:docs/|CONTRIBUTING)[^)#]*)", text):
        assert (ROOT / target).is_file(), target
