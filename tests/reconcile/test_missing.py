"""Records ECS no longer knows are marked, never changed otherwise nor deleted."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from ecs_state.events import KIND_BY_NAME, TASK
from ecs_state.processor import process_event
from ecs_state.reconcile import MISSING_SINCE, StateTable, Stored
from ecs_state.telemetry import Telemetry
from scripts import ecs_events as samples
from tests.reconcile.conftest import Run, reconcile_settings

DAY = 86_400
MARKS = ("_missingSince", "_expiresAt")


def _apply(event, settings, dynamodb):
    telemetry = Telemetry("ERROR", "ECSState", settings.base.launch_type)
    return process_event(event, settings.base, dynamodb.client, telemetry)["outcome"]


def test_a_running_task_ecs_forgot_is_marked_and_a_late_event_still_applies(ecs, dynamodb, tables):
    cluster = ecs.cluster("ghosts")
    live = ecs.run_tasks(cluster, 3)
    ecs.versions.update(dict.fromkeys(live, 2))
    ghost = ecs.task_arn_unknown_to_ecs(cluster)  # its STOPPED event never arrived
    long_stopped = ecs.task_arn_unknown_to_ecs(cluster)
    settings = reconcile_settings(tables, [cluster], launch_type="FARGATE", ttl_days=7)
    # Events of today: with TTL on, an event older than the window may not insert.
    today = datetime.now(UTC)
    for arn, version, status in ((ghost, 4, "RUNNING"), (long_stopped, 9, "STOPPED")):
        event = samples.task_event(arn, version, status, cluster_arn=cluster, time=today)
        _apply(event, settings, dynamodb)
    before = dynamodb.item(tables["task"], "taskArn", ghost)
    stopped_before = dynamodb.item(tables["task"], "taskArn", long_stopped)

    started = time.time()
    summary = Run(settings, ecs, dynamodb)()

    after = dynamodb.item(tables["task"], "taskArn", ghost)
    assert {name: value for name, value in after.items() if name not in MARKS} == before
    marked_at = datetime.fromisoformat(after[MISSING_SINCE]["S"]).timestamp()
    assert started - 1 <= marked_at <= time.time() + 1
    # It expires like a terminal record, counted from when it was found gone.
    assert abs(int(after["_expiresAt"]["N"]) - (marked_at + 7 * DAY)) <= 1
    assert summary["markedMissing"] == 1
    # A terminal record is not a candidate: ECS forgetting a stopped task is expected.
    assert dynamodb.item(tables["task"], "taskArn", long_stopped) == stopped_before
    described = [arn for params in ecs.requested("DescribeTasks") for arn in params["tasks"]]
    assert ghost in described and long_stopped not in described

    # Marked once: the next run leaves it alone and asks ECS nothing more about it.
    dynamodb.requests.clear()
    again = Run(settings, ecs, dynamodb)()
    assert again["markedMissing"] == 0 and dynamodb.requests["UpdateItem"] == 0
    assert dynamodb.item(tables["task"], "taskArn", ghost) == after

    # The STOPPED event arrives at last: it is newer, so it replaces the record, mark and all.
    late = samples.task_event(ghost, 5, "STOPPED", cluster_arn=cluster, time=datetime.now(UTC))
    assert _apply(late, settings, dynamodb) == "applied"
    final = dynamodb.item(tables["task"], "taskArn", ghost)
    assert final["lastStatus"] == {"S": "STOPPED"} and MISSING_SINCE not in final


def test_an_instance_ecs_no_longer_lists_is_marked(ecs, dynamodb, tables):
    cluster = ecs.cluster("instances")
    (known,) = ecs.container_instances(cluster, 1)
    ecs.versions[known] = 3
    gone = ecs.instance_arn_unknown_to_ecs(cluster)
    settings = reconcile_settings(tables, [cluster])  # EC2, no TTL
    event = samples.container_instance_event(gone, 6, "ACTIVE", cluster_arn=cluster)
    _apply(event, settings, dynamodb)
    before = dynamodb.item(tables["container-instance"], "containerInstanceArn", gone)

    summary = Run(settings, ecs, dynamodb)()

    after = dynamodb.item(tables["container-instance"], "containerInstanceArn", gone)
    assert MISSING_SINCE in after and "_expiresAt" not in after  # TTL is off
    assert {name: value for name, value in after.items() if name != MISSING_SINCE} == before
    assert summary["resources"]["container-instance"]["markedMissing"] == 1
    assert summary["resources"]["container-instance"]["written"] == 1  # the known one


def test_the_mark_loses_to_an_event_written_after_the_read(ecs, dynamodb, tables):
    """The version read from the index may be overtaken before the mark is written."""
    cluster = ecs.cluster("overtaken")
    arn = ecs.task_arn_unknown_to_ecs(cluster)
    settings = reconcile_settings(tables, [cluster], launch_type="FARGATE")
    _apply(samples.task_event(arn, 4, "RUNNING", cluster_arn=cluster), settings, dynamodb)
    read = Stored(version=4, status="RUNNING", missing_since=None)
    _apply(samples.task_event(arn, 5, "STOPPING", cluster_arn=cluster), settings, dynamodb)
    table = StateTable(dynamodb.client, tables["task"], KIND_BY_NAME[TASK], time.sleep)

    assert table.mark_missing(arn, read, time.time(), ttl_days=0) is False
    item = dynamodb.item(tables["task"], "taskArn", arn)
    assert item["version"] == {"N": "5"} and MISSING_SINCE not in item
