"""Reconciler: bring the tables in line with the ECS API (backfill, then periodic repair).

An event stream alone is never complete: nothing before the module was applied, nothing
that was lost past every retry. A run of the reconciler reads what ECS itself reports and
writes it through the same item shape and the same conditional PutItem as the event
handler, so that a newer event always wins and the reconciler never moves a record back.

Entry points::

    ecs_state.reconcile.lambda_handler            (Lambda; same zip as the handler)
    python -m ecs_state.reconcile --launch-type EC2 --task-table T \\
        [--container-instance-table C] [--cluster ARN ...] [--max-requests-per-second N]

Environment (Lambda): the event function's variables, parsed by ``Settings.from_env``
(LAUNCH_TYPE, TASK_TABLE_NAME, CONTAINER_INSTANCE_TABLE_NAME in EC2 mode, TTL_DAYS,
REDACT_OVERRIDES, LOG_LEVEL, METRICS_NAMESPACE, DYNAMODB_MAX_ATTEMPTS), plus
``CLUSTER_ARNS`` (comma-separated cluster ARNs; empty means every cluster that
ListClusters returns) and ``ECS_MAX_REQUESTS_PER_SECOND`` (default 5, at most 20). The
ECS and DynamoDB clients come from boto3's default chain, so AWS_ENDPOINT_URL_ECS and
AWS_ENDPOINT_URL_DYNAMODB point them at emulators.

One run, per cluster and per kind (tasks; container instances in EC2 mode only)
--------------------------------------------------------------------------------
1. Read the stored versions of the cluster: one paginated Query of the table's
   ``cluster-status`` index (partition key clusterArn) with the projection key, version,
   status, _missingSince. Its cost is the projected size of the cluster's records, far
   below 0.5 read unit per record. A table without that index (or with a projection that
   lacks version or _missingSince, learnt once per run from DescribeTable) is read with
   BatchGetItem on the ARNs ECS lists instead: 0.5 unit per record, and step 4 is skipped.
2. ListTasks for desiredStatus RUNNING and then STOPPED (ListContainerInstances), all
   pages of 100; every 100 ARNs listed are described as they come (DescribeTasks or
   DescribeContainerInstances take 100 ARNs a request), the rest at the end.
3. A resource is written only if it has no record or the API's ``version`` is greater
   than the stored one; an equal or older API version costs nothing. The item is the event
   path's: ``items.build_item`` on an ``events.Change`` whose detail is the API object,
   with timestamps turned into the ISO 8601 text events carry ("2024-05-21T13:04:43.112Z"),
   plus ``_source = "reconcile"``; the write is ``store.conditional_put`` with
   ``items.condition`` (insert, or replace an older version), up to WRITERS (8) at a time.
   A resource with no ``version`` is reported and skipped, never written.
4. Records ECS no longer knows: a stored record that is not terminal, not marked yet and
   that no list returned is described once more; if ECS answers MISSING for it, the record
   gets ``_missingSince`` (and ``_expiresAt``, as a terminal record would, when
   TTL_DAYS > 0) through an UpdateItem conditioned on the version still being the one
   read and on no mark yet. Nothing else changes: no status is invented, nothing is
   deleted. A later event (a newer version) replaces the whole item and so clears the mark.

Differences from an event-written record, all in metadata or in what the API lacks:
``_source`` is "reconcile"; ``_eventTime`` and ``_ingestedAt`` are when the API was read;
``_eventId`` is absent; ``updatedAt`` is absent (ECS's API objects do not carry it); a
container instance gets ``clusterArn`` from the cluster it was listed in, as its events
carry it. Tags are not requested (events carry none).

How a reader tells the records apart
------------------------------------
- ``_missingSince`` present: ECS no longer knows the resource (a task stopped long ago
  whose STOPPED event never arrived, an instance gone since); its status is the last one
  known, not a current one. The reader library flags such records.
- ``_source == "reconcile"``: the record came from the API, not from an event.
- neither: written by an event.

Why reading the index is safe although it is eventually consistent
-------------------------------------------------------------------
Versions only grow, so an index entry that lags the table shows an older version (or no
record) than the table holds. Then the reconciler either writes, and the conditional
PutItem refuses it if the table is already at that version or newer, or it skips a
resource whose stored version is at least the API's, which the table confirms a fortiori.
A lagging entry can likewise only make the missing mark's condition fail. The condition on
each write, checked by DynamoDB atomically, is what guarantees the order; the read only
saves writes.

Gentle with ECS, and finishing in time
--------------------------------------
ListTasks, DescribeTasks, ListContainerInstances and DescribeContainerInstances share one
per-account bucket (about 20 requests/s, burst 100) with every other caller. Every HTTP
attempt the reconciler sends to ECS, retries included, first takes a token from its own
bucket (ECS_MAX_REQUESTS_PER_SECOND, burst of one second's worth); botocore's adaptive
retry mode backs off further when ECS throttles. A run stops cleanly before the Lambda
timeout (remaining time less a margin of 30 s, or a quarter of it when shorter) and when
throttling outlasts the retries; its summary lists the clusters it did not finish.

Convergence over several runs: clusters are taken in a new pseudo-random order each run
(seeded by the run's start time), so a cluster one run did not reach is as likely as any
to come first in the next; with n clusters and at least one finished per run, a given
cluster is finished at least once in k runs with probability >= 1 - (1 - 1/n)^k. Every
write is conditional and idempotent, so a run cut short leaves nothing half done. A
single cluster needs about (resources / 50) ECS requests per run; at 5 requests/s a
300 s run covers about 65,000 resources.

Permissions, per resource (the module grants exactly these)
-----------------------------------------------------------
- ecs:ListClusters (only when CLUSTER_ARNS is empty);
- ecs:ListTasks and ecs:DescribeTasks; ecs:ListContainerInstances and
  ecs:DescribeContainerInstances in EC2 mode;
- on each table: dynamodb:DescribeTable, dynamodb:PutItem, dynamodb:UpdateItem,
  dynamodb:BatchGetItem (only used when the index is missing);
- on ``table/<name>/index/*``: dynamodb:Query.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import sys
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from ecs_state import items, store
from ecs_state.config import Settings
from ecs_state.errors import ConfigError, InvalidEventError
from ecs_state.events import (
    CLUSTER_FIELD,
    CONTAINER_INSTANCE,
    KIND_BY_NAME,
    STATUS_INDEX,
    TASK,
    Change,
    Kind,
)
from ecs_state.store import Condition
from ecs_state.telemetry import Telemetry

SOURCE = "reconcile"
MISSING_SINCE = "_missingSince"
# ECS's limits: List* return at most 100 ARNs a page, Describe* take at most 100 ARNs.
PAGE_SIZE = 100
DEFAULT_MAX_REQUESTS_PER_SECOND = 5.0
# The shared bucket's sustained rate; a cap above it would only earn throttling.
MAX_REQUESTS_PER_SECOND = 20.0
TIME_MARGIN_SECONDS = 30.0
# Worst case of one ECS call: 3 attempts x (2 s connect + 5 s read) + backoff, about 25 s,
# inside the time margin, so that a run stops before Lambda's timeout kills it.
ECS_MAX_ATTEMPTS = 3
BATCH_GET_ATTEMPTS = 6
# Writes of one Describe batch run this many at a time: a backfill is bound by DynamoDB's
# latency per write, not by ECS (each write is independent and conditional, so their order
# does not matter). boto3 clients are thread-safe.
WRITERS = 8
THROTTLING_CODES = frozenset(
    {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"}
)
# Fields of an API object that events never carry. DescribeTasks returns tags only when
# asked (include=TAGS), which the reconciler does not do; dropped all the same so that a
# reconciled record never has a field that the next event would silently remove.
API_ONLY_FIELDS = frozenset({"tags"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ENV_FLAGS = {
    "LAUNCH_TYPE": "--launch-type",
    "TASK_TABLE_NAME": "--task-table",
    "CONTAINER_INSTANCE_TABLE_NAME": "--container-instance-table",
    "CLUSTER_ARNS": "--cluster",
    "ECS_MAX_REQUESTS_PER_SECOND": "--max-requests-per-second",
    "TTL_DAYS": "--ttl-days",
    "LOG_LEVEL": "--log-level",
}


class ReconcileError(RuntimeError):
    """A run finished, but some clusters failed; the message names each one."""

    def __init__(self, message: str, summary: dict[str, Any]):
        super().__init__(message)
        self.summary = summary


class OutOfTime(Exception):
    """The run's time budget is spent; raised before a request that would overrun it."""


@dataclass(frozen=True)
class ReconcileSettings:
    """The event function's settings plus what only the reconciler needs."""

    base: Settings
    cluster_arns: tuple[str, ...] = ()
    max_requests_per_second: float = DEFAULT_MAX_REQUESTS_PER_SECOND

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ReconcileSettings:
        return cls(
            base=Settings.from_env(env),
            cluster_arns=_cluster_arns(env.get("CLUSTER_ARNS", "")),
            max_requests_per_second=_rate(env.get("ECS_MAX_REQUESTS_PER_SECOND", "")),
        )

    @property
    def kinds(self) -> tuple[Kind, ...]:
        """What a run reconciles: FARGATE mode touches tasks only, as the event path does."""
        if self.base.launch_type == "EC2":
            return (KIND_BY_NAME[TASK], KIND_BY_NAME[CONTAINER_INSTANCE])
        return (KIND_BY_NAME[TASK],)

    def table(self, kind: Kind) -> str:
        if kind.name == TASK:
            return self.base.task_table
        assert self.base.container_instance_table is not None  # Settings checks it in EC2 mode
        return self.base.container_instance_table


def _cluster_arns(raw: str) -> tuple[str, ...]:
    arns = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    for arn in arns:
        parts = arn.split(":", 5)
        # The index is keyed by the full ARN that ECS puts in clusterArn; a bare name
        # would find no stored record.
        if (
            len(parts) != 6
            or parts[0] != "arn"
            or parts[2] != "ecs"
            or not (parts[5].startswith("cluster/") and len(parts[5]) > len("cluster/"))
        ):
            raise ConfigError(
                f"CLUSTER_ARNS entry {arn!r} is not a cluster ARN "
                "(arn:<partition>:ecs:<region>:<account>:cluster/<name>)"
            )
    return arns


def _rate(raw: str) -> float:
    raw = raw.strip()
    if not raw:
        return DEFAULT_MAX_REQUESTS_PER_SECOND
    try:
        rate = float(raw)
    except ValueError:
        raise ConfigError(f"ECS_MAX_REQUESTS_PER_SECOND must be a number, got {raw!r}") from None
    if not 0 < rate <= MAX_REQUESTS_PER_SECOND:
        raise ConfigError(
            f"ECS_MAX_REQUESTS_PER_SECOND must be above 0 and at most {MAX_REQUESTS_PER_SECOND:g} "
            f"(ECS's shared per-account rate), got {raw}"
        )
    return rate


def ecs_client() -> Any:
    """An ECS client from boto3's default chain, with botocore's adaptive retry mode.

    Adaptive mode adds a client-side rate limiter that slows down after a throttling
    answer, on top of the reconciler's own fixed cap (RateLimiter).
    """
    config = Config(
        retries={"mode": "adaptive", "total_max_attempts": ECS_MAX_ATTEMPTS},
        connect_timeout=2,
        read_timeout=5,
    )
    return boto3.client("ecs", config=config)


class RateLimiter:
    """A token bucket: ``rate`` requests a second on average, bursts of ``burst``.

    Thread-safe. A request that would have to wait past the deadline raises OutOfTime
    instead of waiting, so the run stops with time left to report.
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.rate = rate
        self.capacity = burst if burst is not None else max(1.0, rate)
        self.clock = clock
        self.sleep = sleep
        self.tokens = self.capacity
        self.updated = clock()
        self.deadline: float | None = None
        self.waited = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        with self._lock:
            now = self.clock()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            wait = 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate
            if self.deadline is not None and now + wait > self.deadline:
                raise OutOfTime()
            # Taken now, even if it is only available after the wait: later callers queue
            # behind this one instead of racing for the same token.
            self.tokens -= 1
            self.waited += wait
        if wait > 0:
            self.sleep(wait)


@dataclass
class Meter:
    """Requests and capacity a run used, counted from the clients' own events."""

    ecs_requests: Counter[str] = field(default_factory=Counter)
    ecs_throttles: int = 0
    dynamodb_requests: Counter[str] = field(default_factory=Counter)
    read_units: float = 0.0
    write_units: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def reset(self) -> None:
        with self._lock:
            self.ecs_requests.clear()
            self.ecs_throttles = 0
            self.dynamodb_requests.clear()
            self.read_units = self.write_units = 0.0


_READS = frozenset({"Query", "BatchGetItem", "GetItem", "Scan"})
_CAPACITY_REPORTING = frozenset({"Query", "BatchGetItem", "PutItem", "UpdateItem"})


class _Hooks:
    """The botocore hooks of one client, registered once, serving the latest Reconciler.

    A second Reconciler on the same client takes the hooks over instead of adding its own,
    so that no request is capped or counted twice.
    """

    def __init__(self) -> None:
        self.limiter: RateLimiter | None = None
        self.meter = Meter()

    # ECS: the cap sits on before-send, which botocore emits for every HTTP attempt,
    # retries included; each one is a request against ECS's bucket.
    def before_ecs_send(self, event_name: str = "", **_: Any) -> None:
        if self.limiter is not None:
            self.limiter.acquire()
        with self.meter._lock:
            self.meter.ecs_requests[_operation(event_name)] += 1

    def ecs_response(
        self, parsed_response: Any = None, response_dict: Any = None, **_: Any
    ) -> None:
        code = ((parsed_response or {}).get("Error") or {}).get("Code")
        status = (response_dict or {}).get("status_code")
        if code in THROTTLING_CODES or status == 429:
            with self.meter._lock:
                self.meter.ecs_throttles += 1

    # DynamoDB: ask every request that can for its consumed capacity, and add it up.
    def ask_for_capacity(self, params: dict[str, Any], event_name: str = "", **_: Any) -> None:
        if _operation(event_name) in _CAPACITY_REPORTING:
            params.setdefault("ReturnConsumedCapacity", "TOTAL")

    def dynamodb_answer(self, parsed: dict[str, Any], event_name: str = "", **_: Any) -> None:
        operation = _operation(event_name)
        consumed = parsed.get("ConsumedCapacity") or []
        if isinstance(consumed, dict):
            consumed = [consumed]
        units = sum(float(entry.get("CapacityUnits", 0)) for entry in consumed)
        with self.meter._lock:
            self.meter.dynamodb_requests[operation] += 1
            if operation in _READS:
                self.meter.read_units += units
            else:
                self.meter.write_units += units

    def dynamodb_error(self, event_name: str = "", **_: Any) -> None:
        # A failed conditional write is billed like a write but reports no capacity;
        # it is counted as a request here and as `stale` in the summary.
        with self.meter._lock:
            self.meter.dynamodb_requests[_operation(event_name)] += 1


_HOOKS: weakref.WeakKeyDictionary[Any, _Hooks] = weakref.WeakKeyDictionary()


def _hooks_of(client: Any) -> tuple[_Hooks, bool]:
    if client in _HOOKS:
        return _HOOKS[client], False
    hooks = _HOOKS[client] = _Hooks()
    return hooks, True


def instrument(ecs: Any, dynamodb: Any, limiter: RateLimiter, meter: Meter) -> None:
    """Put the rate cap and the meter on the clients (see _Hooks)."""
    hooks, new = _hooks_of(ecs)
    hooks.limiter, hooks.meter = limiter, meter
    if new:
        ecs.meta.events.register("before-send.ecs", hooks.before_ecs_send)
        ecs.meta.events.register("response-received.ecs", hooks.ecs_response)
    hooks, new = _hooks_of(dynamodb)
    hooks.meter = meter
    if new:
        dynamodb.meta.events.register("provide-client-params.dynamodb", hooks.ask_for_capacity)
        dynamodb.meta.events.register("after-call.dynamodb", hooks.dynamodb_answer)
        dynamodb.meta.events.register("after-call-error.dynamodb", hooks.dynamodb_error)


def _operation(event_name: str) -> str:
    """The operation in a botocore event name such as "before-send.ecs.ListTasks"."""
    return event_name.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class Stored:
    """What the reconciler needs of a stored record."""

    version: int
    status: str | None
    missing_since: str | None


class StateTable:
    """One state table: its stored versions, its conditional writes, its missing marks."""

    def __init__(self, client: Any, name: str, kind: Kind, sleep: Callable[[float], None]):
        self.client = client
        self.name = name
        self.kind = kind
        self.sleep = sleep
        self.index_problem = self._index_problem()

    @property
    def uses_index(self) -> bool:
        return self.index_problem is None

    def _index_problem(self) -> str | None:
        """Why the cluster index cannot serve the stored versions, or None if it can."""
        try:
            table = self.client.describe_table(TableName=self.name)["Table"]
        except ClientError as error:
            if _error_code(error) == "ResourceNotFoundException":
                variable = (
                    "TASK_TABLE_NAME" if self.kind.name == TASK else "CONTAINER_INSTANCE_TABLE_NAME"
                )
                raise ConfigError(
                    f"{variable}: table {self.name!r} does not exist in this account and region"
                ) from None
            raise
        for index in table.get("GlobalSecondaryIndexes", []):
            if index.get("IndexName") != STATUS_INDEX:
                continue
            keys = {key["KeyType"]: key["AttributeName"] for key in index.get("KeySchema", [])}
            if keys != {"HASH": CLUSTER_FIELD, "RANGE": self.kind.status_field}:
                return f"index {STATUS_INDEX} is not keyed by {CLUSTER_FIELD} and status"
            if index.get("IndexStatus", "ACTIVE") != "ACTIVE":
                return f"index {STATUS_INDEX} is {index.get('IndexStatus')}"
            projection = index.get("Projection", {})
            if projection.get("ProjectionType") == "ALL":
                return None
            projected = set(projection.get("NonKeyAttributes", []))
            lacking = {"version", MISSING_SINCE} - projected
            if projection.get("ProjectionType") == "INCLUDE" and not lacking:
                return None
            return f"index {STATUS_INDEX} does not project {', '.join(sorted(lacking))}"
        return f"table has no index {STATUS_INDEX}"

    def _projection(self) -> dict[str, Any]:
        return {
            "ProjectionExpression": "#key, #version, #status, #missing",
            "ExpressionAttributeNames": {
                "#key": self.kind.key,
                "#version": "version",
                "#status": self.kind.status_field,
                "#missing": MISSING_SINCE,
            },
        }

    def _stored(self, item: dict[str, Any]) -> tuple[str, Stored] | None:
        try:
            version = int(item["version"]["N"])
        except (KeyError, ValueError):
            return None  # not a record this package wrote; the write condition decides
        return item[self.kind.key]["S"], Stored(
            version,
            item.get(self.kind.status_field, {}).get("S"),
            item.get(MISSING_SINCE, {}).get("S"),
        )

    def cluster_records(self, cluster_arn: str) -> dict[str, Stored]:
        """Every record of a cluster, from the index (eventually consistent: see above)."""
        request: dict[str, Any] = {
            "TableName": self.name,
            "IndexName": STATUS_INDEX,
            "KeyConditionExpression": "#cluster = :cluster",
            "ExpressionAttributeValues": {":cluster": {"S": cluster_arn}},
            **self._projection(),
        }
        request["ExpressionAttributeNames"]["#cluster"] = CLUSTER_FIELD
        records: dict[str, Stored] = {}
        while True:
            page = self.client.query(**request)
            for item in page.get("Items", []):
                record = self._stored(item)
                if record is not None:
                    records[record[0]] = record[1]
            if "LastEvaluatedKey" not in page:
                return records
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def records(self, arns: Sequence[str]) -> dict[str, Stored]:
        """Records of up to 100 ARNs by BatchGetItem: the fallback without the index."""
        found: dict[str, Stored] = {}
        keys = [{self.kind.key: {"S": arn}} for arn in dict.fromkeys(arns)]
        attempt = 0
        while keys:
            answer = self.client.batch_get_item(
                RequestItems={self.name: {"Keys": keys, **self._projection()}}
            )
            for item in answer.get("Responses", {}).get(self.name, []):
                record = self._stored(item)
                if record is not None:
                    found[record[0]] = record[1]
            keys = answer.get("UnprocessedKeys", {}).get(self.name, {}).get("Keys", [])
            if keys:
                attempt += 1
                if attempt >= BATCH_GET_ATTEMPTS:
                    raise RuntimeError(
                        f"BatchGetItem on {self.name} left {len(keys)} keys unprocessed "
                        f"after {attempt} attempts"
                    )
                self.sleep(min(2.0, 0.05 * 2**attempt))
        return found

    def put(self, item: dict[str, Any], condition: Condition) -> bool:
        return store.conditional_put(self.client, self.name, item, condition)

    def mark_missing(self, arn: str, read: Stored, now: float, ttl_days: int) -> bool:
        """Set _missingSince if the record is still at the version read and not marked."""
        names = {"#missing": MISSING_SINCE, "#version": "version"}
        values: dict[str, Any] = {
            ":now": {"S": iso_text(datetime.fromtimestamp(now, UTC))},
            ":read": {"N": str(read.version)},
        }
        update = "SET #missing = :now"
        if ttl_days > 0:
            # Like a terminal record: it expires ttl_days after the reconciler found it
            # gone, which is after its last event, so items.condition's window still holds.
            names["#expires"] = items.EXPIRES_AT
            values[":expires"] = {"N": str(int(now) + ttl_days * items.SECONDS_PER_DAY)}
            update += ", #expires = :expires"
        try:
            self.client.update_item(
                TableName=self.name,
                Key={self.kind.key: {"S": arn}},
                UpdateExpression=update,
                ConditionExpression="#version = :read AND attribute_not_exists(#missing)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if _error_code(error) == "ConditionalCheckFailedException":
                return False  # an event wrote a newer version meanwhile, or already marked
            raise
        return True


def iso_text(moment: datetime) -> str:
    """A timestamp as ECS events write it: UTC, milliseconds, "Z" ("2024-05-21T13:04:43.112Z").

    Rounded to the millisecond in integers: the API sends epoch seconds with three decimals,
    and going through a float could turn .112 into .111999 and then truncate it to .111.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    micros = (moment - _EPOCH) // timedelta(microseconds=1)
    millis = (micros + 500) // 1000
    exact = _EPOCH + timedelta(milliseconds=millis)
    return exact.strftime("%Y-%m-%dT%H:%M:%S.") + f"{exact.microsecond // 1000:03d}Z"


def api_detail(kind: Kind, api_object: dict[str, Any], cluster_arn: str) -> dict[str, Any]:
    """An ECS API object in the shape of an event's detail."""
    detail = {
        name: _as_event_value(value)
        for name, value in api_object.items()
        if name not in API_ONLY_FIELDS
    }
    if kind.name == CONTAINER_INSTANCE:
        # Container-instance events carry clusterArn; the API object leaves it implicit.
        detail.setdefault(CLUSTER_FIELD, cluster_arn)
    return detail


def _as_event_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_text(value)
    if isinstance(value, dict):
        return {key: _as_event_value(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_as_event_value(inner) for inner in value]
    return value


@dataclass(frozen=True)
class EcsResource:
    """How one kind is listed and described."""

    list_operation: str
    list_field: str
    list_filters: tuple[dict[str, str], ...]
    describe_operation: str
    describe_parameter: str
    describe_field: str


ECS_RESOURCES = {
    TASK: EcsResource(
        "list_tasks",
        "taskArns",
        # desiredStatus PENDING never matches anything (ECS never sets it): these two
        # lists are every task ECS still knows.
        ({"desiredStatus": "RUNNING"}, {"desiredStatus": "STOPPED"}),
        "describe_tasks",
        "tasks",
        "tasks",
    ),
    CONTAINER_INSTANCE: EcsResource(
        "list_container_instances",
        "containerInstanceArns",
        # No status filter: every status but INACTIVE. A stored instance that went
        # INACTIVE unseen is found as a candidate and described (step 4).
        ({},),
        "describe_container_instances",
        "containerInstances",
        "containerInstances",
    ),
}


@dataclass
class Tally:
    """What happened to the resources of one kind during a run."""

    listed: int = 0
    written: int = 0
    unchanged: int = 0
    stale: int = 0  # the conditional write failed: an event was newer
    marked_missing: int = 0
    skipped_no_version: int = 0
    rejected: int = 0  # DynamoDB would refuse the item (too large, say)
    describe_failures: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str, amount: int = 1) -> None:
        """Count under a lock: the writes of a batch run on several threads."""
        with self._lock:
            setattr(self, name, getattr(self, name) + amount)

    def as_dict(self) -> dict[str, int]:
        return {
            "listed": self.listed,
            "written": self.written,
            "unchanged": self.unchanged,
            "stale": self.stale,
            "markedMissing": self.marked_missing,
            "skippedNoVersion": self.skipped_no_version,
            "rejected": self.rejected,
            "describeFailures": self.describe_failures,
        }


class Reconciler:
    """One deployment's reconciler; ``run()`` may be called many times (warm Lambdas)."""

    def __init__(
        self,
        settings: ReconcileSettings,
        ecs: Any,
        dynamodb: Any,
        telemetry: Telemetry,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.settings = settings
        self.ecs = ecs
        self.dynamodb = dynamodb
        self.telemetry = telemetry
        self.clock = clock
        self.monotonic = monotonic
        self.sleep = sleep
        self.limiter = RateLimiter(settings.max_requests_per_second, clock=monotonic, sleep=sleep)
        self.meter = Meter()
        instrument(ecs, dynamodb, self.limiter, self.meter)
        self._writers = ThreadPoolExecutor(WRITERS, thread_name_prefix="reconcile-write")

    # -- one run ---------------------------------------------------------------------

    def run(
        self, *, time_limit: float | None = None, order_seed: int | None = None
    ) -> dict[str, Any]:
        """Reconcile every configured cluster; return (and log) the run's summary.

        time_limit: seconds this run may take; None for no limit (the command line).
        Raises ConfigError before touching ECS when a table is missing, and
        ReconcileError after the run when some clusters failed (the others are done).
        """
        started = self.monotonic()
        self.meter.reset()
        self.limiter.deadline = None if time_limit is None else started + time_limit
        tallies = {kind.name: Tally() for kind in self.settings.kinds}
        tables = {
            kind.name: StateTable(self.dynamodb, self.settings.table(kind), kind, self.sleep)
            for kind in self.settings.kinds
        }
        for table in tables.values():
            if not table.uses_index:
                self.telemetry.log(
                    "WARNING",
                    "stored versions read with BatchGetItem; records ECS no longer knows "
                    "are not looked for",
                    table=table.name,
                    reason=table.index_problem,
                )
        errors: list[dict[str, str]] = []
        remaining: list[str] = []
        stopped_because: str | None = None
        done = 0
        configured = bool(self.settings.cluster_arns)
        try:
            clusters = list(self.settings.cluster_arns) or self._list_clusters()
        except OutOfTime:
            clusters, stopped_because = [], "time"
        except ClientError as error:
            if _error_code(error) not in THROTTLING_CODES:
                raise  # access denied and the like: nothing to reconcile, say so loudly
            clusters, stopped_because = [], "throttling"
        # An order, not a secret: any well-spread permutation will do.
        seed = int(self.clock()) if order_seed is None else order_seed
        random.Random(seed).shuffle(clusters)  # noqa: S311
        for position, cluster in enumerate(clusters):
            try:
                for kind in self.settings.kinds:
                    self._reconcile(cluster, kind, tables[kind.name], tallies[kind.name])
                done += 1
            except OutOfTime:
                stopped_because = "time"
            except ClientError as error:
                code = _error_code(error)
                if code in THROTTLING_CODES:
                    stopped_because = "throttling"
                elif code == "ClusterNotFoundException" and not configured:
                    # Listed by ListClusters a moment ago and deleted since: nothing to do.
                    self.telemetry.log("WARNING", "cluster deleted during the run", cluster=cluster)
                    done += 1
                    continue
                elif code == "ClusterNotFoundException":
                    errors.append(
                        {
                            "cluster": cluster,
                            "error": "cluster does not exist in this account and region "
                            "(ClusterNotFoundException); check CLUSTER_ARNS",
                        }
                    )
                    continue
                else:
                    errors.append({"cluster": cluster, "error": f"{code}: {error}"})
                    continue
            if stopped_because is not None:
                remaining = clusters[position:]
                break
        summary = self._summary(
            clusters, done, remaining, stopped_because, errors, tallies, tables, started
        )
        if errors:
            message = "; ".join(f"{each['cluster']}: {each['error']}" for each in errors)
            raise ReconcileError(
                f"reconcile failed for {len(errors)} cluster(s): {message}", summary
            )
        return summary

    def _list_clusters(self) -> list[str]:
        clusters: list[str] = []
        request: dict[str, Any] = {"maxResults": PAGE_SIZE}
        while True:
            page = self.ecs.list_clusters(**request)
            clusters.extend(page.get("clusterArns", []))
            if not page.get("nextToken"):
                return sorted(set(clusters))
            request["nextToken"] = page["nextToken"]

    def _reconcile(self, cluster: str, kind: Kind, table: StateTable, tally: Tally) -> None:
        resource = ECS_RESOURCES[kind.name]
        stored = table.cluster_records(cluster) if table.uses_index else None
        listed: set[str] = set()
        pending: list[str] = []  # listed, not described yet: Describe takes 100 at once
        for page in self._list_pages(resource, cluster):
            new = [arn for arn in page if arn not in listed]
            listed.update(new)
            tally.add("listed", len(new))
            pending += new
            # A short page (the last RUNNING one, the STOPPED ones) waits for the next, so
            # that a cluster costs one Describe per 100 resources, not one per page.
            while len(pending) >= PAGE_SIZE:
                batch, pending = pending[:PAGE_SIZE], pending[PAGE_SIZE:]
                self._describe_and_apply(kind, resource, cluster, batch, stored, table, tally)
        if pending:
            self._describe_and_apply(kind, resource, cluster, pending, stored, table, tally)
        if stored is None:
            return
        candidates = [
            arn
            for arn, record in stored.items()
            if arn not in listed
            and record.missing_since is None
            and record.status not in kind.terminal_values
        ]
        for start in range(0, len(candidates), PAGE_SIZE):
            batch = candidates[start : start + PAGE_SIZE]
            found, missing = self._describe(resource, cluster, batch, tally)
            # ECS still knows these (listed too late, or INACTIVE): ordinary updates.
            self._apply_all(kind, cluster, found, stored, table, tally)
            for arn in missing:
                self._check_time()
                if table.mark_missing(arn, stored[arn], self.clock(), self.settings.base.ttl_days):
                    tally.add("marked_missing")
                    self.telemetry.log(
                        "INFO", "record marked missing", arn=arn, version=stored[arn].version
                    )

    def _describe_and_apply(
        self,
        kind: Kind,
        resource: EcsResource,
        cluster: str,
        batch: list[str],
        stored: dict[str, Stored] | None,
        table: StateTable,
        tally: Tally,
    ) -> None:
        known = stored if stored is not None else table.records(batch)
        found, _ = self._describe(resource, cluster, batch, tally)
        self._apply_all(kind, cluster, found, known, table, tally)

    def _apply_all(
        self,
        kind: Kind,
        cluster: str,
        api_objects: list[dict[str, Any]],
        stored: Mapping[str, Stored],
        table: StateTable,
        tally: Tally,
    ) -> None:
        """Apply a batch on WRITERS threads; wait for all of them before raising."""
        futures = [
            self._writers.submit(self._apply, kind, cluster, api_object, stored, table, tally)
            for api_object in api_objects
        ]
        failure: BaseException | None = None
        for future in futures:
            error = future.exception()
            failure = failure or error
        if failure is not None:
            raise failure

    def _list_pages(self, resource: EcsResource, cluster: str) -> Iterator[list[str]]:
        operation = getattr(self.ecs, resource.list_operation)
        for filters in resource.list_filters:
            request: dict[str, Any] = {"cluster": cluster, "maxResults": PAGE_SIZE, **filters}
            while True:
                page = operation(**request)
                yield page.get(resource.list_field, [])
                if not page.get("nextToken"):
                    break
                request["nextToken"] = page["nextToken"]

    def _describe(
        self, resource: EcsResource, cluster: str, arns: list[str], tally: Tally
    ) -> tuple[list[dict[str, Any]], list[str]]:
        """Describe up to 100 ARNs (PAGE_SIZE, the API's limit): the objects found, and the
        ARNs ECS reports MISSING."""
        answer = getattr(self.ecs, resource.describe_operation)(
            cluster=cluster, **{resource.describe_parameter: arns}
        )
        found: list[dict[str, Any]] = answer.get(resource.describe_field, [])
        missing: list[str] = []
        for failure in answer.get("failures", []):
            arn = _requested(arns, failure.get("arn", ""))
            if failure.get("reason") == "MISSING" and arn is not None:
                missing.append(arn)
            else:
                tally.add("describe_failures")
                self.telemetry.log(
                    "WARNING",
                    "ECS could not describe a resource",
                    arn=failure.get("arn"),
                    reason=failure.get("reason"),
                    detail=failure.get("detail"),
                )
        return found, missing

    def _apply(
        self,
        kind: Kind,
        cluster: str,
        api_object: dict[str, Any],
        stored: Mapping[str, Stored],
        table: StateTable,
        tally: Tally,
    ) -> None:
        arn = api_object.get(kind.key)
        version = api_object.get("version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 0:
            tally.add("skipped_no_version")
            self.telemetry.log(
                "WARNING",
                "API object has no usable version; skipped, not written",
                resource=kind.name,
                arn=arn,
                version=version,
            )
            return
        if not isinstance(arn, str) or not arn:
            tally.add("rejected")
            self.telemetry.log("ERROR", f"API object has no {kind.key}", resource=kind.name)
            return
        record = stored.get(arn)
        if record is not None and record.version >= version:
            tally.add("unchanged")
            return
        self._check_time()
        now = self.clock()
        change = Change(
            kind=kind,
            table=table.name,
            arn=arn,
            version=version,
            detail=api_detail(kind, api_object, cluster),
            event_id=None,
            event_time=now,  # when the API was read: the observation this record holds
            account=_arn_part(arn, 4),
            region=_arn_part(arn, 3),
            source=SOURCE,
        )
        try:
            item = items.build_item(change, self.settings.base, now)
        except InvalidEventError as error:
            tally.add("rejected")
            self.telemetry.log("ERROR", "item rejected", arn=arn, reason=str(error))
            return
        if table.put(item, items.condition(change, self.settings.base, now)):
            tally.add("written")
        else:
            tally.add("stale")

    def _check_time(self) -> None:
        deadline = self.limiter.deadline
        if deadline is not None and self.monotonic() > deadline:
            raise OutOfTime()

    def _summary(
        self,
        clusters: list[str],
        done: int,
        remaining: list[str],
        stopped_because: str | None,
        errors: list[dict[str, str]],
        tallies: dict[str, Tally],
        tables: dict[str, StateTable],
        started: float,
    ) -> dict[str, Any]:
        totals: Counter[str] = Counter()
        for tally in tallies.values():
            totals.update(tally.as_dict())
        duration_ms = round((self.monotonic() - started) * 1000, 1)
        summary: dict[str, Any] = {
            "complete": stopped_because is None and not errors,
            "stoppedBecause": stopped_because,
            "clusters": len(clusters),
            "clustersReconciled": done,
            "remainingClusters": remaining,
            "errors": errors,
            **{name: totals[name] for name in Tally().as_dict()},
            "resources": {name: tally.as_dict() for name, tally in tallies.items()},
            "storedVersionsFrom": {
                name: "index" if table.uses_index else "BatchGetItem"
                for name, table in tables.items()
            },
            "ecsRequests": sum(self.meter.ecs_requests.values()),
            "ecsRequestsByOperation": dict(sorted(self.meter.ecs_requests.items())),
            "ecsThrottles": self.meter.ecs_throttles,
            "rateLimitWaitSeconds": round(self.limiter.waited, 3),
            "dynamodbRequestsByOperation": dict(sorted(self.meter.dynamodb_requests.items())),
            "readUnits": round(self.meter.read_units, 1),
            "writeUnits": round(self.meter.write_units, 1),
            "durationMs": duration_ms,
        }
        self.limiter.waited = 0.0
        metrics: dict[str, float] = {
            "ResourcesListed": summary["listed"],
            "ResourcesWritten": summary["written"],
            "ResourcesUnchanged": summary["unchanged"],
            "StaleWrites": summary["stale"],
            "MarkedMissing": summary["markedMissing"],
            "SkippedNoVersion": summary["skippedNoVersion"],
            "Rejected": summary["rejected"],
            "EcsRequests": summary["ecsRequests"],
            "EcsThrottles": summary["ecsThrottles"],
            "ReadUnits": summary["readUnits"],
            "WriteUnits": summary["writeUnits"],
            "ClusterErrors": len(errors),
            "Incomplete": int(stopped_because is not None),
            "ReconcileDuration": duration_ms,
        }
        level = "ERROR" if errors else "WARNING" if stopped_because else "INFO"
        self.telemetry.summary(
            "reconcile finished",
            metrics,
            {"ReconcileDuration": "Milliseconds", "ReadUnits": "None", "WriteUnits": "None"},
            level=level,
            summary=summary,
        )
        return summary


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _requested(batch: Sequence[str], failed: str) -> str | None:
    """The requested ARN a failure names (ECS names it by ARN; some emulators by ID)."""
    for arn in batch:
        if failed == arn or arn.endswith("/" + failed):
            return arn
    return None


def _arn_part(arn: str, index: int) -> str | None:
    parts = arn.split(":")
    return parts[index] if len(parts) > 5 and parts[index] else None


def time_limit_for(context: Any) -> float | None:
    """Seconds a Lambda invocation may spend: its remaining time less a margin."""
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    if remaining_ms is None:
        return None
    remaining = float(remaining_ms()) / 1000
    return max(0.0, remaining - min(TIME_MARGIN_SECONDS, remaining / 4))


@functools.cache
def _reconciler() -> Reconciler:
    """Built once per execution environment, on the first invocation."""
    settings = ReconcileSettings.from_env(os.environ)
    return Reconciler(
        settings,
        ecs_client(),
        store.dynamodb_client(settings.base),
        Telemetry.from_settings(settings.base),
    )


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Scheduled entry point; the event's content is not used."""
    return _reconciler().run(time_limit=time_limit_for(context))


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: the same run, with settings from flags and no time limit by default."""
    parser = argparse.ArgumentParser(
        prog="python -m ecs_state.reconcile",
        description="Write the state ECS reports into the module's tables (backfill or repair).",
    )
    parser.add_argument("--launch-type", required=True, help="EC2 or FARGATE, as the module's")
    parser.add_argument("--task-table", required=True)
    parser.add_argument("--container-instance-table", help="required with --launch-type EC2")
    parser.add_argument(
        "--cluster", action="append", default=[], help="cluster ARN; repeat; default: all"
    )
    parser.add_argument("--max-requests-per-second", default=str(DEFAULT_MAX_REQUESTS_PER_SECOND))
    parser.add_argument("--ttl-days", default="0", help="the module's ttl_days (default 0)")
    parser.add_argument(
        "--keep-overrides",
        action="store_true",
        help="store environment override values (the module redacts them by default)",
    )
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--time-limit", type=float, help="seconds; stop cleanly after them")
    args = parser.parse_args(argv)
    env = {
        "LAUNCH_TYPE": args.launch_type,
        "TASK_TABLE_NAME": args.task_table,
        "CONTAINER_INSTANCE_TABLE_NAME": args.container_instance_table or "",
        "CLUSTER_ARNS": ",".join(args.cluster),
        "ECS_MAX_REQUESTS_PER_SECOND": args.max_requests_per_second,
        "TTL_DAYS": args.ttl_days,
        "REDACT_OVERRIDES": "false" if args.keep_overrides else "true",
        "LOG_LEVEL": args.log_level,
    }
    try:
        settings = ReconcileSettings.from_env(env)
        reconciler = Reconciler(
            settings,
            ecs_client(),
            store.dynamodb_client(settings.base),
            Telemetry.from_settings(settings.base, stream=sys.stderr),
        )
        summary = reconciler.run(time_limit=args.time_limit)
    except ConfigError as error:
        message = str(error)
        for variable, flag in _ENV_FLAGS.items():
            message = message.replace(variable, flag)
        print(f"error: {message}", file=sys.stderr)
        return 2
    except ReconcileError as error:
        print(json.dumps(error.summary, indent=2))
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2))
    if not summary["complete"]:
        print(
            f"stopped ({summary['stoppedBecause']}) before "
            f"{', '.join(summary['remainingClusters'])}; run again to finish",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
