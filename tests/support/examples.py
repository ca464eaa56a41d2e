"""Apply an example as written against moto, check it, and destroy it: shared by
tests/examples (OpenTofu and Terraform) and tests/floors (the lowest CLIs versions.tf
admits)."""

from __future__ import annotations

from collections.abc import Callable

from scripts.demo import ROOT, LocalExample
from tests.module.emulated import Aws

# The tables each example creates.
EXPECTED_TABLES = {
    "ec2": {"web-tasks", "web-container-instances"},
    "fargate": {"jobs-tasks"},
    "kms-per-cluster": {"web-tasks", "web-container-instances", "jobs-tasks"},
    "multi-cluster": {"ecs-tasks", "web-container-instances"},
    "seed-compatible": {"ECSTaskState", "ECSCtrInstanceState"},
}


def apply_and_destroy(
    moto,
    name: str,
    binary: str | None = None,
    check: Callable[[LocalExample], None] = lambda example: None,
) -> None:
    """init, validate, plan, apply; a second plan must show no change; the example's tables,
    outputs and function exist, then `check`; destroy leaves the tables as they were."""
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
        check(example)
    finally:
        example.destroy()
    assert set(aws.dynamodb.list_tables()["TableNames"]) == before
