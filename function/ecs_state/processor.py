"""Process one event: validate, build the item, write it once. Pure apart from the client."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ecs_state import events, items, store
from ecs_state.config import Settings
from ecs_state.errors import InvalidEventError
from ecs_state.telemetry import Outcome, Telemetry

if TYPE_CHECKING:  # stubs of the lint environment; the Lambda runtime has boto3 alone
    from mypy_boto3_dynamodb import DynamoDBClient


def process_event(
    event: Any,
    settings: Settings,
    client: DynamoDBClient,
    telemetry: Telemetry,
    now: float | None = None,
) -> dict[str, Any]:
    """Apply one ECS event to its table and return what happened.

    Raises InvalidEventError for bad input (nothing is written) and lets DynamoDB errors
    other than a failed condition propagate once the client's retries are exhausted, so
    that Lambda retries the event and finally sends it to the dead-letter queue.
    """
    started = time.perf_counter()
    now = time.time() if now is None else now
    context = _context_for_log(event)
    try:
        change = events.parse(event, settings)
        context.update(arn=change.arn, version=change.version, table=change.table)
        if telemetry.enabled("DEBUG"):
            telemetry.log("DEBUG", "event received", detail=_redacted_detail(change))
        item = items.build_item(change, settings, now)
        written = store.conditional_put(
            client, change.table, item, items.condition(change, settings, now)
        )
    except InvalidEventError as error:
        _report(telemetry, Outcome.REJECTED, context, started, reason=str(error))
        raise
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code == "ValidationException":
            # Our own checks should have caught this; never crash half-way, say why.
            message = f"DynamoDB refused the item: {error.response['Error'].get('Message', '')}"
            _report(telemetry, Outcome.REJECTED, context, started, reason=message)
            raise InvalidEventError(message) from error
        _report(telemetry, Outcome.FAILED, context, started, reason=code or str(error))
        raise
    except Exception as error:
        _report(telemetry, Outcome.FAILED, context, started, reason=type(error).__name__)
        raise
    outcome = Outcome.APPLIED if written else Outcome.STALE
    _report(telemetry, outcome, context, started)
    return {"outcome": str(outcome), "arn": change.arn, "version": change.version}


def _context_for_log(event: Any) -> dict[str, Any]:
    if not isinstance(event, dict):
        return {"resource": "unknown"}
    kind = events.kind_of(event.get("detail-type"))
    context: dict[str, Any] = {"resource": kind.name if kind else "unknown"}
    if isinstance(event.get("id"), str):
        context["eventId"] = event["id"]
    return context


def _report(
    telemetry: Telemetry, outcome: Outcome, context: dict[str, Any], started: float, **extra: Any
) -> None:
    fields = dict(context)
    resource = fields.pop("resource")
    telemetry.outcome(outcome, resource, (time.perf_counter() - started) * 1000, **fields, **extra)


def _redacted_detail(change: events.Change) -> dict[str, Any]:
    if change.kind.name == events.TASK:
        return items.redact_overrides(change.detail)
    return change.detail
