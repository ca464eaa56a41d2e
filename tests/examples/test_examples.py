"""Every example is validated, planned, applied to moto, planned again (no change may be
left) and destroyed, as written.

OpenTofu applies them all; HashiCorp Terraform applies the ec2 example, which makes every
kind of resource the module has, so the module is proven under both CLIs.
"""

from __future__ import annotations

import pytest

from scripts.demo import ROOT
from tests.support.examples import EXPECTED_TABLES, apply_and_destroy

pytestmark = pytest.mark.module
EXAMPLES = sorted(p.name for p in (ROOT / "examples").iterdir() if (p / "main.tf").exists())


def test_every_example_is_covered():
    assert set(EXAMPLES) == set(EXPECTED_TABLES)


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_applies_and_destroys(moto, name):
    apply_and_destroy(moto, name)


def test_ec2_example_under_terraform(moto, terraform_cli):
    apply_and_destroy(moto, "ec2", terraform_cli)
