"""What the cluster-status index costs per write, and what a listing costs to read, by projection.

    python -m bench.projection [--tasks 100] [--other-tasks 400] [--output docs/benchmarks]

Writes projection.md (and projection.json) to the output folder. Against DynamoDB Local, in
memory on a free port: every write is the handler's own item (scripts/ecs_events.py through
ecs_state.events.parse and ecs_state.items.build_item) put with the handler's condition and
ReturnConsumedCapacity=INDEXES; every read is the reader library's own requests
(ecs_state.query.Reader), with ReturnConsumedCapacity=INDEXES added on the way out.

DynamoDB Local is an emulator: its figures are set beside DynamoDB's documented accounting,
computed here from the item sizes (ecs_state.attributes.item_size):

- a write to the table costs ceil(max(old, new item size) / 1 KB) write units;
- an index entry holds the table key, the index keys and the projected attributes; a new
  entry costs ceil(entry / 1 KB), a changed index key (lastStatus, here) deletes the old
  entry and puts the new one (two writes), a change to projected attributes only costs one
  write of the entry, and a change that touches nothing the index holds costs nothing;
- an index Query reads eventually consistently: 0.5 read unit per 4 KB of the summed
  entries of a page; BatchGetItem and GetItem cost 0.5 per item per started 4 KB; a Scan
  pays for every item of the table at 0.5 per 4 KB of a page.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.local import admin_client, dynamodb_local
from ecs_state import events, items
from ecs_state.attributes import item_size
from ecs_state.config import Settings
from ecs_state.events import CLUSTER_FIELD, CONTAINER_INSTANCE, KIND_BY_NAME, STATUS_INDEX, TASK
from ecs_state.query import INDEX_INCLUDE, TASK_LISTING, Reader
from ecs_state.store import Condition
from scripts import ecs_events
from tests.support.tables import create_table

ROOT = Path(__file__).resolve().parents[1]
KB = 1024
READ_BLOCK = 4 * KB
CLUSTER = f"arn:aws:ecs:{ecs_events.REGION}:{ecs_events.ACCOUNT}:cluster/bench"
SETTINGS = Settings(launch_type="EC2", task_table="unused", container_instance_table="unused")

NO_INDEX = "no index"
INCLUDE = "INCLUDE listing"
NEW_ITEM = "new item"
STATUS_CHANGE = "status change"
SAME_STATUS = "same status, newer version"
# Status changes after the first event of a task: EC2 reports PENDING, RUNNING, STOPPING,
# STOPPED (scripts/ecs_events.py EC2_TASK_LIFECYCLE); Fargate eight statuses.
LIFETIMES = {
    "EC2": len(ecs_events.EC2_TASK_LIFECYCLE) - 1,
    "Fargate": len(ecs_events.FARGATE_TASK_LIFECYCLE) - 1,
}


def projections(kind_name: str) -> dict[str, dict[str, Any] | None]:
    return {
        NO_INDEX: None,
        "ALL": {"ProjectionType": "ALL"},
        "KEYS_ONLY": {"ProjectionType": "KEYS_ONLY"},
        # The module's default: what a listing shows (ecs_state.query.INDEX_INCLUDE).
        INCLUDE: {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(INDEX_INCLUDE[kind_name])},
    }


def task_item(arn: str, version: int, status: str, containers: int, cluster: str) -> dict:
    """The item the handler writes for a task event of scripts/ecs_events.py, with
    `containers` containers (an application container and its sidecars)."""
    event = ecs_events.task_event(
        arn,
        version,
        status,
        launch_type="EC2",
        cluster_arn=cluster,
        container_instance=ecs_events.container_instance_arn("a1b2c3d4e5f60718", "bench"),
    )
    first = event["detail"]["containers"][0]
    event["detail"]["containers"] = [
        {**first, "name": f"{first['name']}-{n}", "containerArn": f"{first['containerArn']}-{n}"}
        for n in range(containers)
    ]
    return _item(event, version)


def container_instance_item(arn: str, version: int, status: str) -> dict:
    """The item of a container-instance event, with the task counts ECS reports."""
    event = ecs_events.container_instance_event(arn, version, status, cluster_arn=CLUSTER)
    event["detail"].update(runningTasksCount=version, pendingTasksCount=0)
    return _item(event, version)


def _item(event: dict[str, Any], version: int) -> dict[str, Any]:
    change = events.parse(event, SETTINGS)
    now = (ecs_events.BASE_TIME + timedelta(seconds=version)).timestamp()
    return items.build_item(change, SETTINGS, now)


@dataclass(frozen=True)
class Subject:
    """A resource whose three writes are measured: first event, status change, and a newer
    version that keeps the status (a container-instance's usual event: a task placed)."""

    label: str
    kind_name: str
    statuses: tuple[str, str]
    containers: int = 1

    def items(self) -> list[tuple[str, dict[str, Any]]]:
        first, second = self.statuses
        if self.kind_name == TASK:
            arn = ecs_events.task_arn(uuid.uuid4().hex, "bench")

            def build(version: int, status: str) -> dict[str, Any]:
                return task_item(arn, version, status, self.containers, CLUSTER)
        else:
            arn = ecs_events.container_instance_arn(uuid.uuid4().hex, "bench")

            def build(version: int, status: str) -> dict[str, Any]:
                return container_instance_item(arn, version, status)

        return [
            (f"{NEW_ITEM} ({first})", build(1, first)),
            (f"{STATUS_CHANGE} ({first} -> {second})", build(2, second)),
            (f"{SAME_STATUS} ({second})", build(3, second)),
        ]


SUBJECTS = (
    Subject("task, 1 container", TASK, ("PENDING", "RUNNING")),
    Subject("task, 6 containers", TASK, ("PENDING", "RUNNING"), containers=6),
    Subject("container instance", CONTAINER_INSTANCE, ("REGISTERING", "ACTIVE")),
)


def entry(
    item: dict[str, Any] | None, projection: dict[str, Any] | None, kind_name: str
) -> dict[str, Any]:
    """The index entry DynamoDB keeps for an item: the keys and the projected attributes."""
    if item is None or projection is None:
        return {}
    if projection["ProjectionType"] == "ALL":
        return dict(item)
    kind = KIND_BY_NAME[kind_name]
    names = {kind.key, CLUSTER_FIELD, kind.status_field, *projection.get("NonKeyAttributes", [])}
    return {name: value for name, value in item.items() if name in names}


def units(size: int, block: int = KB) -> int:
    return math.ceil(size / block) if size else 0


def documented_write(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    projection: dict[str, Any] | None,
    kind_name: str,
    overhead: int = 0,
) -> tuple[int, int]:
    """(table, index) write units of putting `new` over `old` by DynamoDB's documentation.
    overhead: bytes added to each index entry (the documentation counts 100 for storage)."""
    table = units(max(item_size(old) if old else 0, item_size(new)))
    if projection is None:
        return table, 0
    before, after = entry(old, projection, kind_name), entry(new, projection, kind_name)

    def size(index_entry: dict[str, Any]) -> int:
        return item_size(index_entry) + overhead if index_entry else 0

    status = KIND_BY_NAME[kind_name].status_field
    if not before:
        return table, units(size(after))
    if before[status] != after[status]:
        return table, units(size(before)) + units(size(after))
    if before == after:
        return table, 0
    return table, units(max(size(before), size(after)))


@dataclass
class WriteRow:
    resource: str
    item_bytes: int
    projection: str
    write: str
    local_table: float
    local_index: float
    documented_table: int
    documented_index: int
    documented_index_with_overhead: int
    entry_bytes: int


def measure_writes(client: Any, subject: Subject) -> list[WriteRow]:
    rows = []
    kind = KIND_BY_NAME[subject.kind_name]
    for label, projection in projections(subject.kind_name).items():
        table = create(client, subject.kind_name, projection)
        old = None
        for write, item in subject.items():
            condition = Condition.insert_or_newer(kind.key, int(item["version"]["N"]))
            response = client.put_item(
                TableName=table, Item=item, ReturnConsumedCapacity="INDEXES", **condition.request()
            )
            consumed = response["ConsumedCapacity"]
            indexes = consumed.get("GlobalSecondaryIndexes", {})
            documented = documented_write(old, item, projection, subject.kind_name)
            with_overhead = documented_write(old, item, projection, subject.kind_name, 100)
            rows.append(
                WriteRow(
                    resource=subject.label,
                    item_bytes=item_size(item),
                    projection=label,
                    write=write,
                    local_table=consumed.get("Table", {}).get("CapacityUnits", 0.0),
                    local_index=indexes.get(STATUS_INDEX, {}).get("CapacityUnits", 0.0),
                    documented_table=documented[0],
                    documented_index=documented[1],
                    documented_index_with_overhead=with_overhead[1],
                    entry_bytes=item_size(entry(item, projection, subject.kind_name)),
                )
            )
            old = item
        client.delete_table(TableName=table)
    return rows


def create(client: Any, kind_name: str, projection: dict[str, Any] | None) -> str:
    return create_table(
        client,
        f"projection-{uuid.uuid4().hex[:8]}",
        kind_name,
        index=projection is not None,
        projection=projection,
    )


@dataclass
class Consumed:
    """Read units reported for the requests a client sent, by operation."""

    units: dict[str, float] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)

    def attach(self, client: Any) -> None:
        client.meta.events.register("provide-client-params.dynamodb.*", self._ask)
        client.meta.events.register("after-call.dynamodb.*", self._count)

    def _ask(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in ("Query", "Scan", "BatchGetItem", "GetItem"):
            params["ReturnConsumedCapacity"] = "INDEXES"

    def _count(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        consumed = parsed.get("ConsumedCapacity", [])
        for each in consumed if isinstance(consumed, list) else [consumed]:
            self.units[model.name] = self.units.get(model.name, 0.0) + each["CapacityUnits"]
        self.requests[model.name] = self.requests.get(model.name, 0) + 1


@dataclass
class ReadRow:
    projection: str
    fields: str
    listed: int
    requests: dict[str, int]
    local_units: float
    documented_units: float


def measure_reads(client: Any, endpoint: str, tasks: int, other_tasks: int) -> list[ReadRow]:
    """List the RUNNING tasks of one cluster among others, as `ecs-state tasks` does."""
    cluster = f"arn:aws:ecs:{ecs_events.REGION}:{ecs_events.ACCOUNT}:cluster/listed"
    others = f"arn:aws:ecs:{ecs_events.REGION}:{ecs_events.ACCOUNT}:cluster/other"
    stored = [
        task_item(ecs_events.task_arn(uuid.uuid4().hex, "listed"), 2, "RUNNING", 1, cluster)
        for _ in range(tasks)
    ] + [
        task_item(ecs_events.task_arn(uuid.uuid4().hex, "other"), 2, "RUNNING", 1, others)
        for _ in range(other_tasks)
    ]
    rows = []
    for label, projection in projections(TASK).items():
        table = create(client, TASK, projection)
        for item in stored:
            client.put_item(TableName=table, Item=item)
        listed = [item for item in stored if item[CLUSTER_FIELD]["S"] == cluster]
        for fields_label, fields in (("listing fields", TASK_LISTING), ("whole items", None)):
            reader_client = admin_client(endpoint)
            consumed = Consumed()
            consumed.attach(reader_client)
            found = list(
                Reader(table, client=reader_client).list_tasks(cluster, "RUNNING", fields=fields)
            )
            assert len(found) == tasks, (label, fields_label, len(found))
            rows.append(
                ReadRow(
                    projection=label,
                    fields=fields_label,
                    listed=len(found),
                    requests={k: v for k, v in consumed.requests.items() if k != "DescribeTable"},
                    local_units=sum(consumed.units.values()),
                    documented_units=documented_read(stored, listed, projection, fields),
                )
            )
        client.delete_table(TableName=table)
    return rows


def documented_read(
    stored: list[dict[str, Any]],
    listed: list[dict[str, Any]],
    projection: dict[str, Any] | None,
    fields: tuple[str, ...] | None,
) -> float:
    """Eventually consistent read units of one listing, by DynamoDB's documentation (one
    page each: every figure here stays under the 1 MB page)."""
    if projection is None:
        return 0.5 * units(sum(item_size(item) for item in stored), READ_BLOCK)
    query = 0.5 * units(
        sum(item_size(entry(item, projection, TASK)) for item in listed), READ_BLOCK
    )
    needed = None if fields is None else {*fields, "_missingSince"}
    held = entry(listed[0], projection, TASK) if listed else {}
    complete = projection["ProjectionType"] == "ALL" or (
        needed is not None
        and all(name in held or name in projection.get("NonKeyAttributes", []) for name in needed)
    )
    if complete:
        return query
    return query + sum(0.5 * units(item_size(item), READ_BLOCK) for item in listed)


# What the figures depend on: the items, the writes, the reader and the tables.
SOURCES = (
    "bench/projection.py",
    "bench/local.py",
    "function/ecs_state",
    "scripts/ecs_events.py",
    "tests/support/tables.py",
)


def commit() -> str:
    """HEAD, and the files the figures depend on that differ from it, if any."""
    try:
        head = _git("rev-parse", "HEAD").strip()
        changed = _git("status", "--porcelain", "--", *SOURCES).splitlines()
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    if not changed:
        return head
    return f"{head}, with uncommitted changes to {', '.join(line[3:] for line in changed)}"


def _git(*arguments: str) -> str:
    return subprocess.run(  # noqa: S603 - fixed arguments, no shell
        ["git", "-C", str(ROOT), *arguments],  # noqa: S607 - git from PATH, as a developer runs it
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    ).stdout


def _figure(value: float) -> str:
    return f"{value:g}"


def markdown(
    writes: list[WriteRow], reads: list[ReadRow], context: dict[str, Any], arguments: Any
) -> str:
    lines = [
        "# Projection cost of the cluster-status index",
        "",
        "Generated by `python -m bench.projection`; see the module docstring of "
        "[bench/projection.py](../../bench/projection.py) for what is measured and how the "
        "documented figures are computed.",
        "",
        f"- date: {context['date']}; commit {context['commit']}",
        f"- DynamoDB Local {context['dynamodb_local']}; Python {context['python']}, "
        f"boto3 {context['boto3']}",
        f"- settings: `--tasks {arguments.tasks} --other-tasks {arguments.other_tasks}`; "
        "items are the handler's own (scripts/ecs_events.py `task_event`, EC2 launch type, "
        "placed on a container instance, overrides redacted as by default; "
        "`container_instance_event` with the task counts ECS reports)",
        *(
            f"- INCLUDE listing of the {kind_name} table: "
            + ", ".join(f"`{name}`" for name in attributes)
            for kind_name, attributes in INDEX_INCLUDE.items()
        ),
        "",
        "## Write units per PutItem",
        "",
        '"Local" is what DynamoDB Local returned with `ReturnConsumedCapacity=INDEXES`; '
        '"documented" is DynamoDB\'s accounting computed from the sizes (index entry without '
        "and, in brackets where it differs, with the 100 bytes the documentation counts per "
        "index entry for storage).",
        "",
        "| resource | item bytes | projection | index entry bytes | write "
        "| table (local / documented) | index (local / documented) "
        "| total (local / documented) |",
        "|---|--:|---|--:|---|--:|--:|--:|",
    ]
    for row in writes:
        documented_index = str(row.documented_index)
        if row.documented_index_with_overhead != row.documented_index:
            documented_index += f" [{row.documented_index_with_overhead}]"
        lines.append(
            f"| {row.resource} | {row.item_bytes:,} | {row.projection} | "
            f"{row.entry_bytes:,} | {row.write} | "
            f"{_figure(row.local_table)} / {row.documented_table} | "
            f"{_figure(row.local_index)} / {documented_index} | "
            f"{_figure(row.local_table + row.local_index)} / "
            f"{row.documented_table + row.documented_index} |"
        )
    disagreements = [
        row
        for row in writes
        if (row.local_table, row.local_index) != (row.documented_table, row.documented_index)
    ]
    lines += [
        "",
        f"DynamoDB Local and the documented accounting disagree on {len(disagreements)} of "
        f"{len(writes)} writes"
        + (
            ": "
            + "; ".join(
                f"{row.resource}, {row.projection}, {row.write}: local "
                f"{_figure(row.local_table)}+{_figure(row.local_index)}, documented "
                f"{row.documented_table}+{row.documented_index}"
                for row in disagreements
            )
            + "."
            if disagreements
            else "."
        ),
        "",
        "## Write units over a task's life",
        "",
        "Documented units of the first event and one status change per later event (duplicates "
        "and stale events aside), and what the index adds to the table's own writes.",
        "",
        "| resource | projection | "
        + " | ".join(f"{name} ({changes} changes)" for name, changes in LIFETIMES.items())
        + " |",
        "|---|---|" + "--:|" * len(LIFETIMES),
        *lifetime_rows(writes),
        "",
        "## Read units of one listing",
        "",
        f'`Reader.list_tasks(cluster, "RUNNING")` over {arguments.tasks} RUNNING tasks of '
        f"one cluster, in a table that also holds {arguments.other_tasks} tasks of another "
        'cluster; "listing fields" is what `ecs-state tasks` asks for, "whole items" what '
        "`--output json --full` asks for. Eventually consistent reads throughout.",
        "",
        "| projection | fields | tasks listed | requests | read units (local / documented) "
        "| per task (documented) |",
        "|---|---|--:|---|--:|--:|",
    ]
    for row in reads:
        requests = ", ".join(f"{name} {count}" for name, count in sorted(row.requests.items()))
        lines.append(
            f"| {row.projection} | {row.fields} | {row.listed} | {requests} | "
            f"{_figure(row.local_units)} / {_figure(row.documented_units)} | "
            f"{row.documented_units / row.listed:.3f} |"
        )
    return "\n".join(lines) + "\n"


def lifetime_rows(writes: list[WriteRow]) -> list[str]:
    """A task's documented write units over its life, per projection, from the rows."""
    cost: dict[tuple[str, str, str], int] = {}
    for row in writes:
        step = row.write.split(" (")[0]
        cost[row.resource, row.projection, step] = row.documented_table + row.documented_index
    rows = []
    tasks = [subject.label for subject in SUBJECTS if subject.kind_name == TASK]
    for resource in tasks:
        for projection in projections(TASK):
            cells = []
            for changes in LIFETIMES.values():
                total, bare = (
                    cost[resource, name, NEW_ITEM] + changes * cost[resource, name, STATUS_CHANGE]
                    for name in (projection, NO_INDEX)
                )
                added = (total - bare) / bare
                cells.append(f"{total} (+{added:.0%})" if added else str(total))
            rows.append(f"| {resource} | {projection} | {' | '.join(cells)} |")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.projection", description=__doc__)
    parser.add_argument("--tasks", type=int, default=100, help="tasks in the listed cluster")
    parser.add_argument(
        "--other-tasks", type=int, default=400, help="tasks of another cluster in the table"
    )
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmarks")
    arguments = parser.parse_args(argv)
    started = time.monotonic()
    import boto3

    # The Scan of the table without an index is measured on purpose; its warning is noise.
    logging.getLogger("ecs_state.query").setLevel(logging.ERROR)

    with dynamodb_local() as server:
        client = admin_client(server.endpoint)
        writes = [row for subject in SUBJECTS for row in measure_writes(client, subject)]
        reads = measure_reads(client, server.endpoint, arguments.tasks, arguments.other_tasks)
        context = {
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": commit(),
            "dynamodb_local": server.version,
            "python": ".".join(map(str, sys.version_info[:3])),
            "boto3": boto3.__version__,
        }
    arguments.output.mkdir(parents=True, exist_ok=True)
    report = markdown(writes, reads, context, arguments)
    (arguments.output / "projection.md").write_text(report)
    (arguments.output / "projection.json").write_text(
        json.dumps(
            {
                "context": context,
                "writes": [vars(row) for row in writes],
                "reads": [vars(row) for row in reads],
            },
            indent=2,
        )
        + "\n"
    )
    print(report)
    print(f"wrote {arguments.output / 'projection.md'} in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
