"""The module's plan-level facts (tests/module/plan/*.tftest.hcl) under both CLIs.

`tofu test` and `terraform test` run them with mocked providers: no emulator, seconds per
run. They run in a copy of the module, since `init` writes a lock file beside it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail
from tests.module.emulated import ROOT

PLAN_TESTS = Path(__file__).with_name("plan")


def tofu_cli() -> str:
    binary = os.environ.get("TOFU_BIN") or shutil.which("tofu")
    if not binary:
        skip_or_fail("module", "no tofu binary (run `make tools`)")
    return binary


def run_native_tests(binary: str, tmp_path: Path) -> str:
    tree = tmp_path / "module"
    tree.mkdir()
    for path in [*ROOT.glob("*.tf"), ROOT / "function.zip"]:
        shutil.copy(path, tree)
    shutil.copytree(PLAN_TESTS, tree / "tests")
    env = {**os.environ, "TF_DATA_DIR": str(tmp_path / "data"), "TF_IN_AUTOMATION": "1"}
    init = subprocess.run(
        [binary, "init", "-backend=false", "-input=false", "-no-color"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert init.returncode == 0, init.stdout + init.stderr
    result = subprocess.run(
        [binary, "test", "-no-color"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def summary(output: str) -> tuple[int, int]:
    """(passed, failed) from the CLI's closing line, e.g. 'Success! 28 passed, 0 failed.'"""
    last = [line for line in output.splitlines() if " passed, " in line][-1]
    words = last.replace(",", "").replace(".", "").split()
    return int(words[words.index("passed") - 1]), int(words[words.index("failed") - 1])


def expected_runs() -> int:
    return sum(
        line.startswith("run ")
        for path in PLAN_TESTS.glob("*.tftest.hcl")
        for line in path.read_text().splitlines()
    )


@pytest.mark.module
def test_plan_facts_under_opentofu(tmp_path):
    assert summary(run_native_tests(tofu_cli(), tmp_path)) == (expected_runs(), 0)


@pytest.mark.module
def test_plan_facts_under_terraform(tmp_path, terraform_cli):
    assert summary(run_native_tests(terraform_cli, tmp_path)) == (expected_runs(), 0)
