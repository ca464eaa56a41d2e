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

from scripts.demo import ROOT
from tests.conftest import skip_or_fail
from tests.support.examples import apply_and_destroy

pytestmark = pytest.mark.module
CLIS = {
    "opentofu": ("FLOOR_TOFU_BIN", "OpenTofu"),
    "terraform": ("FLOOR_TERRAFORM_BIN", "Terraform"),
}
MODES = ("ec2", "fargate")


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

    def provider_from_the_mirror(example):
        lock = (example.dir / ".terraform.lock.hcl").read_text()
        assert re.search(r'provider "[\w./-]+/hashicorp/aws"', lock), lock

    apply_and_destroy(moto, mode, floor_cli(name), check=provider_from_the_mirror)
