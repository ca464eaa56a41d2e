"""Redrive against the emulators: SQS on moto's server, the tables on DynamoDB Local."""

from __future__ import annotations

import json
import time
import uuid

import boto3
import pytest

from ecs_state.processor import process_event
from scripts import ecs_events as samples
from scripts.redrive import UnknownMessage, original_event, redrive
from tests.conftest import REGION
from tests.handler.local import handler_client, local_settings, quiet_telemetry
from tests.support.tables import local_client

FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:web-ecs-state:$LATEST"


def destination_record(event: dict) -> str:
    """What Lambda's on-failure destination sends after the retries are exhausted."""
    return json.dumps(
        {
            "version": "1.0",
            "timestamp": "2026-11-01T12:00:05.000Z",
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": FUNCTION_ARN,
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 3,
            },
            "requestPayload": event,
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "responsePayload": {
                "errorMessage": "An error occurred (ThrottlingException)",
                "errorType": "ClientError",
            },
        }
    )


def test_both_message_formats_yield_the_original_event():
    event = samples.task_event(samples.task_arn("r1"), 3)
    assert original_event(json.dumps(event)) == event
    assert original_event(destination_record(event)) == event
    for body in ("not json", "[1]", json.dumps({"hello": "world"})):
        with pytest.raises(UnknownMessage):
            original_event(body)


@pytest.mark.dynamodb_local
def test_redrive_applies_then_deletes_and_keeps_what_failed(moto_server, local_tables):
    sqs = boto3.client("sqs", endpoint_url=moto_server.endpoint, region_name=REGION)
    queue_url = sqs.create_queue(QueueName=f"dlq-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    task = samples.task_arn(f"redrive-{uuid.uuid4().hex}")
    instance = samples.container_instance_arn(f"redrive-{uuid.uuid4().hex}")
    newest = samples.task_event(task, 5, "RUNNING")
    older = samples.task_event(task, 2, "PENDING")
    bad = {**samples.task_event(task, 9, "STOPPED"), "source": "aws.ec2"}

    # EventBridge dead-letter message: the raw event plus error attributes.
    sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=json.dumps(newest),
        MessageAttributes={
            "ERROR_CODE": {"DataType": "String", "StringValue": "SDK_CLIENT_ERROR"},
            "RULE_ARN": {
                "DataType": "String",
                "StringValue": "arn:aws:events:us-east-1:123456789012:rule/web-ecs-state",
            },
        },
    )
    for event in (older, samples.container_instance_event(instance, 7), bad):
        sqs.send_message(QueueUrl=queue_url, MessageBody=destination_record(event))
    sqs.send_message(QueueUrl=queue_url, MessageBody="garbage")

    settings = local_settings(local_tables)
    client = handler_client(settings, local_tables["endpoint"])
    telemetry = quiet_telemetry(settings)
    summary = redrive(
        sqs,
        queue_url,
        lambda event: process_event(event, settings, client, telemetry)["outcome"],
        wait_seconds=0,
        visibility_timeout=2,
    )

    assert summary.deleted == 3
    assert summary.outcomes["failed"] == 1 and summary.outcomes["unknown-message"] == 1
    reasons = sorted(why for _, why in summary.kept)
    assert "InvalidEventError: event source must be 'aws.ecs', got 'aws.ec2'" in reasons[0]
    assert "neither" in reasons[1] or "not JSON" in reasons[1]

    reader = local_client(local_tables["endpoint"])
    stored = reader.get_item(
        TableName=local_tables["task"], Key={"taskArn": {"S": task}}, ConsistentRead=True
    )["Item"]
    assert (stored["version"]["N"], stored["lastStatus"]["S"]) == ("5", "RUNNING")
    stored_instance = reader.get_item(
        TableName=local_tables["container_instance"], Key={"containerInstanceArn": {"S": instance}}
    )["Item"]
    assert stored_instance["version"]["N"] == "7"

    # The two kept messages are back in the queue once their visibility timeout ends.
    time.sleep(2.5)
    left = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    assert {m["MessageId"] for m in left} == {message_id for message_id, _ in summary.kept}


class RecordingQueue:
    """SQS as redrive sees it, writing every receive and delete into a shared timeline."""

    def __init__(self, bodies, timeline):
        self.messages = [
            {"MessageId": f"m{index}", "ReceiptHandle": f"r{index}", "Body": body}
            for index, body in enumerate(bodies)
        ]
        self.timeline = timeline
        self.received = False

    def receive_message(self, **_):
        if self.received:  # one batch, then an empty queue
            return {}
        self.received = True
        return {"Messages": self.messages}

    def delete_message(self, QueueUrl, ReceiptHandle):
        self.timeline.append(("delete", ReceiptHandle.replace("r", "m", 1)))


def test_a_message_is_deleted_only_after_its_event_was_applied_or_found_stale():
    outcomes = ["applied", "stale-or-duplicate", "rejected", "boom", "applied"]
    events = [samples.task_event(samples.task_arn(f"order{i}"), i + 1) for i in range(5)]
    bodies = [json.dumps(event) for event in events[:4]] + [destination_record(events[4])]
    timeline = []
    by_task = {event["detail"]["taskArn"]: (f"m{i}", outcomes[i]) for i, event in enumerate(events)}

    def apply(event):
        message_id, outcome = by_task[event["detail"]["taskArn"]]
        timeline.append(("applied", message_id))
        if outcome == "boom":
            raise RuntimeError("function error: timed out")
        return outcome

    summary = redrive(RecordingQueue([*bodies, "garbage"], timeline), "queue-url", apply)

    assert [entry for entry in timeline if entry[0] == "delete"] == [
        ("delete", "m0"),
        ("delete", "m1"),
        ("delete", "m4"),
    ]
    for entry in timeline:
        if entry[0] == "delete":
            applied_at = timeline.index(("applied", entry[1]))
            assert applied_at < timeline.index(entry), (
                f"{entry[1]} was deleted before it was applied"
            )
    assert summary.deleted == 3
    assert sorted(message_id for message_id, _ in summary.kept) == ["m2", "m3", "m5"]


def test_a_failed_reconciler_run_is_not_replayed_to_the_event_function():
    """The reconciler's on-failure records share the queue; their event is the schedule's."""
    scheduled = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-11-01T12:00:00Z",
        "region": REGION,
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/web-ecs-state-reconcile"],
        "detail": {},
    }
    event = samples.task_event(samples.task_arn("after-run"), 2)
    timeline = []

    def apply(replayed):
        assert replayed["source"] == "aws.ecs", "only ECS events reach the event function"
        timeline.append(("applied", "m1"))
        return "applied"

    queue = RecordingQueue([destination_record(scheduled), json.dumps(event)], timeline)
    summary = redrive(queue, "queue-url", apply)

    assert summary.outcomes == {"reconciler-run": 1, "applied": 1}
    assert timeline == [("delete", "m0"), ("applied", "m1"), ("delete", "m1")]
    assert summary.kept == []
