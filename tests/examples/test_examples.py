"""Every example is validated, planned, applied to moto, planned again (no change may be
left) and destroyed, as written.

OpenTofu applies them all; HashiCorp Terraform applies the ec2 example, which makes every
kind of resource the module has, so the module is proven under both CLIs.
"""

from __future__ import annotations

import pytest

from scripts.demo import ROOT, LocalExample
from tests.module.emulated import Aws

pytestmark = pytest.mark.module
EXAMPLES = sorted(p.name for p in (ROOT / "examples").iterdir() if (p / "main.tf").exists())
EXPECTED_TABLES = {
    "ec2": {"web-tasks", "web-container-instances"},
    "fargate": {"jobs-tasks"},
    "kms-per-cluster": {"web-tasks", "web-container-instances", "jobs-tasks"},
    "multi-cluster": {"ecs-tasks", "web-container-instances"},
    "seed-compatible": {"ECSTaskState", "ECSCtrInstanceState"},
}


def test_every_example_is_covered():
    assert set(EXAMPLES) == set(EXPECTED_TABLES)


def apply_and_destroy(moto, name: str, binary: str | None = None) -> None:
    aws = Aws(moto.endpoint)
    before = set(aws.dynamodb.list_tables()["TableNames"])
    example = LocalExample(ROOT / "examples" / name, moto.endpoint, binary)
    try:
        outputs = example.apply()
        assert example.pending_changes() == ""
        created = set(aws.dynamodb.list_tables()["TableNames"]) - before
        assert created == EXPECTED_TABLES[name]
        assert outputs, "every example declares outputs"
        functions = {f["FunctionName"] for f in aws.awslambda.list_functions()["Functions"]}
        assert {f for f in functions if f.endswith("-ecs-state")}, functions
    finally:
        example.destroy()
    assert set(aws.dynamodb.list_tables()["TableNames"]) == before


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_applies_and_destroys(moto, name):
    apply_and_destroy(moto, name)


def test_ec2_example_under_terraform(moto, terraform_cli):
    apply_and_destroy(moto, "ec2", terraform_cli)
