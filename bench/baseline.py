"""Reference baseline: what the AWS documentation's example handler does.

The "Handling Amazon ECS events" page of the ECS developer guide stores the latest state of
tasks and container instances with a handler that, on every invocation:

1. logs the whole event;
2. builds a new boto3 client (resource) for DynamoDB;
3. reads the stored item (GetItem, eventually consistent);
4. compares ``detail.version`` with the stored version in Python;
5. writes the new item with an unconditional PutItem if the event is newer.

This module does the same, with two differences that only make the comparison fairer: it
uses the low-level client (cheaper to build than a resource) and it writes exactly the item
the shipped handler writes (every ``detail`` field at top level, ``version`` as a number and
the same ``_``-prefixed metadata), so both pay for the same bytes.

The gap between steps 3 and 5 is a race: two concurrent invocations for the same resource
can both read an old version, and the one holding the older event can write last. The
benchmark counts the records that end below their latest version because of it.

It lives in bench/ on purpose: it is a yardstick, not part of the Lambda package.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

import boto3

TASK = ("ECS Task State Change", "taskArn")
CONTAINER_INSTANCE = ("ECS Container Instance State Change", "containerInstanceArn")
# The values of ecs_state.telemetry.Outcome: the baseline runs alone, as the AWS example
# would, so it cannot import the package (tests/bench checks that they agree).
APPLIED = "applied"
STALE = "stale-or-duplicate"


@dataclass(frozen=True)
class Tables:
    task: str
    container_instance: str | None = None


def lambda_handler(event: Any, context: Any) -> str:
    """Entry point with the same environment variables as the shipped handler."""
    tables = Tables(
        task=os.environ["TASK_TABLE_NAME"],
        container_instance=os.environ.get("CONTAINER_INSTANCE_TABLE_NAME"),
    )
    return handle(event, tables)


def handle(
    event: dict[str, Any],
    tables: Tables,
    session: Any = None,
    log: TextIO | None = None,
    now: float | None = None,
) -> str:
    """Apply one event the read-then-write way; return ``applied`` or ``stale-or-duplicate``.

    ``session`` stands for the execution environment's default boto3 session (it survives
    between invocations in Lambda); the client is still built on every call, as in the
    example.
    """
    # The example prints the raw event, overrides and all.
    print(json.dumps(event), file=log or sys.stdout)
    if event.get("source") != "aws.ecs":
        raise ValueError("Function only supports input from events with a source type of: aws.ecs")
    detail_type = event.get("detail-type")
    if detail_type == TASK[0]:
        table, key = tables.task, TASK[1]
    elif detail_type == CONTAINER_INSTANCE[0] and tables.container_instance:
        table, key = tables.container_instance, CONTAINER_INSTANCE[1]
    else:
        raise ValueError(f"detail-type for event is not a supported type: {detail_type!r}")
    detail = event["detail"]
    version = int(detail["version"])

    client = (session or boto3).client("dynamodb")
    saved = client.get_item(TableName=table, Key={key: {"S": detail[key]}})
    stored = saved.get("Item", {}).get("version", {}).get("N")
    if stored is not None and version <= int(stored):
        return STALE
    client.put_item(TableName=table, Item=build_item(event, now))
    return APPLIED


def build_item(event: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """The shipped handler's item shape: detail fields at top level plus metadata."""
    detail = event["detail"]
    item = {name: _attribute(value) for name, value in detail.items()}
    item["version"] = {"N": str(int(detail["version"]))}
    ingested = datetime.now(UTC) if now is None else datetime.fromtimestamp(now, UTC)
    metadata = {
        "_eventId": event.get("id"),
        "_eventTime": _event_time(event.get("time")),
        "_ingestedAt": _iso(ingested),
        "_account": event.get("account"),
        "_region": event.get("region"),
    }
    item.update({name: {"S": value} for name, value in metadata.items() if value})
    return item


def _attribute(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        return {"N": str(value)}
    if value is None:
        return {"NULL": True}
    if isinstance(value, dict):
        return {"M": {name: _attribute(inner) for name, inner in value.items()}}
    if isinstance(value, list):
        return {"L": [_attribute(inner) for inner in value]}
    raise TypeError(f"unsupported value {value!r}")


def _event_time(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return _iso(parsed.astimezone(UTC))


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
