"""Read the state tables: one task or container instance by ARN, or those of a cluster.

Library::

    from ecs_state.query import Reader

    reader = Reader(task_table="ecs-tasks", container_instance_table="ecs-instances")
    for task in reader.list_tasks("arn:aws:ecs:eu-west-1:111122223333:cluster/web",
                                  status="RUNNING", started_by="ecs-svc/123"):
        print(task["taskArn"], task["version"], task.missing)

Listings Query the tables' global secondary index (partition key ``clusterArn``, sort key
the status attribute), follow every page, and fetch the full items (BatchGetItem) only when
the index's projection lacks a field the caller asked for. What the index holds is read
from DescribeTable, once per table and reader. A table without the index (one given to the
module by name) is Scanned with a filter instead, with a warning on the ``ecs_state.query``
logger: a Scan reads, and bills, the whole table.

Values come back as plain Python: str, int (Decimal for a fractional number), bool, None,
lists and dicts. A record the reconciler could no longer find in ECS carries
``_missingSince``; ``Record.missing`` says so, and such a record is never to be taken for
a running task just because its last known status was RUNNING.

A cluster may be given as its ARN or as its short name. The index key is the full ARN, so a
short name is completed with the partition, region and account of the table (from its
ARN): ECS delivers a cluster's events only to the event bus of its own account and region,
where the module's rule and table are. A table fed from several accounts or regions needs
the cluster's full ARN.

Command line (also the ``ecs-state`` command of a pip-installed checkout)::

    python -m ecs_state.query tasks --table T --cluster C [--status S] [--started-by X]
                                    [--family F[:REV]] [--output table|json] [--full]
    python -m ecs_state.query task ARN --table T [--output table|json]
    python -m ecs_state.query instances --table T --cluster C [--status S] [--output ...]
    python -m ecs_state.query instance ARN --table T [--output table|json]

Exit codes:

    0  success (an empty listing is a success)
    1  not found: no record with that ARN
    2  usage: bad arguments, a malformed ARN, cluster name, family or status
    3  the table does not exist
    4  no credentials or region, or access denied
    5  any other AWS or network error
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum
from typing import Any

# boto3 and botocore are imported where a client is made or an error is read, so that
# importing this module (or the package, in the Lambda zip) stays cheap.
from ecs_state.events import (
    CLUSTER_FIELD,
    CONTAINER_INSTANCE,
    KIND_BY_NAME,
    STATUS_INDEX,
    TASK,
    Kind,
)

LOGGER = logging.getLogger(__name__)

MISSING_SINCE = "_missingSince"
TASK_DEFINITION = "taskDefinitionArn"
STARTED_BY = "startedBy"


# What a listing shows, per kind (the CLI's table columns and JSON lines).
TASK_LISTING = ("lastStatus", "desiredStatus", "version", TASK_DEFINITION, STARTED_BY)
CONTAINER_INSTANCE_LISTING = (
    "status",
    "agentConnected",
    "version",
    "runningTasksCount",
    "pendingTasksCount",
    "ec2InstanceId",
)

# The index projection the module gives its tables by default (main.tf's table_kinds state
# the same lists; tests/query checks that they agree): every field a listing shows, what the
# reconciler compares (version, _missingSince), and a few more a caller may filter on. With
# cluster, family and service names of up to 64 characters a task's entry stays under 1 KB,
# so the index costs one write unit per new record and two per status change
# (docs/benchmarks/projection.md).
INDEX_INCLUDE = {
    TASK: (
        "desiredStatus",
        "version",
        "taskDefinitionArn",
        "group",
        "startedBy",
        "launchType",
        "containerInstanceArn",
        "_eventTime",
        "_missingSince",
    ),
    CONTAINER_INSTANCE: (
        "version",
        "ec2InstanceId",
        "agentConnected",
        "runningTasksCount",
        "pendingTasksCount",
        "_eventTime",
        "_missingSince",
    ),
}

BATCH_GET_MAX_KEYS = 100  # DynamoDB's limit per BatchGetItem request
BATCH_GET_ATTEMPTS = 8

_PARTITION = r"aws[a-z-]*"
_REGION = r"[a-z0-9-]+"
_ACCOUNT = r"\d{12}"
_NAME = r"[A-Za-z0-9_-]{1,255}"
CLUSTER_ARN = re.compile(rf"^arn:{_PARTITION}:ecs:{_REGION}:{_ACCOUNT}:cluster/{_NAME}$")
CLUSTER_NAME = re.compile(rf"^{_NAME}$")
# Old-format ARNs have no cluster segment: task/<id>; new ones task/<cluster>/<id>.
RESOURCE_ARN = {
    TASK: re.compile(rf"^arn:{_PARTITION}:ecs:{_REGION}:{_ACCOUNT}:task/({_NAME}/)?[A-Za-z0-9-]+$"),
    CONTAINER_INSTANCE: re.compile(
        rf"^arn:{_PARTITION}:ecs:{_REGION}:{_ACCOUNT}:container-instance/({_NAME}/)?[A-Za-z0-9-]+$"
    ),
}
TABLE_ARN = re.compile(rf"^arn:({_PARTITION}):dynamodb:([^:]+):([^:]+):table/")
FAMILY = re.compile(r"^(?P<family>[A-Za-z0-9_-]{1,255})(:(?P<revision>[1-9][0-9]*))?$")


class ExitCode(IntEnum):
    OK = 0
    NOT_FOUND = 1
    USAGE = 2
    NO_TABLE = 3
    CREDENTIALS = 4
    AWS_ERROR = 5


class QueryError(Exception):
    """A read that cannot be done; the message names the problem, exit_code classifies it."""

    exit_code = ExitCode.AWS_ERROR


class UsageError(QueryError, ValueError):
    exit_code = ExitCode.USAGE


class TableNotFoundError(QueryError):
    exit_code = ExitCode.NO_TABLE


class CredentialsError(QueryError):
    exit_code = ExitCode.CREDENTIALS


class Record(dict[str, Any]):
    """One stored item as plain values, with the reconciler's missing flag as a property."""

    @property
    def missing(self) -> bool:
        return MISSING_SINCE in self

    @property
    def missing_since(self) -> str | None:
        value = self.get(MISSING_SINCE)
        return value if isinstance(value, str) else None


@dataclass(frozen=True)
class StatusIndex:
    """The cluster-status index of one table, as DescribeTable reports it."""

    name: str
    # None when the projection is ALL; otherwise every attribute the index holds.
    projected: frozenset[str] | None

    def holds(self, fields: Iterable[str]) -> bool:
        return self.projected is None or all(field in self.projected for field in fields)


@dataclass(frozen=True)
class TableInfo:
    name: str
    arn: str
    index: StatusIndex | None
    # Why the index cannot be used, for the Scan warning; None when it can.
    no_index_reason: str | None


@dataclass(frozen=True)
class Filters:
    """A listing's criteria, checked by DynamoDB where it can and always again here."""

    cluster: str
    status: str | None = None
    started_by: str | None = None
    family: str | None = None
    revision: str | None = None

    def fields(self) -> set[str]:
        needed = set()
        if self.started_by is not None:
            needed.add(STARTED_BY)
        if self.family is not None:
            needed.add(TASK_DEFINITION)
        return needed

    def expression(
        self, kind: Kind, available: frozenset[str] | None, *, keys: bool
    ) -> tuple[str | None, str | None, dict[str, str], dict[str, Any]]:
        """(key condition, filter expression, names, values) for a Query (keys=True) or a
        Scan; a filter attribute outside `available` (None: all) is left to matches()."""
        names: dict[str, str] = {"#cluster": CLUSTER_FIELD}
        values: dict[str, Any] = {":cluster": {"S": self.cluster}}
        key_terms = ["#cluster = :cluster"]
        filter_terms: list[str] = []
        if self.status is not None:
            names["#status"] = kind.status_field
            values[":status"] = {"S": self.status}
            key_terms.append("#status = :status")

        def usable(field: str) -> bool:
            return available is None or field in available

        if self.started_by is not None and usable(STARTED_BY):
            names["#startedBy"] = STARTED_BY
            values[":startedBy"] = {"S": self.started_by}
            filter_terms.append("#startedBy = :startedBy")
        if self.family is not None and usable(TASK_DEFINITION):
            # Family names hold no ':' or '/', so this text occurs only in that family's
            # ARNs; matches() then checks the revision exactly (web:7 is not web:70).
            names["#taskDefinition"] = TASK_DEFINITION
            values[":family"] = {"S": f":task-definition/{self.family}:"}
            filter_terms.append("contains(#taskDefinition, :family)")
        if keys:
            return " AND ".join(key_terms), " AND ".join(filter_terms) or None, names, values
        return None, " AND ".join(key_terms + filter_terms), names, values

    def matches(self, kind: Kind, record: Record) -> bool:
        if record.get(CLUSTER_FIELD) != self.cluster:
            return False
        if self.status is not None and record.get(kind.status_field) != self.status:
            return False
        if self.started_by is not None and record.get(STARTED_BY) != self.started_by:
            return False
        if self.family is not None:
            parsed = task_definition(record.get(TASK_DEFINITION))
            if parsed is None or parsed[0] != self.family:
                return False
            if self.revision is not None and parsed[1] != self.revision:
                return False
        return True


class Reader:
    """Reads the task table and, on EC2, the container-instance table.

    page_size is passed to every Query and Scan as Limit (DynamoDB's default is 1 MB of
    items per page); every page is read either way.
    """

    def __init__(
        self,
        task_table: str | None = None,
        container_instance_table: str | None = None,
        *,
        client: Any = None,
        page_size: int | None = None,
        consistent_get: bool = False,
    ):
        if page_size is not None and page_size < 1:
            raise UsageError(f"page size must be at least 1, got {page_size}")
        self.tables = {TASK: task_table, CONTAINER_INSTANCE: container_instance_table}
        self.client = client if client is not None else default_client()
        self.page_size = page_size
        self.consistent_get = consistent_get
        self._info: dict[str, TableInfo] = {}
        self._warned: set[str] = set()

    def get_task(self, arn: str) -> Record | None:
        return self.get(TASK, arn)

    def get_container_instance(self, arn: str) -> Record | None:
        return self.get(CONTAINER_INSTANCE, arn)

    def list_tasks(
        self,
        cluster: str,
        status: str | None = None,
        started_by: str | None = None,
        family: str | None = None,
        *,
        fields: Iterable[str] | None = None,
    ) -> Iterator[Record]:
        """Tasks of a cluster (ARN or short name), optionally by lastStatus, startedBy and
        task definition family ("web") or family and revision ("web:7").

        fields: the attributes the caller needs; None means the whole item. Records hold at
        least those (when the item has them), the key, cluster, status and _missingSince.
        """
        revision = None
        if family is not None:
            match = FAMILY.match(family)
            if match is None:
                raise UsageError(
                    f"bad task definition family {family!r}: expected NAME or NAME:REVISION"
                )
            family, revision = match["family"], match["revision"]
        return self._list(
            TASK,
            cluster,
            status,
            fields,
            started_by=started_by,
            family=family,
            revision=revision,
        )

    def list_container_instances(
        self, cluster: str, status: str | None = None, *, fields: Iterable[str] | None = None
    ) -> Iterator[Record]:
        """Container instances of a cluster (ARN or short name), optionally by status."""
        return self._list(CONTAINER_INSTANCE, cluster, status, fields)

    def table_info(self, kind_name: str) -> TableInfo:
        """The table's ARN and usable index, from one DescribeTable per table and reader."""
        table = self._table(kind_name)
        if table not in self._info:
            description = self._call(table, self.client.describe_table, TableName=table)["Table"]
            self._info[table] = _table_info(KIND_BY_NAME[kind_name], description)
        return self._info[table]

    def cluster_arn(self, kind_name: str, cluster: str) -> str:
        """The cluster's full ARN; a short name takes the table's partition, region, account."""
        if cluster.startswith("arn:"):
            if not CLUSTER_ARN.match(cluster):
                raise UsageError(
                    f"bad cluster ARN {cluster!r}: expected "
                    "arn:PARTITION:ecs:REGION:ACCOUNT:cluster/NAME"
                )
            return cluster
        if not CLUSTER_NAME.match(cluster):
            raise UsageError(
                f"bad cluster {cluster!r}: give its ARN or its name "
                "(letters, digits, '-' and '_', at most 255)"
            )
        info = self.table_info(kind_name)
        match = TABLE_ARN.match(info.arn)
        if match is None:
            raise UsageError(
                f"table ARN {info.arn!r} is not a DynamoDB table ARN; give the cluster's ARN"
            )
        partition, region, account = match.groups()
        return f"arn:{partition}:ecs:{region}:{account}:cluster/{cluster}"

    def _table(self, kind_name: str) -> str:
        table = self.tables[kind_name]
        if not table:
            raise UsageError(f"no {kind_name} table was given to the reader")
        return table

    def get(self, kind_name: str, arn: str) -> Record | None:
        """One record by ARN (kind_name: ecs_state.events.TASK or CONTAINER_INSTANCE)."""
        kind = KIND_BY_NAME[kind_name]
        check_arn(kind_name, arn)
        table = self._table(kind_name)
        found = self._call(
            table,
            self.client.get_item,
            TableName=table,
            Key={kind.key: {"S": arn}},
            ConsistentRead=self.consistent_get,
        )
        item = found.get("Item")
        return plain_item(item) if item is not None else None

    def _list(
        self,
        kind_name: str,
        cluster: str,
        status: str | None,
        fields: Iterable[str] | None,
        **criteria: str | None,
    ) -> Iterator[Record]:
        kind = KIND_BY_NAME[kind_name]
        if status is not None:
            status = check_status(kind_name, status)
        filters = Filters(self.cluster_arn(kind_name, cluster), status, **criteria)
        info = self.table_info(kind_name)
        # Validation is done above, before the first request: a generator would defer it.
        return self._records(kind, info, filters, fields)

    def _records(
        self, kind: Kind, info: TableInfo, filters: Filters, fields: Iterable[str] | None
    ) -> Iterator[Record]:
        if info.index is None:
            if info.name not in self._warned:
                self._warn_scan(info, kind)
            for item in self._pages(self.client.scan, info.name, None, filters, kind, None):
                record = plain_item(item)
                if filters.matches(kind, record):
                    yield record
            return
        needed = None if fields is None else {*fields, *filters.fields(), MISSING_SINCE}
        complete = info.index.projected is None or (needed is not None and info.index.holds(needed))
        pages = self._pages(
            self.client.query, info.name, info.index.name, filters, kind, info.index.projected
        )
        if complete:
            for item in pages:
                record = plain_item(item)
                if filters.matches(kind, record):
                    yield record
            return
        batch: list[dict[str, Any]] = []
        for item in pages:
            batch.append({kind.key: item[kind.key]})
            if len(batch) == BATCH_GET_MAX_KEYS:
                yield from self._fetch(kind, info.name, batch, filters)
                batch = []
        if batch:
            yield from self._fetch(kind, info.name, batch, filters)

    def _warn_scan(self, info: TableInfo, kind: Kind) -> None:
        """Once per table and reader: a script listing every cluster should not repeat it."""
        self._warned.add(info.name)
        LOGGER.warning(
            "table %s cannot be queried by cluster (%s); scanning the whole table, "
            "which reads and bills every item. Add the index: %s",
            info.name,
            info.no_index_reason,
            update_table_command(info.name, kind),
        )

    def _pages(
        self,
        operation: Any,
        table: str,
        index: str | None,
        filters: Filters,
        kind: Kind,
        available: frozenset[str] | None,
    ) -> Iterator[dict[str, Any]]:
        key_condition, filter_expression, names, values = filters.expression(
            kind, available, keys=index is not None
        )
        request: dict[str, Any] = {
            "TableName": table,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        if index is not None:
            request["IndexName"] = index
            request["KeyConditionExpression"] = key_condition
        if filter_expression:
            request["FilterExpression"] = filter_expression
        if self.page_size is not None:
            request["Limit"] = self.page_size
        while True:
            page = self._call(table, operation, **request)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _fetch(
        self, kind: Kind, table: str, keys: list[dict[str, Any]], filters: Filters
    ) -> Iterator[Record]:
        """Full items for index entries, in index order. The base item may have changed
        since the index (eventually consistent) was read, so it is filtered again; one
        deleted in between (TTL) is left out."""
        found: dict[str, Record] = {}
        record: Record | None  # the lookups below find None for a key with no item
        pending: dict[str, Any] = {table: {"Keys": keys}}
        for attempt in range(BATCH_GET_ATTEMPTS):
            response = self._call(table, self.client.batch_get_item, RequestItems=pending)
            for item in response.get("Responses", {}).get(table, []):
                record = plain_item(item)
                found[record[kind.key]] = record
            pending = response.get("UnprocessedKeys") or {}
            if not pending:
                break
            # Unprocessed keys mean the table is throttling reads: back off before asking.
            time.sleep(min(0.05 * 2**attempt, 2.0))
        else:
            raise QueryError(
                f"table {table} kept {len(pending[table]['Keys'])} keys unprocessed after "
                f"{BATCH_GET_ATTEMPTS} BatchGetItem attempts (read throttling)"
            )
        for key in keys:
            record = found.get(key[kind.key]["S"])
            if record is not None and filters.matches(kind, record):
                yield record

    def _call(
        self, table: str, operation: Callable[..., dict[str, Any]], **request: Any
    ) -> dict[str, Any]:
        try:
            return operation(**request)
        except Exception as error:
            # A table that "does not exist" is most often one in another region.
            region = getattr(getattr(self.client, "meta", None), "region_name", None)
            raise aws_error(error, table, region) from error


def _table_info(kind: Kind, description: dict[str, Any]) -> TableInfo:
    name = description["TableName"]
    arn = description.get("TableArn", "")
    wanted = [
        {"AttributeName": CLUSTER_FIELD, "KeyType": "HASH"},
        {"AttributeName": kind.status_field, "KeyType": "RANGE"},
    ]
    candidates = [
        index
        for index in description.get("GlobalSecondaryIndexes", [])
        if index.get("KeySchema") == wanted
    ]
    if not candidates:
        reason = f"no global secondary index on {CLUSTER_FIELD} and {kind.status_field}"
        return TableInfo(name, arn, None, reason)
    # Several indexes with these keys: the module's own name wins.
    candidates.sort(key=lambda index: index["IndexName"] != STATUS_INDEX)
    index = candidates[0]
    if index.get("IndexStatus", "ACTIVE") != "ACTIVE" or index.get("Backfilling"):
        reason = f"index {index['IndexName']} is {index.get('IndexStatus')}, not yet ACTIVE"
        return TableInfo(name, arn, None, reason)
    projection = index.get("Projection", {})
    projected: frozenset[str] | None = None
    if projection.get("ProjectionType", "ALL") != "ALL":
        # An index always holds its own keys and the table's key.
        projected = frozenset(
            [
                kind.key,
                CLUSTER_FIELD,
                kind.status_field,
                *projection.get("NonKeyAttributes", []),
            ]
        )
    return TableInfo(name, arn, StatusIndex(index["IndexName"], projected), None)


def update_table_command(table: str, kind: Kind) -> str:
    """The one AWS CLI call that gives a table made elsewhere the module's index (on a
    PROVISIONED table, the Create also needs a ProvisionedThroughput)."""
    update = [
        {
            "Create": {
                "IndexName": STATUS_INDEX,
                "KeySchema": [
                    {"AttributeName": CLUSTER_FIELD, "KeyType": "HASH"},
                    {"AttributeName": kind.status_field, "KeyType": "RANGE"},
                ],
                "Projection": {
                    "ProjectionType": "INCLUDE",
                    "NonKeyAttributes": list(INDEX_INCLUDE[kind.name]),
                },
            }
        }
    ]
    definitions = [
        {"AttributeName": CLUSTER_FIELD, "AttributeType": "S"},
        {"AttributeName": kind.status_field, "AttributeType": "S"},
    ]
    return (
        f"aws dynamodb update-table --table-name {table} "
        f"--attribute-definitions '{json.dumps(definitions, separators=(',', ':'))}' "
        f"--global-secondary-index-updates '{json.dumps(update, separators=(',', ':'))}'"
    )


def check_arn(kind_name: str, arn: str) -> None:
    if not RESOURCE_ARN[kind_name].match(arn):
        resource = "task" if kind_name == TASK else "container-instance"
        raise UsageError(
            f"bad {kind_name} ARN {arn!r}: expected "
            f"arn:PARTITION:ecs:REGION:ACCOUNT:{resource}/CLUSTER/ID"
        )


def check_status(kind_name: str, status: str) -> str:
    # Statuses ECS documents; a misspelt one would otherwise return an empty listing.
    known = KIND_BY_NAME[kind_name].statuses
    upper = status.upper()
    if upper not in known:
        raise UsageError(
            f"unknown {kind_name} status {status!r}: expected one of {', '.join(sorted(known))}"
        )
    return upper


def task_definition(arn: Any) -> tuple[str, str] | None:
    """(family, revision) of a task definition ARN, or None if it is not one."""
    if not isinstance(arn, str) or ":task-definition/" not in arn:
        return None
    family, _, revision = arn.rpartition("/")[2].partition(":")
    return family, revision


def plain(value: dict[str, Any]) -> Any:
    """One attribute in DynamoDB's typed wire format as a plain Python value."""
    (tag, inner), *_ = value.items()
    if tag == "S":
        return inner
    if tag == "N":
        number = Decimal(inner)
        return int(number) if number == number.to_integral_value() else number
    if tag == "BOOL":
        return inner
    if tag == "NULL":
        return None
    if tag == "M":
        return {name: plain(item) for name, item in inner.items()}
    if tag == "L":
        return [plain(item) for item in inner]
    if tag == "B":
        return bytes(inner)
    if tag in ("SS", "BS"):
        return sorted(inner)
    if tag == "NS":
        return sorted(plain({"N": number}) for number in inner)
    raise ValueError(f"unknown DynamoDB attribute type {tag!r}")


def plain_item(item: dict[str, Any]) -> Record:
    return Record({name: plain(value) for name, value in item.items()})


def default_client(region: str | None = None, endpoint_url: str | None = None) -> Any:
    """A DynamoDB client from boto3's default chain, with standard-mode retries."""
    import boto3
    from botocore.config import Config

    try:
        # A session of its own: boto3's default session would keep credentials it found once.
        return boto3.session.Session(region_name=region).client(
            "dynamodb",
            endpoint_url=endpoint_url,
            config=Config(retries={"mode": "standard", "total_max_attempts": 5}),
        )
    except Exception as error:
        raise aws_error(error, None) from error


_CREDENTIAL_CODES = frozenset(
    {
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "MissingAuthenticationTokenException",
    }
)


def aws_error(error: Exception, table: str | None, region: str | None = None) -> QueryError:
    """A QueryError naming the problem, from whatever boto3 raised."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
    )

    if isinstance(error, QueryError):
        return error
    if isinstance(error, (NoCredentialsError, PartialCredentialsError)):
        return CredentialsError(
            "no AWS credentials found (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or run where an instance or task role is available)"
        )
    if isinstance(error, NoRegionError):
        # boto3 reads AWS_DEFAULT_REGION, not AWS_REGION (which Lambda and other SDKs use).
        return CredentialsError(
            "no AWS region: set AWS_DEFAULT_REGION or a profile's region, or pass --region"
        )
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code, message = details.get("Code", ""), details.get("Message", "")
        operation = getattr(error, "operation_name", "request")
        if code == "ResourceNotFoundException":
            where = f" in {region}" if region else ""
            return TableNotFoundError(f"table {table!r} does not exist{where} ({message})")
        if code in _CREDENTIAL_CODES:
            return CredentialsError(f"{operation} on table {table!r} refused: {code}: {message}")
        return QueryError(f"{operation} on table {table!r} failed: {code}: {message}")
    if isinstance(error, BotoCoreError):
        return QueryError(f"AWS request failed: {error}")
    return QueryError(f"{type(error).__name__}: {error}")


# Command line.


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _tail(arn: Any) -> str:
    return arn.rsplit("/", 1)[-1] if isinstance(arn, str) else "-"


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _missing(record: Record) -> str:
    if not record.missing:
        return "-"
    return record.missing_since or "yes"


def table_rows(kind_name: str, records: Iterable[Record]) -> list[list[str]]:
    """The human table: header first, one row per record."""
    if kind_name == TASK:
        header = ["TASK", "STATUS", "DESIRED", "VERSION", "TASK DEFINITION", "STARTED BY"]
        rows = [
            [
                _tail(record.get("taskArn")),
                _text(record.get("lastStatus")),
                _text(record.get("desiredStatus")),
                _text(record.get("version")),
                ":".join(task_definition(record.get(TASK_DEFINITION)) or ("-",)),
                _text(record.get(STARTED_BY)),
                _missing(record),
            ]
            for record in records
        ]
    else:
        header = ["INSTANCE", "STATUS", "AGENT", "VERSION", "RUNNING", "PENDING", "EC2 INSTANCE"]
        rows = [
            [
                _tail(record.get("containerInstanceArn")),
                _text(record.get("status")),
                _text(record.get("agentConnected")),
                _text(record.get("version")),
                _text(record.get("runningTasksCount")),
                _text(record.get("pendingTasksCount")),
                _text(record.get("ec2InstanceId")),
                _missing(record),
            ]
            for record in records
        ]
    return [[*header, "MISSING SINCE"], *rows]


def format_table(rows: list[list[str]]) -> str:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def json_line(kind_name: str, record: Record, fields: Sequence[str] | None) -> str:
    """One record as a JSON line: the listing's fields (or all of them) and `missing`."""
    kind = KIND_BY_NAME[kind_name]
    if fields is not None:
        keep = (kind.key, CLUSTER_FIELD, *fields, MISSING_SINCE)
        record = Record({name: record[name] for name in keep if name in record})
    return json.dumps({**record, "missing": record.missing}, default=_json_default)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ecs-state",
        description="Read the ECS state tables kept by the ecs-state module.",
        epilog="exit codes: 0 ok, 1 not found, 2 usage, 3 no such table, "
        "4 no credentials or access denied, 5 other AWS error",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--table", required=True, help="name of the task or instance table")
    common.add_argument("--output", choices=("table", "json"), default="table")
    common.add_argument("--region", help="AWS region (default: boto3's configuration)")
    common.add_argument("--endpoint-url", help="DynamoDB endpoint, e.g. DynamoDB Local")
    listing = argparse.ArgumentParser(add_help=False)
    listing.add_argument("--cluster", required=True, help="cluster ARN or name")
    listing.add_argument("--page-size", type=int, help="items per Query or Scan page")
    listing.add_argument(
        "--full",
        action="store_true",
        help="with --output json, whole items (fetched when the index does not hold them)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    tasks = commands.add_parser("tasks", parents=[common, listing], help="list a cluster's tasks")
    tasks.add_argument("--status", help="lastStatus, e.g. RUNNING")
    tasks.add_argument("--started-by", help="startedBy, e.g. ecs-svc/123...")
    tasks.add_argument("--family", help="task definition family, or family:revision")
    task = commands.add_parser("task", parents=[common], help="one task by ARN")
    task.add_argument("arn")
    instances = commands.add_parser(
        "instances", parents=[common, listing], help="list a cluster's container instances"
    )
    instances.add_argument("--status", help="status, e.g. ACTIVE or DRAINING")
    instance = commands.add_parser("instance", parents=[common], help="one container instance")
    instance.add_argument("arn")
    return parser


class _StderrWarnings(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        print(f"ecs-state: warning: {record.getMessage()}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return its exit code (see the module docstring)."""
    arguments = _parser().parse_args(argv)
    handler = _StderrWarnings(logging.WARNING)
    LOGGER.addHandler(handler)
    LOGGER.propagate = False
    try:
        return _run(arguments)
    except QueryError as error:
        print(f"ecs-state: error: {error}", file=sys.stderr)
        return int(error.exit_code)
    except BrokenPipeError:
        # `ecs-state tasks ... | head` closes the pipe early; that is not a failure.
        sys.stderr.close()
        return int(ExitCode.OK)
    finally:
        LOGGER.removeHandler(handler)
        LOGGER.propagate = True


def _run(arguments: argparse.Namespace) -> int:
    kind_name = TASK if arguments.command in ("tasks", "task") else CONTAINER_INSTANCE
    tables = {TASK: None, CONTAINER_INSTANCE: None} | {kind_name: arguments.table}
    reader = Reader(
        tables[TASK],
        tables[CONTAINER_INSTANCE],
        client=default_client(arguments.region, arguments.endpoint_url),
        page_size=getattr(arguments, "page_size", None),
    )
    if arguments.command in ("task", "instance"):
        record = reader.get(kind_name, arguments.arn)
        if record is None:
            print(
                f"ecs-state: error: no {kind_name} {arguments.arn} in table {arguments.table}",
                file=sys.stderr,
            )
            return int(ExitCode.NOT_FOUND)
        records: Iterable[Record] = [record]
        fields: Sequence[str] | None = None
    else:
        fields = TASK_LISTING if kind_name == TASK else CONTAINER_INSTANCE_LISTING
        wanted = None if arguments.full and arguments.output == "json" else fields
        if kind_name == TASK:
            records = reader.list_tasks(
                arguments.cluster,
                arguments.status,
                arguments.started_by,
                arguments.family,
                fields=wanted,
            )
        else:
            records = reader.list_container_instances(
                arguments.cluster, arguments.status, fields=wanted
            )
        fields = list(wanted) if wanted is not None else None
    if arguments.output == "json":
        for record in records:
            print(json_line(kind_name, record, fields), flush=False)
    else:
        print(format_table(table_rows(kind_name, records)))
    return int(ExitCode.OK)


if __name__ == "__main__":
    sys.exit(main())
