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
from decimal import Context, Decimal, InvalidOperation
from typing import Any

from ecs_state.config import Settings
from ecs_state.errors import InvalidEventError
from ecs_state.events import TASK, Change

EXPIRES_AT = "_expiresAt"
SECONDS_PER_DAY = 86_400
CLOCK_SKEW_MARGIN = 3_600
REDACTED = "**redacted**"

# DynamoDB's documented limits.
MAX_ITEM_BYTES = 400 * 1024
MAX_DEPTH = 32
MAX_NUMBER_DIGITS = 38
MAX_NUMBER_EXPONENT = 125  # magnitude below 1E+126
MIN_NUMBER_EXPONENT = -130  # magnitude at least 1E-130
_EXACT = Context(prec=100)

CONDITION_INSERT_OR_NEWER = "attribute_not_exists(#pk) OR #version < :version"
CONDITION_NEWER_ONLY = "#version < :version"


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


def condition(change: Change, settings: Settings, now: float) -> str:
    """The write condition; see the module docstring for why old events may not insert."""
    if settings.ttl_days <= 0:
        return CONDITION_INSERT_OR_NEWER
    window = settings.ttl_days * SECONDS_PER_DAY - CLOCK_SKEW_MARGIN
    if change.event_time is None or now - change.event_time >= window:
        return CONDITION_NEWER_ONLY
    return CONDITION_INSERT_OR_NEWER


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


def to_attribute(value: Any, path: str, depth: int = 1) -> dict[str, Any]:
    """A JSON value as a DynamoDB attribute value; lists and maps are kept as L and M."""
    if depth > MAX_DEPTH:
        raise InvalidEventError(f"{path} is nested deeper than DynamoDB's {MAX_DEPTH} levels")
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, (int, float, Decimal)):
        return {"N": _number(value, path)}
    if value is None:
        return {"NULL": True}
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str) or not key:
                raise InvalidEventError(f"{path} has an empty or non-text key {key!r}")
        return {
            "M": {
                key: to_attribute(item, f"{path}.{key}", depth + 1) for key, item in value.items()
            }
        }
    if isinstance(value, (list, tuple)):
        return {
            "L": [to_attribute(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
        }
    raise InvalidEventError(
        f"{path} has a value of type {type(value).__name__} that JSON cannot hold"
    )


def _number(value: int | float | Decimal, path: str) -> str:
    """Exact decimal text of a number, checked against DynamoDB's precision and range.

    Floats go through Decimal(repr(x)), the shortest text that reads back as the same
    float, so 0.1 is stored as 0.1 and not as 0.1000000000000000055511151231257827.
    """
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, ValueError):
        raise InvalidEventError(f"{path} is not a number: {value!r}") from None
    if not number.is_finite():
        raise InvalidEventError(f"{path} is {value!r}; DynamoDB stores only finite numbers")
    if number.is_zero():
        return "0"
    digits = len(number.normalize(_EXACT).as_tuple().digits)
    if digits > MAX_NUMBER_DIGITS:
        raise InvalidEventError(
            f"{path} has {digits} significant digits; DynamoDB keeps at most {MAX_NUMBER_DIGITS}"
        )
    if not MIN_NUMBER_EXPONENT <= number.adjusted() <= MAX_NUMBER_EXPONENT:
        raise InvalidEventError(f"{path} = {value!r} is outside DynamoDB's number range")
    return str(value) if isinstance(value, int) else str(number)


def item_size(item: dict[str, Any]) -> int:
    """Size of an item by DynamoDB's accounting, rounded up where it is approximate."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, Any]) -> int:
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return len(inner) // 2 + 2
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + _value_size(element) for element in inner)
    if kind == "M":
        return 3 + sum(
            1 + len(key.encode()) + _value_size(element) for key, element in inner.items()
        )
    raise ValueError(f"unexpected attribute type {kind}")


def _iso(epoch: float) -> str:
    return (
        datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )
