"""Bad input and configuration: a clear message each, nothing written that should not be."""

from __future__ import annotations

import json

import pytest

from ecs_state import reconcile
from ecs_state.errors import ConfigError
from ecs_state.reconcile import ReconcileError, ReconcileSettings
from tests.reconcile.conftest import Run, reconcile_settings

BASE_ENV = {"LAUNCH_TYPE": "FARGATE", "TASK_TABLE_NAME": "tasks"}
CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/web"


def test_defaults():
    settings = ReconcileSettings.from_env(BASE_ENV)
    assert settings.cluster_arns == () and settings.max_requests_per_second == 5.0
    both = ReconcileSettings.from_env({**BASE_ENV, "CLUSTER_ARNS": f" {CLUSTER}, {CLUSTER},"})
    assert both.cluster_arns == (CLUSTER,)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LAUNCH_TYPE": "EKS"}, "LAUNCH_TYPE must be one of EC2, FARGATE, got 'EKS'"),
        (
            {"LAUNCH_TYPE": "EC2"},
            "CONTAINER_INSTANCE_TABLE_NAME must be set to a DynamoDB table name",
        ),
        ({"CLUSTER_ARNS": "web"}, "CLUSTER_ARNS entry 'web' is not a cluster ARN"),
        (
            {"CLUSTER_ARNS": CLUSTER.replace(":cluster/", ":service/")},
            "is not a cluster ARN",
        ),
        ({"ECS_MAX_REQUESTS_PER_SECOND": "fast"}, "must be a number, got 'fast'"),
        ({"ECS_MAX_REQUESTS_PER_SECOND": "0"}, "must be above 0 and at most 20"),
        ({"ECS_MAX_REQUESTS_PER_SECOND": "50"}, "ECS's shared per-account rate"),
    ],
)
def test_bad_environment_is_refused_with_the_variable_named(env, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ReconcileSettings.from_env({**BASE_ENV, **env})


def test_the_command_line_names_its_flags(capsys):
    assert reconcile.main(["--launch-type", "EKS", "--task-table", "t"]) == 2
    assert "error: --launch-type must be one of EC2, FARGATE" in capsys.readouterr().err
    assert reconcile.main(["--launch-type", "EC2", "--task-table", "t"]) == 2
    assert "--container-instance-table must be set" in capsys.readouterr().err


def test_a_missing_table_stops_the_run_before_any_ecs_request(ecs, dynamodb, tables):
    cluster = ecs.cluster("notable")
    ecs.forget_calls()
    settings = reconcile_settings({**tables, "task": "no-such-table"}, [cluster])
    with pytest.raises(ConfigError, match="TASK_TABLE_NAME: table 'no-such-table' does not exist"):
        Run(settings, ecs, dynamodb)()
    assert ecs.calls == []


def test_a_cluster_that_does_not_exist_fails_the_run_after_the_others(ecs, dynamodb, tables):
    good = ecs.cluster("good")
    arns = ecs.run_tasks(good, 5)
    ecs.versions.update(dict.fromkeys(arns, 1))
    bogus = good.rsplit("/", 1)[0] + "/no-such-cluster"
    run = Run(reconcile_settings(tables, [bogus, good], launch_type="FARGATE"), ecs, dynamodb)

    with pytest.raises(ReconcileError) as raised:
        run(order_seed=0)

    message = str(raised.value)
    assert bogus in message and "ClusterNotFoundException" in message
    assert "check CLUSTER_ARNS" in message
    summary = raised.value.summary
    assert (summary["clustersReconciled"], summary["written"]) == (1, 5)
    assert set(dynamodb.items(tables["task"])) == set(arns)
    (line,) = [each for each in run.logs() if each["message"] == "reconcile finished"]
    assert line["level"] == "ERROR" and line["ClusterErrors"] == 1


def test_an_api_object_without_a_version_is_reported_and_never_written(ecs, dynamodb, tables):
    cluster = ecs.cluster("unversioned")
    arns = ecs.run_tasks(cluster, 4)
    ecs.versions.update({arns[0]: 7, arns[1]: 2})  # the other two come back without one
    run = Run(reconcile_settings(tables, [cluster], launch_type="FARGATE"), ecs, dynamodb)

    summary = run()

    assert set(dynamodb.items(tables["task"])) == {arns[0], arns[1]}
    assert (summary["written"], summary["skippedNoVersion"]) == (2, 2)
    warned = [each["arn"] for each in run.logs() if "no usable version" in each["message"]]
    assert sorted(warned) == sorted(arns[2:])


def test_the_lambda_handler_reads_its_environment_and_stops_before_the_timeout(
    ecs, dynamodb_local, dynamodb, tables, monkeypatch, capsys
):
    """Through boto3's default chain, as deployed: the endpoints come from the
    environment. moto's objects carry no version there, so every one is skipped."""
    cluster = ecs.cluster("lambda")
    ecs.run_tasks(cluster, 3)
    monkeypatch.setenv("AWS_ENDPOINT_URL_ECS", ecs.endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_local.endpoint)
    for name, value in {
        "LAUNCH_TYPE": "EC2",
        "TASK_TABLE_NAME": tables["task"],
        "CONTAINER_INSTANCE_TABLE_NAME": tables["container-instance"],
        "CLUSTER_ARNS": cluster,
        "ECS_MAX_REQUESTS_PER_SECOND": "20",
    }.items():
        monkeypatch.setenv(name, value)

    class Context:
        @staticmethod
        def get_remaining_time_in_millis():
            return 60_000

    reconcile._reconciler.cache_clear()
    try:
        summary = reconcile.lambda_handler({"source": "aws.scheduler"}, Context())
    finally:
        reconcile._reconciler.cache_clear()

    assert summary["complete"] and summary["clusters"] == 1
    assert (summary["listed"], summary["skippedNoVersion"], summary["written"]) == (3, 3, 0)
    assert dynamodb.items(tables["task"]) == {}
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[-1]["message"] == "reconcile finished" and lines[-1]["summary"] == summary
    # The same line is an embedded-metric-format document: each metric it declares is there.
    (directive,) = lines[-1]["_aws"]["CloudWatchMetrics"]
    assert directive["Dimensions"] == [["LaunchType"]] and lines[-1]["LaunchType"] == "EC2"
    values = {metric["Name"]: lines[-1][metric["Name"]] for metric in directive["Metrics"]}
    assert values["ResourcesListed"] == 3 and values["SkippedNoVersion"] == 3
    assert values["EcsRequests"] == summary["ecsRequests"] > 0
    assert reconcile.time_limit_for(Context()) == 45.0
