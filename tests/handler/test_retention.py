"""TTL must never let a late or redriven event resurrect an expired terminal record."""

from __future__ import annotations

from datetime import timedelta

from scripts import ecs_events as samples
from tests.handler.conftest import TASK_TABLE, Harness, settings

DAY = 86_400
TASK = samples.task_arn("ttl0000000000000000000000000001")
STOP_TIME = samples.BASE_TIME + timedelta(minutes=30)


def test_late_event_after_expiry_cannot_bring_a_stopped_task_back(moto_client):
    harness = Harness(moto_client, settings("EC2", ttl_days=7))
    stopped = samples.task_event(TASK, 6, "STOPPED", time=STOP_TIME)
    running = samples.task_event(TASK, 4, "RUNNING", time=STOP_TIME - timedelta(minutes=10))

    assert harness.run(stopped, now=STOP_TIME.timestamp() + 60)["outcome"] == "applied"
    expires_at = int(harness.item(TASK_TABLE, "taskArn", TASK)["_expiresAt"]["N"])
    assert expires_at == int(STOP_TIME.timestamp()) + 7 * DAY

    # Before expiry the late RUNNING event is simply older than the stored version.
    assert harness.run(running, now=STOP_TIME.timestamp() + DAY)["outcome"] == "stale-or-duplicate"

    # DynamoDB's TTL sweeper deletes the record some time after expires_at.
    moto_client.delete_item(TableName=TASK_TABLE, Key={"taskArn": {"S": TASK}})
    after_expiry = expires_at + 3 * DAY
    for late in (running, stopped):  # a late original and a redrive of the terminal event
        assert harness.run(late, now=after_expiry)["outcome"] == "stale-or-duplicate"
    assert harness.item(TASK_TABLE, "taskArn", TASK) is None, "expired task was resurrected"


def test_recent_events_still_create_records_when_ttl_is_on(moto_client):
    harness = Harness(moto_client, settings("EC2", ttl_days=7))
    fresh = samples.task_event(TASK, 1, "PENDING")
    assert harness.run(fresh, now=samples.BASE_TIME.timestamp() + 600)["outcome"] == "applied"
    assert "_expiresAt" not in harness.item(TASK_TABLE, "taskArn", TASK)
