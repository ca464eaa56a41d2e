"""The README's snippets are the examples' code, and every checkov skip says why."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SNIPPET = re.compile(r"<!-- BEGIN_EXAMPLE (\S+) -->\n```hcl\n(.*?)```\n<!-- END_EXAMPLE -->", re.S)


def test_readme_snippets_are_the_examples_code():
    snippets = SNIPPET.findall((ROOT / "README.md").read_text())
    assert {path for path, _ in snippets} >= {"examples/ec2/main.tf", "examples/fargate/main.tf"}
    for path, code in snippets:
        assert code == (ROOT / path).read_text(), f"README snippet of {path} differs from the file"


def test_every_checkov_skip_is_justified():
    skips = []
    for path in ROOT.glob("*.tf"):
        skips += re.findall(r"#checkov:skip=([A-Z0-9_]+)(?::(.*))?", path.read_text())
    assert skips, "the module documents its checkov skips"
    for check, reason in skips:
        assert len(reason.strip()) >= 30, f"{check} is skipped without a reason"
