"""The lowest OpenTofu and Terraform that versions.tf admits run the module as written:
init, validate, plan, apply against moto, a clean second plan and destroy, for both modes
(examples/ec2 and examples/fargate), with the provider mirror of the other tiers.

`make test` builds the floor CLIs first (`tools/bootstrap.sh all floors`).
A floor CLI that is missing fails the test with "SKIPPED: floors: ..." (the suite's skip
policy, tests/conftest.py); it never passes quietly.
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from scripts.demo import ROOT, LocalExample
from tests.conftest import skip_or_fail
from tests.support.tables import client

pytestmark = pytest.mark.module
CLIS = {
    "opentofu": ("FLOOR_TOFU_BIN", "OpenTofu"),
    "terraform": ("FLOOR_TERRAFORM_BIN", "Terraform"),
}
MODES = {"ec2": {"web-tasks", "web-container-instances"}, "fargate": {"jobs-tasks"}}


def required_version_floor() -> str:
    """X of versions.tf's `required_version = ">= X"`."""
    text = (ROOT / "versions.tf").read_text()
    found = re.search(r'required_version\s*=\s*">=\s*([0-9.]+)"', text)
    assert found, 'versions.tf states required_version as ">= X"'
    return found.group(1)


def floor_cli(name: str) -> str:
    variable, product = CLIS[name]
    binary = os.environ.get(variable)
    if not binary or not os.access(binary, os.X_OK):
        skip_or_fail(
            "floors", f"no {product} floor at {variable}={binary!r}: run tools/bootstrap.sh floors"
        )
    return binary


@pytest.mark.parametrize("name", CLIS)
def test_floor_cli_is_the_floor_versions_tf_states(name):
    """The CLI under test is the lowest release of the minor version versions.tf admits,
    so a passing run here is a statement about that floor."""
    binary = floor_cli(name)
    first_line = subprocess.run(
        [binary, "version"], capture_output=True, text=True, check=True
    ).stdout.splitlines()[0]
    product = CLIS[name][1]
    assert first_line == f"{product} v{required_version_floor()}.0", first_line


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", CLIS)
def test_floor_cli_inits_validates_plans_applies_and_destroys(moto, name, mode):
    """The example as written, but for its alarms, which moto cannot create (see
    scripts/pipeline.py); validate still checks their configuration."""
    example = LocalExample(ROOT / "examples" / mode, moto.endpoint, floor_cli(name))
    dynamodb = client("dynamodb", moto.endpoint)
    before = set(dynamodb.list_tables()["TableNames"])
    try:
        outputs = example.apply()  # init, validate, plan, apply
        assert example.pending_changes() == ""
        lock = (example.dir / ".terraform.lock.hcl").read_text()
        assert re.search(r'provider "[\w./-]+/hashicorp/aws"', lock), lock
        assert set(dynamodb.list_tables()["TableNames"]) - before == MODES[mode]
        assert outputs, "every example declares outputs"
    finally:
        example.destroy()
    assert set(dynamodb.list_tables()["TableNames"]) == before
