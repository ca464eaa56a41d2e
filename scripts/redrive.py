"""Replay the events waiting in the dead-letter queue, then delete what was applied.

Two kinds of message reach the queue:

* EventBridge dead-letter messages: the body is the original event; attributes such as
  ERROR_CODE and RULE_ARN say why delivery failed.
* Lambda on-failure destination records: the body is a JSON record whose
  ``requestPayload`` is the original event and whose ``responsePayload`` holds the error.

Each original event is replayed through the function. A message is deleted only after its
event was applied or found stale (an equal or newer version is already stored); anything
else stays in the queue for a person to look at, and becomes visible again after the
queue's visibility timeout.

The reconciler sends its failed runs to the same queue. Their event is the schedule's
("Scheduled Event" from aws.events), not an ECS event: there is nothing to replay, since the
next scheduled run does the whole work again, so they are deleted and counted apart (the
reconciler's own alarm and logs say why it failed).

Usage:
  python -m scripts.redrive --queue-url URL --function-name NAME   # invoke the deployed function
  python -m scripts.redrive --queue-url URL --local                # import ecs_state.handler here
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

RECONCILER_RUN = "reconciler-run"
DONE = ("applied", "stale-or-duplicate", RECONCILER_RUN)


class UnknownMessage(ValueError):
    """A message that is neither an ECS event nor a Lambda destination record."""


def original_event(body: str) -> dict[str, Any]:
    """The ECS event carried by a dead-letter message, in either format."""
    try:
        message = json.loads(body)
    except json.JSONDecodeError as error:
        raise UnknownMessage(f"body is not JSON: {error}") from None
    if not isinstance(message, dict):
        raise UnknownMessage("body is not a JSON object")
    if "requestContext" in message and "requestPayload" in message:
        event = message["requestPayload"]
        if not isinstance(event, dict):
            raise UnknownMessage("destination record has no event in requestPayload")
        return event
    if "detail-type" in message and "source" in message:
        return message
    raise UnknownMessage("body is neither an EventBridge event nor a Lambda destination record")


@dataclass
class Summary:
    outcomes: Counter = field(default_factory=Counter)
    kept: list[tuple[str, str]] = field(default_factory=list)  # (message id, why)

    @property
    def deleted(self) -> int:
        return sum(self.outcomes[outcome] for outcome in DONE)


def redrive(
    sqs: Any,
    queue_url: str,
    apply_event: Callable[[dict[str, Any]], str],
    *,
    max_messages: int | None = None,
    wait_seconds: int = 1,
    visibility_timeout: int = 60,
    log: Callable[[str], None] = lambda line: None,
) -> Summary:
    """Drain the queue once: replay each message's event, delete it when it is done.

    apply_event returns the outcome ("applied", "stale-or-duplicate", ...) or raises.
    Messages that are kept are not received again during this run.
    """
    summary = Summary()
    seen: set[str] = set()
    while max_messages is None or len(seen) < max_messages:
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait_seconds,
            VisibilityTimeout=visibility_timeout,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        fresh = [m for m in batch if m["MessageId"] not in seen]
        if not fresh:
            break
        for message in fresh:
            seen.add(message["MessageId"])
            outcome, why = _replay(message, apply_event)
            summary.outcomes[outcome] += 1
            if outcome in DONE:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                log(f"{message['MessageId']}: {outcome}, deleted")
            else:
                summary.kept.append((message["MessageId"], why))
                log(f"{message['MessageId']}: {outcome}, kept: {why}")
    return summary


def _replay(
    message: dict[str, Any], apply_event: Callable[[dict[str, Any]], str]
) -> tuple[str, str]:
    try:
        event = original_event(message["Body"])
    except UnknownMessage as error:
        return "unknown-message", str(error)
    if event.get("source") == "aws.events" and event.get("detail-type") == "Scheduled Event":
        return RECONCILER_RUN, ""
    try:
        return apply_event(event), ""
    except Exception as error:  # kept in the queue, reported with its reason
        return "failed", f"{type(error).__name__}: {error}"


def local_apply() -> Callable[[dict[str, Any]], str]:
    """Apply events with the handler imported in this process (configured by env vars)."""
    from ecs_state import handler

    def apply(event: dict[str, Any]) -> str:
        return handler.lambda_handler(event, None)["outcome"]

    return apply


def lambda_apply(lambda_client: Any, function_name: str) -> Callable[[dict[str, Any]], str]:
    """Apply events by invoking the deployed function synchronously."""

    def apply(event: dict[str, Any]) -> str:
        response = lambda_client.invoke(
            FunctionName=function_name,
            InvocationType="RequestResponse",
            Payload=json.dumps(event).encode(),
        )
        payload = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError"):
            message = payload.get("errorMessage") if isinstance(payload, dict) else payload
            raise RuntimeError(f"function error: {message}")
        return payload["outcome"]

    return apply


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queue-url", required=True, help="URL of the dead-letter queue")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--function-name", help="replay by invoking this deployed function")
    target.add_argument(
        "--local", action="store_true", help="replay with ecs_state.handler imported here"
    )
    parser.add_argument("--max-messages", type=int, default=None, help="stop after this many")
    args = parser.parse_args(argv)

    import boto3

    apply = (
        local_apply() if args.local else lambda_apply(boto3.client("lambda"), args.function_name)
    )
    summary = redrive(
        boto3.client("sqs"),
        args.queue_url,
        apply,
        max_messages=args.max_messages,
        log=lambda line: print(line, file=sys.stderr),
    )
    print(
        json.dumps(
            {
                "outcomes": dict(summary.outcomes),
                "deleted": summary.deleted,
                "kept": len(summary.kept),
            }
        )
    )
    return 0 if not summary.kept else 1


if __name__ == "__main__":
    sys.exit(main())
