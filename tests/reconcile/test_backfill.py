"""Backfill: empty tables, one run, every resource stored at its API version in the
event path's shape."""

from __future__ import annotations

import json
import math
import random
from datetime import datetime

from botocore.awsrequest import AWSResponse

from ecs_state import events
from ecs_state.processor import process_event
from ecs_state.telemetry import Telemetry
from scripts import ecs_events as samples
from tests.reconcile.conftest import Run, reconcile_settings
from tests.support.tables import create_state_tables


def test_backfill_stores_every_task_and_instance_at_its_api_version(ecs, dynamodb, tables):
    rng = random.Random(14)
    big, small, jobs = ecs.cluster("big"), ecs.cluster("small"), ecs.cluster("jobs")
    instances = {
        big: ecs.container_instances(big, 4),
        small: ecs.container_instances(small, 3),
        jobs: ecs.container_instances(jobs, 3),
    }
    tasks = {
        big: ecs.run_tasks(big, 200) + ecs.run_tasks(big, 10, launch_type="EC2"),
        small: ecs.run_tasks(small, 25),
        jobs: ecs.run_tasks(jobs, 15),
    }
    stopped = set(tasks[big][:7] + tasks[small][:3])
    for cluster, arns in tasks.items():
        for arn in arns:
            if arn in stopped:
                ecs.stop_task(cluster, arn)
    every_arn = [arn for group in (*tasks.values(), *instances.values()) for arn in group]
    ecs.versions.update({arn: rng.randint(1, 40) for arn in every_arn})

    summary = Run(reconcile_settings(tables, [big, small, jobs]), ecs, dynamodb)()

    stored_tasks = dynamodb.items(tables["task"])
    stored_instances = dynamodb.items(tables["container-instance"])
    assert len(stored_tasks) == 250 and len(stored_instances) == 10
    for cluster, arns in tasks.items():
        for arn in arns:
            item = stored_tasks[arn]
            assert item["version"] == {"N": str(ecs.versions[arn])}
            assert item["lastStatus"]["S"] == ("STOPPED" if arn in stopped else "RUNNING")
            assert item["clusterArn"]["S"] == cluster
            assert item["_source"]["S"] == "reconcile"
    for cluster, arns in instances.items():
        for arn in arns:
            item = stored_instances[arn]
            assert item["version"] == {"N": str(ecs.versions[arn])}
            assert item["status"]["S"] == "ACTIVE"
            # The API object leaves the cluster implicit; events (and the index) need it.
            assert item["clusterArn"]["S"] == cluster
    assert summary["complete"] and summary["errors"] == []
    assert (summary["listed"], summary["written"], summary["unchanged"]) == (260, 260, 0)

    # Every page was read, 100 at most: big has 203 running tasks (3 pages) and 7 stopped.
    running = {big: 203, small: 22, jobs: 15}
    stopped_count = {big: 7, small: 3, jobs: 0}
    expected_lists = sum(
        max(1, math.ceil(running[c] / 100)) + max(1, math.ceil(stopped_count[c] / 100))
        for c in tasks
    )
    assert ecs.count("ListTasks") == expected_lists == 8
    assert all(params["maxResults"] == 100 for params in ecs.requested("ListTasks"))
    described = [arn for params in ecs.requested("DescribeTasks") for arn in params["tasks"]]
    assert sorted(described) == sorted(arn for arns in tasks.values() for arn in arns)
    # One Describe per 100 tasks of a cluster, not one per page: 210 -> 3, 25 -> 1, 15 -> 1.
    assert ecs.count("DescribeTasks") == 5
    assert ecs.count("DescribeContainerInstances") == 3

    # Nothing changed since: no write, and at most half a read unit per resource.
    dynamodb.requests.clear()
    again = Run(reconcile_settings(tables, [big, small, jobs]), ecs, dynamodb)()
    assert (again["written"], again["unchanged"]) == (0, 260)
    assert dynamodb.requests["PutItem"] == dynamodb.requests["UpdateItem"] == 0
    assert again["storedVersionsFrom"] == {"task": "index", "container-instance": "index"}
    assert 0 < again["readUnits"] <= 0.5 * 260


# Timestamps as the ECS API sends them (epoch seconds, milliseconds as decimals) and as
# events carry them (ISO 8601 text).
TASK_TIMES = {
    "createdAt": "2026-11-01T12:00:00.000Z",
    "pullStartedAt": "2026-11-01T12:00:01.112Z",
    "pullStoppedAt": "2026-11-01T12:00:02.999Z",
    "startedAt": "2026-11-01T12:00:03.001Z",
    "stoppingAt": "2026-11-01T12:09:59.500Z",
    "executionStoppedAt": "2026-11-01T12:10:00.017Z",
    "stoppedAt": "2026-11-01T12:10:07.004Z",
}


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def _answer_with(operation: str, field: str, objects: list[dict]):
    """A before-send hook answering one operation with these objects, as ECS's JSON."""

    def answer(request, event_name, **_):
        if not event_name.endswith("." + operation):
            return None
        body = json.dumps({field: objects, "failures": []}).encode()
        headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "stub"}
        return AWSResponse(request.url, 200, headers, _Raw(body))

    return answer


class _Raw:
    def __init__(self, data: bytes):
        self.data = data

    def stream(self, **_):
        yield self.data


def test_a_reconciled_item_equals_the_event_item_but_for_metadata(ecs, dynamodb, tables):
    """The API object of a task and of an instance, as ECS's JSON with epoch timestamps,
    against the events ECS sends for the same state: same fields, same values, same
    redaction. The API has no updatedAt, so only the event's item has it."""
    cluster = ecs.cluster("shape")
    (instance,) = ecs.container_instances(cluster, 1)
    (task,) = ecs.run_tasks(cluster, 1, launch_type="EC2")
    task_event = samples.task_event(
        task,
        9,
        "STOPPED",
        launch_type="EC2",
        cluster_arn=cluster,
        container_instance=instance,
        environment={"API_TOKEN": "s3cret"},
    )
    task_event["detail"].update(TASK_TIMES)
    instance_event = samples.container_instance_event(instance, 4, "DRAINING", cluster_arn=cluster)
    instance_event["detail"]["registeredAt"] = "2026-10-30T08:15:42.877Z"
    api_task = {
        name: _epoch(value) if name in TASK_TIMES else value
        for name, value in task_event["detail"].items()
        if name != "updatedAt"
    }
    api_instance = {
        name: _epoch(value) if name == "registeredAt" else value
        for name, value in instance_event["detail"].items()
        if name not in ("updatedAt", "clusterArn")
    }
    ecs.client.meta.events.register(
        "before-send.ecs", _answer_with("DescribeTasks", "tasks", [api_task])
    )
    ecs.client.meta.events.register(
        "before-send.ecs",
        _answer_with("DescribeContainerInstances", "containerInstances", [api_instance]),
    )
    ecs.versions.update({task: 9, instance: 4})

    settings = reconcile_settings(tables, [cluster])
    Run(settings, ecs, dynamodb)()

    event_tables = create_state_tables(dynamodb.client, prefix="events-")
    event_settings = reconcile_settings(event_tables, [cluster]).base
    telemetry = Telemetry("ERROR", "ECSState", "EC2")
    for event in (task_event, instance_event):
        process_event(event, event_settings, dynamodb.client, telemetry)

    for kind, arn in ((events.TASK, task), (events.CONTAINER_INSTANCE, instance)):
        key = events.KIND_BY_NAME[kind].key
        reconciled = dynamodb.item(tables[kind], key, arn)
        from_event = dynamodb.item(event_tables[kind], key, arn)
        fields = {name for name in reconciled if not name.startswith("_")}
        assert fields == {name for name in from_event if not name.startswith("_")} - {"updatedAt"}
        for name in fields:
            assert reconciled[name] == from_event[name], name
        assert reconciled["_source"] == {"S": "reconcile"} and "_source" not in from_event
    stored_task = dynamodb.item(tables["task"], "taskArn", task)
    assert stored_task["pullStartedAt"] == {"S": "2026-11-01T12:00:01.112Z"}
    environment = stored_task["overrides"]["M"]["containerOverrides"]["L"][0]["M"]["environment"]
    assert environment["L"][0]["M"]["value"] == {"S": "**redacted**"}


def test_without_cluster_arns_every_cluster_listclusters_returns_is_reconciled(
    ecs, dynamodb, tables
):
    """moto's server is shared by the session's tests: other clusters are there too, and
    their tasks carry no version in this test's harness, so they are skipped unwritten."""
    first, second = ecs.cluster("all-a"), ecs.cluster("all-b")
    arns = ecs.run_tasks(first, 3) + ecs.run_tasks(second, 2)
    ecs.versions.update(dict.fromkeys(arns, 5))
    ecs.forget_calls()

    summary = Run(reconcile_settings(tables, [], launch_type="FARGATE"), ecs, dynamodb)()

    assert ecs.count("ListClusters") == 1
    assert summary["complete"] and summary["clusters"] >= 2 and summary["written"] == 5
    assert set(dynamodb.items(tables["task"])) == set(arns)
