"""Every example is validated, planned, applied to moto and destroyed, as written."""

from __future__ import annotations

import pytest

from scripts.demo import ROOT, LocalExample
from tests.module.emulated import Aws

pytestmark = pytest.mark.module
EXAMPLES = sorted(p.name for p in (ROOT / "examples").iterdir() if (p / "main.tf").exists())
EXPECTED_TABLES = {
    "ec2": {"web-tasks", "web-container-instances"},
    "fargate": {"jobs-tasks"},
    "multi-cluster": {"ecs-tasks", "web-container-instances"},
    "seed-compatible": {"ECSTaskState", "ECSCtrInstanceState"},
}


def test_every_example_is_covered():
    assert set(EXAMPLES) == set(EXPECTED_TABLES)


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_applies_and_destroys(moto, name):
    aws = Aws(moto.endpoint)
    before = set(aws.dynamodb.list_tables()["TableNames"])
    example = LocalExample(ROOT / "examples" / name, moto.endpoint)
    try:
        outputs = example.apply()
        created = set(aws.dynamodb.list_tables()["TableNames"]) - before
        assert created == EXPECTED_TABLES[name]
        assert outputs, "every example declares outputs"
        functions = {f["FunctionName"] for f in aws.awslambda.list_functions()["Functions"]}
        assert {f for f in functions if f.endswith("-ecs-state")}, functions
    finally:
        example.destroy()
    assert set(aws.dynamodb.list_tables()["TableNames"]) == before
