"""The committed benchmark figures say what they were measured with, and still match it.

docs/benchmarks/results.json records the commit and the handler configuration of its run
(bench.run.handler_configuration, read from ecs_state's Settings, the client it builds and
the module's defaults). When the code's configuration moves on, the figures describe a
handler that no longer exists: this fails until `make bench` measures them again.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from bench.run import handler_configuration
from tests.conftest import skip_or_fail

ROOT = Path(__file__).resolve().parents[2]
RESULTS = json.loads((ROOT / "docs" / "benchmarks" / "results.json").read_text())


def test_committed_results_were_measured_with_the_codes_handler_settings():
    assert RESULTS["context"]["handler"] == handler_configuration(), (
        "docs/benchmarks/results.json was measured with other handler settings than the "
        "code's: run `make bench` and commit docs/benchmarks/"
    )


def test_committed_results_name_a_commit_of_this_history():
    commit = RESULTS["context"]["source"]["commit"]
    assert re.fullmatch(r"[0-9a-f]{40}", commit), commit
    shallow = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--is-shallow-repository"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if shallow != "false":
        skip_or_fail("bench", "a shallow clone cannot tell whether results.json's commit is ours")
    ancestor = subprocess.run(
        ["git", "-C", str(ROOT), "merge-base", "--is-ancestor", commit, "HEAD"], check=False
    )
    assert ancestor.returncode == 0, f"{commit} is not an ancestor of HEAD"
