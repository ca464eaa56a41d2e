"""botocore event hooks that measure a client without touching the code that uses it.

- ``before-parameter-build.dynamodb.*`` adds ``ReturnConsumedCapacity=TOTAL`` to GetItem and
  PutItem, so DynamoDB reports the capacity each request consumed;
- ``before-send.dynamodb.*`` counts every HTTP request really sent, retries included;
- ``after-call.dynamodb.*`` adds up the reported capacity and counts failed conditions.

Hooks registered on a boto3 Session's event system are copied into every client that
session builds afterwards, which is how the baseline's per-invocation clients get them.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

WRITE_OPERATIONS = frozenset({"PutItem", "UpdateItem", "DeleteItem"})
READ_OPERATIONS = frozenset({"GetItem", "Query", "Scan"})
CAPACITY_OPERATIONS = WRITE_OPERATIONS | READ_OPERATIONS


@dataclass
class RequestStats:
    """What one worker's clients sent and what DynamoDB reported. One per thread: no lock."""

    sent: int = 0
    sent_by_operation: Counter = field(default_factory=Counter)
    write_units: float = 0.0
    read_units: float = 0.0
    capacity_reports: int = 0
    failed_conditions: int = 0
    # Failed conditional writes are billed but their error carries no ConsumedCapacity;
    # this estimates them from the size of the item the request tried to write.
    failed_condition_units: float = 0.0

    def merge(self, other: RequestStats) -> None:
        self.sent += other.sent
        self.sent_by_operation.update(other.sent_by_operation)
        self.write_units += other.write_units
        self.read_units += other.read_units
        self.capacity_reports += other.capacity_reports
        self.failed_conditions += other.failed_conditions
        self.failed_condition_units += other.failed_condition_units


def instrument(events: Any, stats: RequestStats) -> None:
    """Register the measuring hooks on a client's or a session's event system."""
    last_item: dict[str, Any] = {}  # the item of the write in flight, sized only if it fails

    def ask_for_capacity(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in CAPACITY_OPERATIONS:
            params["ReturnConsumedCapacity"] = "TOTAL"
        if model.name in WRITE_OPERATIONS:
            last_item["item"] = params.get("Item")

    def count_send(event_name: str, **_: Any) -> None:
        stats.sent += 1
        stats.sent_by_operation[event_name.rsplit(".", 1)[-1]] += 1

    def record_response(parsed: dict[str, Any], model: Any, **_: Any) -> None:
        capacity = parsed.get("ConsumedCapacity")
        if capacity is not None:
            stats.capacity_reports += 1
            units = float(capacity.get("CapacityUnits", 0.0))
            if model.name in WRITE_OPERATIONS:
                stats.write_units += units
            else:
                stats.read_units += units
        if parsed.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            stats.failed_conditions += 1
            item = last_item.get("item")
            stats.failed_condition_units += write_units_for(item) if item else 1.0

    events.register("before-parameter-build.dynamodb.*", ask_for_capacity)
    events.register("before-send.dynamodb.*", count_send)
    events.register("after-call.dynamodb.*", record_response)


def write_units_for(item: dict[str, Any]) -> float:
    """Write capacity units DynamoDB bills for writing this item (1 KB each, rounded up)."""
    from ecs_state.attributes import item_size  # the handler's own accounting of item size

    return float(max(1, math.ceil(item_size(item) / 1024)))
