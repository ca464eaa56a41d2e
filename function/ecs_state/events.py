"""Validate an EventBridge event from ECS and say which record it updates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ecs_state.config import Settings
from ecs_state.errors import InvalidEventError

TASK = "task"
CONTAINER_INSTANCE = "container-instance"

# The global secondary index the module puts on each table it creates: partition key
# CLUSTER_FIELD, sort key the kind's status_field. Both are top-level attributes of every
# stored item already, so the index needs no attribute of its own. main.tf states the
# same name; the module tests check the applied tables against these values.
STATUS_INDEX = "cluster-status"
CLUSTER_FIELD = "clusterArn"


# The statuses ECS documents, a task's in the order of its life.
TASK_LIFECYCLE = (
    "PROVISIONING",
    "PENDING",
    "ACTIVATING",
    "RUNNING",
    "DEACTIVATING",
    "STOPPING",
    "DEPROVISIONING",
    "STOPPED",
)
CONTAINER_INSTANCE_STATUSES = (
    "REGISTERING",
    "REGISTRATION_FAILED",
    "ACTIVE",
    "DRAINING",
    "DEREGISTERING",
    "INACTIVE",
)


@dataclass(frozen=True)
class Kind:
    """One kind of ECS resource: its event detail-type, table key, statuses and end states."""

    name: str
    detail_type: str
    key: str
    status_field: str
    terminal_values: frozenset[str]
    statuses: tuple[str, ...]


KINDS = {
    kind.detail_type: kind
    for kind in (
        Kind(
            TASK,
            "ECS Task State Change",
            "taskArn",
            "lastStatus",
            frozenset({"STOPPED", "DELETED"}),
            (*TASK_LIFECYCLE, "DELETED"),
        ),
        Kind(
            CONTAINER_INSTANCE,
            "ECS Container Instance State Change",
            "containerInstanceArn",
            "status",
            # A deregistered instance reports INACTIVE; one that failed to register never
            # comes back either.
            frozenset({"INACTIVE", "REGISTRATION_FAILED"}),
            CONTAINER_INSTANCE_STATUSES,
        ),
    )
}

KIND_BY_NAME = {kind.name: kind for kind in KINDS.values()}


@dataclass(frozen=True)
class Change:
    """A validated state change: which table, which record, which version."""

    kind: Kind
    table: str
    arn: str
    version: int
    detail: dict[str, Any]
    event_id: str | None
    event_time: float | None  # epoch seconds, from the event's `time` (or detail.updatedAt)
    account: str | None
    region: str | None
    # Who observed the change when it is not an event: the reconciler sets "reconcile".
    # Events leave it None, so the items they write carry no `_source` at all.
    source: str | None = None

    @property
    def is_terminal(self) -> bool:
        return self.detail.get(self.kind.status_field) in self.kind.terminal_values


def kind_of(detail_type: object) -> Kind | None:
    """The kind an event's detail-type names; None for any other value, text or not."""
    return KINDS.get(detail_type) if isinstance(detail_type, str) else None


def parse(event: Any, settings: Settings) -> Change:
    """Return the change an event describes, or raise InvalidEventError naming the problem."""
    if not isinstance(event, dict):
        raise InvalidEventError(f"event must be a JSON object, got {type(event).__name__}")
    source = event.get("source")
    if source != "aws.ecs":
        raise InvalidEventError(f"event source must be 'aws.ecs', got {source!r}")
    detail_type = event.get("detail-type")
    kind = kind_of(detail_type)
    if kind is None:
        raise InvalidEventError(
            f"unknown detail-type {detail_type!r}; expected one of {', '.join(map(repr, KINDS))}"
        )
    if kind.name == CONTAINER_INSTANCE and settings.launch_type != "EC2":
        raise InvalidEventError(
            f"container-instance events are not handled when LAUNCH_TYPE is {settings.launch_type}"
        )
    detail = event.get("detail")
    if not isinstance(detail, dict) or not detail:
        raise InvalidEventError("event has no 'detail' object")
    version = detail.get("version")
    # bool is a subclass of int, and True is not a version.
    if isinstance(version, bool) or not isinstance(version, int):
        raise InvalidEventError(f"detail.version must be an integer, got {version!r}")
    if version < 0:
        raise InvalidEventError(f"detail.version must not be negative, got {version}")
    arn = detail.get(kind.key)
    if not isinstance(arn, str) or not arn:
        raise InvalidEventError(f"detail.{kind.key} is missing")
    if not (arn.startswith("arn:") and ":ecs:" in arn):
        raise InvalidEventError(f"detail.{kind.key} is not an ECS ARN: {arn!r}")
    table = settings.task_table if kind.name == TASK else settings.container_instance_table
    assert table is not None  # Settings guarantees it in EC2 mode
    return Change(
        kind=kind,
        table=table,
        arn=arn,
        version=version,
        detail=detail,
        event_id=_optional_str(event, "id"),
        event_time=_epoch(event.get("time")) or _epoch(detail.get("updatedAt")),
        account=_optional_str(event, "account"),
        region=_optional_str(event, "region"),
    )


def _optional_str(event: dict[str, Any], name: str) -> str | None:
    value = event.get(name)
    return value if isinstance(value, str) and value else None


def _epoch(value: Any) -> float | None:
    """ISO 8601 timestamp (as EventBridge and ECS write them) to epoch seconds."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.timestamp()
