"""Bad variables fail at plan time, before anything is created, with a message that says why."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.module


@pytest.fixture(scope="module")
def planner(moto, request, tmp_path_factory):
    binary = request.config.getoption("dest_tf_binary") or "tofu"
    # The session's copy of the fixture (tests/conftest.py), so init writes no lock file here.
    config = Path(request.config.getoption("dest_tf_mod_dir")) / "validation"
    env = {
        **os.environ,
        "TF_DATA_DIR": str(tmp_path_factory.mktemp("validation")),
        "TF_IN_AUTOMATION": "1",
    }
    subprocess.run(
        [binary, "init", "-input=false", "-no-color"],
        cwd=config,
        env=env,
        check=True,
        capture_output=True,
    )

    class Planner:
        def __call__(self, *variables: str, out=None) -> subprocess.CompletedProcess:
            args = [binary, "plan", "-input=false", "-no-color", "-lock=false", "-refresh=false"]
            args += [f"-var={v}" for v in variables]
            args += [f"-out={out}"] if out else []
            return subprocess.run(
                args, cwd=config, env=env, capture_output=True, text=True, check=False
            )

        def show(self, plan_file) -> str:
            return subprocess.run(
                [binary, "show", "-json", str(plan_file)],
                cwd=config,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout

    return Planner()


def flat(text: str) -> str:
    """tofu wraps messages in a box; join them back into one line."""
    return re.sub(r"\s+", " ", re.sub(r"[│╷╵]", " ", text))


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (["launch_type=EXTERNAL"], 'launch_type must be "EC2" or "FARGATE".'),
        (
            ['cluster_arns=["arn:aws:ecs:us-east-1:123456789012:cluster/ok","my-cluster"]'],
            "Every entry of cluster_arns must be an ECS cluster ARN such as "
            'arn:aws:ecs:us-east-1:123456789012:cluster/my-cluster; not: "my-cluster".',
        ),
        (
            ["ttl_days=7"],
            "ttl_days (7) must be above the dead-letter queue's retention (14 days, rounded up)",
        ),
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
        "ttl-inside-queue-retention",
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


def test_alarms_are_planned_with_their_topics(planner, tmp_path):
    """moto 5.2.5 does not serve the protocol the aws provider now uses for CloudWatch, so
    the optional alarms are checked in the plan instead of being applied."""
    plan_file = tmp_path / "alarms.plan"
    result = planner("create_alarms=true", out=plan_file)
    assert result.returncode == 0, result.stderr
    changes = json.loads(planner.show(plan_file))["resource_changes"]
    alarms = {
        c["change"]["after"]["alarm_name"]: c["change"]["after"]
        for c in changes
        if c["type"] == "aws_cloudwatch_metric_alarm"
    }
    assert set(alarms) == {
        "t-validation-ecs-state-errors",
        "t-validation-ecs-state-reconcile-errors",
        "t-validation-ecs-state-dlq-messages",
    }
    reconciler = alarms["t-validation-ecs-state-reconcile-errors"]
    assert reconciler["dimensions"] == {"FunctionName": "t-validation-ecs-state-reconcile"}
    errors = alarms["t-validation-ecs-state-errors"]
    assert (errors["namespace"], errors["metric_name"]) == ("AWS/Lambda", "Errors")
    assert errors["dimensions"] == {"FunctionName": "t-validation-ecs-state"}
    queue = alarms["t-validation-ecs-state-dlq-messages"]
    assert queue["dimensions"] == {"QueueName": "t-validation-ecs-state-dlq"}
    for alarm in alarms.values():
        assert (
            alarm["alarm_actions"]
            == alarm["ok_actions"]
            == ["arn:aws:sns:us-east-1:123456789012:ops"]
        )


def test_clusters_of_another_account_or_region_only_warn(planner):
    """Events forwarded from other accounts or regions are legitimate, so this is a check
    (a warning naming the entries), not an error."""
    foreign = "arn:aws:ecs:eu-west-1:123456789012:cluster/far"
    result = planner(f'cluster_arns=["{foreign}"]')
    assert result.returncode == 0, result.stderr
    warning = flat(result.stdout + result.stderr)
    assert "not in this provider's account and region (us-east-1:123456789012)" in warning
    assert foreign in warning


def test_good_variables_plan(planner):
    result = planner("launch_type=FARGATE")
    assert result.returncode == 0, result.stderr
    assert "Plan:" in result.stdout
