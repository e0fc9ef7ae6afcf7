"""The README's Usage section is every command's --help, generated from the parser itself.

`make golden` (UPDATE_GOLDEN=1) rewrites it; a mismatch shows the diff.
"""

from __future__ import annotations

import difflib
import os
import re

from support import ROOT

from projector_bundle.cli import usage_text

README = ROOT / "README.md"
BLOCK = re.compile(r"(<!-- usage:start -->\n```text\n)(.*?)(```\n<!-- usage:end -->)", re.S)


def test_usage_section_is_the_parsers_help() -> None:
    text = README.read_text(encoding="utf-8")
    match = BLOCK.search(text)
    assert match, "README.md has no <!-- usage:start --> ... <!-- usage:end --> block"
    expected = usage_text()
    if os.environ.get("UPDATE_GOLDEN"):
        README.write_text(text[: match.start(2)] + expected + text[match.end(2) :], encoding="utf-8")
        return
    diff = "".join(difflib.unified_diff(match[2].splitlines(True), expected.splitlines(True), "README.md", "--help"))
    assert match[2] == expected, f"README's usage differs from the parser's help (make golden rewrites it):\n{diff}"
