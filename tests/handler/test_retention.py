"""TTL must never let a late or redriven event resurrect an expired terminal record."""

from __future__ import annotations

from datetime import timedelta

import pytest

from scripts import ecs_events as samples
from tests.handler.conftest import INSTANCE_TABLE, TASK_TABLE, Harness, settings

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


TERMINAL = {
    "task": {"STOPPED", "DELETED"},
    "container-instance": {"INACTIVE", "REGISTRATION_FAILED"},
}
INSTANCE = samples.container_instance_arn("ttl0000000000000000000000000002")
INSTANCE_STATUSES = ["REGISTERING", "REGISTRATION_FAILED", "ACTIVE", "DRAINING", "INACTIVE"]
STATUSES = [("task", status) for status in [*samples.TASK_STATUSES, "DELETED"]] + [
    ("container-instance", status) for status in INSTANCE_STATUSES
]


def _stored(harness, kind, status):
    """Apply one event of a kind in a status, a minute after it happened; the stored item."""
    if kind == "task":
        event = samples.task_event(TASK, 3, status, time=STOP_TIME)
        table, key, arn = TASK_TABLE, "taskArn", TASK
    else:
        event = samples.container_instance_event(INSTANCE, 3, status, time=STOP_TIME)
        table, key, arn = INSTANCE_TABLE, "containerInstanceArn", INSTANCE
    assert harness.run(event, now=STOP_TIME.timestamp() + 60)["outcome"] == "applied"
    return harness.item(table, key, arn)


@pytest.mark.parametrize(("kind", "status"), STATUSES, ids=[f"{k} {s}" for k, s in STATUSES])
def test_terminal_records_and_only_they_expire_ttl_days_after_their_event(
    moto_client, kind, status
):
    item = _stored(Harness(moto_client, settings("EC2", ttl_days=7)), kind, status)
    if status in TERMINAL[kind]:
        assert item["_expiresAt"] == {"N": str(int(STOP_TIME.timestamp()) + 7 * DAY)}
    else:
        assert "_expiresAt" not in item


@pytest.mark.parametrize(
    ("kind", "status"),
    [(kind, status) for kind, statuses in TERMINAL.items() for status in sorted(statuses)],
)
def test_nothing_expires_when_ttl_is_off(moto_client, kind, status):
    assert "_expiresAt" not in _stored(Harness(moto_client, settings("EC2")), kind, status)


# The window for inserts is TTL_DAYS less a one-hour margin for clock skew; an event at
# least that old may update a record but not create one (see ecs_state.items).
WINDOW = 7 * DAY - 3600


@pytest.mark.parametrize(
    ("age", "creates"),
    [
        (WINDOW - 1, True),
        (WINDOW, False),
        (WINDOW + 1, False),
        (7 * DAY - 1, False),  # inside TTL_DAYS, but not inside the margin
        (7 * DAY, False),
    ],
    ids=["window - 1 s", "window", "window + 1 s", "ttl - 1 s", "ttl"],
)
def test_only_an_event_younger_than_the_window_creates_a_record(moto_client, age, creates):
    harness = Harness(moto_client, settings("EC2", ttl_days=7))
    event = samples.task_event(TASK, 2, "RUNNING", time=STOP_TIME)
    result = harness.run(event, now=STOP_TIME.timestamp() + age)
    assert result["outcome"] == ("applied" if creates else "stale-or-duplicate")
    assert (harness.item(TASK_TABLE, "taskArn", TASK) is not None) is creates


def test_an_event_older_than_the_window_still_updates_an_existing_record(moto_client):
    harness = Harness(moto_client, settings("EC2", ttl_days=7))
    first = samples.task_event(TASK, 1, "PENDING", time=STOP_TIME - timedelta(minutes=5))
    late = samples.task_event(TASK, 2, "RUNNING", time=STOP_TIME)
    assert harness.run(first, now=STOP_TIME.timestamp())["outcome"] == "applied"
    assert harness.run(late, now=STOP_TIME.timestamp() + WINDOW + 1)["outcome"] == "applied"
    assert harness.item(TASK_TABLE, "taskArn", TASK)["lastStatus"] == {"S": "RUNNING"}


def test_one_day_of_ttl_expires_and_guards_like_any_other(moto_client):
    harness = Harness(moto_client, settings("EC2", ttl_days=1))
    stopped = samples.task_event(TASK, 6, "STOPPED", time=STOP_TIME)
    assert harness.run(stopped, now=STOP_TIME.timestamp() + 60)["outcome"] == "applied"
    expires_at = harness.item(TASK_TABLE, "taskArn", TASK)["_expiresAt"]
    assert expires_at == {"N": str(int(STOP_TIME.timestamp()) + DAY)}

    other = samples.task_arn("ttl0000000000000000000000000003")
    late = samples.task_event(other, 2, "RUNNING", time=STOP_TIME)
    assert harness.run(late, now=STOP_TIME.timestamp() + DAY - 3600)["outcome"] == (
        "stale-or-duplicate"
    )
    assert harness.item(TASK_TABLE, "taskArn", other) is None
