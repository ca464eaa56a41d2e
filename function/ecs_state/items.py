"""Build the DynamoDB item for a change, in the low-level client's attribute format.

Item shape: every field of the event's ``detail`` at top level, as the AWS documentation
example stores them (so readers of tables made by that example keep working), with
``version`` as a number. Metadata attributes start with ``_`` so they can never collide
with a detail field:

    _eventId     EventBridge event id of the event that wrote the item
    _eventTime   the event's ``time`` (ISO 8601)
    _ingestedAt  when the handler wrote the item (ISO 8601, UTC)
    _account     AWS account of the event
    _region      AWS region of the event
    _expiresAt   epoch seconds; only on terminal records when TTL_DAYS > 0
    _source      "reconcile" on records the reconciler wrote from the ECS API; absent on
                 records written by an event (see ecs_state.reconcile)
    _missingSince  ISO 8601; set by the reconciler on a record ECS no longer knows

Retention and resurrection
--------------------------
With TTL_DAYS = N > 0 a record that reaches a terminal state (task STOPPED or DELETED,
container instance INACTIVE or REGISTRATION_FAILED) gets ``_expiresAt = time + N days``
where ``time`` is the event's own timestamp. DynamoDB deletes it some time after that.

The danger is a late or redriven *older* event of the same resource arriving after the
deletion: ``attribute_not_exists`` would then let it create a fresh, non-terminal record
that never expires, bringing a stopped task back to life. The rule that prevents it:

    an event older than the retention window may update a record but never create one.

Why it is enough: every earlier event of a resource was emitted no later than its
terminal event (t_e <= t_terminal). The record can only be gone once
now >= t_terminal + N days >= t_e + N days, so any event that could resurrect it is older
than the window and is refused the insert (its write keeps only the ``version <``
condition, which a missing item fails). A margin of one hour absorbs clock skew between
this function and DynamoDB's TTL sweeper. The cost: an event older than the window for a
resource that was never recorded is dropped as stale; keep TTL_DAYS above the dead-letter
queue's retention (14 days at most) so that a redrive always lands inside the window.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ecs_state.attributes import MAX_ITEM_BYTES, item_size, to_attribute
from ecs_state.config import Settings
from ecs_state.errors import InvalidEventError
from ecs_state.events import TASK, Change
from ecs_state.store import Condition

EXPIRES_AT = "_expiresAt"
SECONDS_PER_DAY = 86_400
CLOCK_SKEW_MARGIN = 3_600
REDACTED = "**redacted**"


def build_item(change: Change, settings: Settings, now: float) -> dict[str, Any]:
    """Return the item to put, or raise InvalidEventError if DynamoDB would refuse it."""
    detail = change.detail
    if settings.redact_overrides and change.kind.name == TASK:
        detail = redact_overrides(detail)
    item = {name: to_attribute(value, f"detail.{name}") for name, value in detail.items()}
    item["version"] = {"N": str(change.version)}
    metadata = {
        "_eventId": change.event_id,
        "_eventTime": _iso(change.event_time) if change.event_time is not None else None,
        "_ingestedAt": _iso(now),
        "_account": change.account,
        "_region": change.region,
        "_source": change.source,
    }
    item.update({name: {"S": value} for name, value in metadata.items() if value is not None})
    expires_at = expiry(change, settings)
    if expires_at is not None:
        item[EXPIRES_AT] = {"N": str(expires_at)}
    size = item_size(item)
    if size > MAX_ITEM_BYTES:
        raise InvalidEventError(
            f"item for {change.arn} would be {size} bytes; DynamoDB's limit is {MAX_ITEM_BYTES}"
        )
    return item


def expiry(change: Change, settings: Settings) -> int | None:
    """Epoch second at which a terminal record may be deleted, or None to keep it."""
    if settings.ttl_days <= 0 or not change.is_terminal or change.event_time is None:
        return None
    return int(change.event_time) + settings.ttl_days * SECONDS_PER_DAY


def condition(change: Change, settings: Settings, now: float) -> Condition:
    """The write condition; see the module docstring for why old events may not insert."""
    if settings.ttl_days > 0:
        window = settings.ttl_days * SECONDS_PER_DAY - CLOCK_SKEW_MARGIN
        if change.event_time is None or now - change.event_time >= window:
            return Condition.newer_only(change.version)
    return Condition.insert_or_newer(change.kind.key, change.version)


def redact_overrides(detail: dict[str, Any]) -> dict[str, Any]:
    """Copy of a task detail with every container environment override value replaced.

    Names are kept so readers can still see which variables were overridden. The input
    is not modified.
    """
    overrides = detail.get("overrides")
    if not isinstance(overrides, dict) or not isinstance(overrides.get("containerOverrides"), list):
        return detail
    containers = []
    for container in overrides["containerOverrides"]:
        if isinstance(container, dict) and isinstance(container.get("environment"), list):
            container = dict(container)
            container["environment"] = [
                {**pair, "value": REDACTED} if isinstance(pair, dict) and "value" in pair else pair
                for pair in container["environment"]
            ]
        containers.append(container)
    return {**detail, "overrides": {**overrides, "containerOverrides": containers}}


def _iso(epoch: float) -> str:
    return (
        datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )
