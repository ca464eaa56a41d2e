"""Bad variables fail at plan time, before anything is created, with a message that says why."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from tests.module.emulated import ROOT

pytestmark = pytest.mark.module
CONFIG = ROOT / "tests" / "module" / "terraform" / "validation"


@pytest.fixture(scope="module")
def planner(moto, request, tmp_path_factory):
    binary = request.config.getoption("dest_tf_binary") or "tofu"
    env = {
        **os.environ,
        "TF_DATA_DIR": str(tmp_path_factory.mktemp("validation")),
        "TF_IN_AUTOMATION": "1",
    }
    subprocess.run(
        [binary, "init", "-input=false", "-no-color"],
        cwd=CONFIG,
        env=env,
        check=True,
        capture_output=True,
    )

    def plan(*variables: str) -> subprocess.CompletedProcess:
        args = [binary, "plan", "-input=false", "-no-color", "-lock=false", "-refresh=false"]
        args += [f"-var={v}" for v in variables]
        return subprocess.run(
            args, cwd=CONFIG, env=env, capture_output=True, text=True, check=False
        )

    return plan


def flat(text: str) -> str:
    """tofu wraps messages in a box; join them back into one line."""
    return re.sub(r"\s+", " ", re.sub(r"[│╷╵]", " ", text))


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (["launch_type=EXTERNAL"], 'launch_type must be "EC2" or "FARGATE".'),
        (['cluster_arns=["my-cluster"]'], "Every entry of cluster_arns must be an ECS cluster ARN"),
        (
            ["create_task_table=false"],
            "task_table_name must be set when create_task_table is false",
        ),
        (
            ["launch_type=FARGATE", "container_instance_table_name=instances"],
            'container_instance_table_name is only used when launch_type is "EC2"',
        ),
        (
            ["billing_mode=PROVISIONED"],
            'read_capacity must be set when billing_mode is "PROVISIONED"',
        ),
        (
            ["create_dead_letter_queue=false"],
            "Set dead_letter_queue_arn exactly when create_dead_letter_queue is false",
        ),
    ],
    ids=[
        "unknown-launch-type",
        "malformed-cluster-arn",
        "no-task-table",
        "fargate-with-instance-table",
        "provisioned-without-capacity",
        "no-dead-letter-queue",
    ],
)
def test_bad_variables_fail_the_plan_with_a_clear_message(planner, variables, message):
    result = planner(*variables)
    assert result.returncode != 0, result.stdout
    assert "Invalid value for variable" in flat(result.stderr)
    assert message in flat(result.stderr), result.stderr


def test_good_variables_plan(planner):
    result = planner("launch_type=FARGATE")
    assert result.returncode == 0, result.stderr
    assert "Plan:" in result.stdout
