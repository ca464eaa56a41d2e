"""State tables in DynamoDB Local, filled through the event handler, for the reader tests.

Each projection the module may give its index gets its own pair of tables holding the same
events; a pair without the index stands for a table given to the module by name.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from ecs_state.config import Settings
from ecs_state.events import CONTAINER_INSTANCE, KIND_BY_NAME, TASK
from ecs_state.processor import process_event
from ecs_state.query import INDEX_INCLUDE, MISSING_SINCE, TABLE_ARN, Reader
from ecs_state.telemetry import Telemetry
from scripts.ecs_events import (
    ACCOUNT,
    BASE_TIME,
    REGION,
    container_instance_arn,
    container_instance_event,
    task_arn,
    task_event,
)
from tests.support.tables import client, create_state_tables

WEB = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/web"
JOBS = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/jobs"
JOBS_TASKS = 23  # more than several pages at PAGE_SIZE
PAGE_SIZE = 4
MISSING_AT = "2026-11-01T13:00:00.000Z"


def _same(projection: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {TASK: projection, CONTAINER_INSTANCE: projection}


# Index projections by kind; None: no index, as on a table given to the module by name.
PROJECTIONS: dict[str, dict[str, dict[str, Any]] | None] = {
    "ALL": _same({"ProjectionType": "ALL"}),
    "KEYS_ONLY": _same({"ProjectionType": "KEYS_ONLY"}),
    # The module's default.
    "INCLUDE": {
        kind_name: {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(attributes)}
        for kind_name, attributes in INDEX_INCLUDE.items()
    },
    # An INCLUDE that lacks startedBy, taskDefinitionArn and _missingSince.
    "INCLUDE_NARROW": _same({"ProjectionType": "INCLUDE", "NonKeyAttributes": ["version"]}),
    "NO_INDEX": None,
}


@dataclass
class Expected:
    """What the tables must answer: per ARN its cluster, status, version and more."""

    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    instances: dict[str, dict[str, Any]] = field(default_factory=dict)
    missing: set[str] = field(default_factory=set)

    def task_arns(self, **criteria: Any) -> set[str]:
        return {
            arn
            for arn, task in self.tasks.items()
            if all(task[name] == value for name, value in criteria.items())
        }

    def instance_arns(self, **criteria: Any) -> set[str]:
        return {
            arn
            for arn, instance in self.instances.items()
            if all(instance[name] == value for name, value in criteria.items())
        }


def _task_events(expected: Expected, local_cluster: str) -> list[dict]:
    """Tasks over three clusters; every task goes through its statuses up to its last one,
    and each event is delivered twice, late ones after newer ones."""
    plan = [
        # cluster, name, final status, startedBy, family:revision
        (WEB, "web-1", "RUNNING", "ecs-svc/web", "web:7"),
        (WEB, "web-2", "RUNNING", "ecs-svc/web", "web:7"),
        (WEB, "web-3", "RUNNING", "ecs-svc/web", "web:70"),
        (WEB, "web-4", "PENDING", "ecs-svc/web", "web:7"),
        (WEB, "web-5", "STOPPED", "cron", "report:2"),
        (WEB, "web-6", "RUNNING", "cron", "report:3"),
        (local_cluster, "local-1", "RUNNING", "ecs-svc/local", "web:7"),
    ]
    plan += [
        (JOBS, f"job-{n:02d}", "RUNNING" if n % 3 else "STOPPED", f"batch/{n % 2}", "job:1")
        for n in range(JOBS_TASKS)
    ]
    lifecycle = ["PENDING", "RUNNING", "STOPPING", "STOPPED"]
    events: list[dict] = []
    for cluster, name, final, started_by, definition in plan:
        cluster_name = cluster.rsplit("/", 1)[1]
        arn = task_arn(f"{name.replace('-', '')}0000", cluster_name)
        steps = lifecycle[: lifecycle.index(final) + 1]
        for version, status in enumerate(steps, start=1):
            event = task_event(arn, version, status, cluster_arn=cluster, launch_type="EC2")
            event["detail"]["startedBy"] = started_by
            family, revision = definition.split(":")
            event["detail"]["taskDefinitionArn"] = (
                f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{family}:{revision}"
            )
            events.append(event)
        expected.tasks[arn] = {
            "cluster": cluster,
            "lastStatus": final,
            "version": len(steps),
            "startedBy": started_by,
            "definition": definition,
            "family": definition.split(":")[0],
        }
    # Duplicates, in reverse: the older copies arrive after the newer ones and lose.
    return events + events[::-1]


def _instance_events(expected: Expected) -> list[dict]:
    plan = [
        (WEB, "a1", ["REGISTERING", "ACTIVE"]),
        (WEB, "a2", ["REGISTERING", "ACTIVE"]),
        (WEB, "d1", ["REGISTERING", "ACTIVE", "DRAINING"]),
        (JOBS, "j1", ["REGISTERING", "ACTIVE", "DRAINING", "INACTIVE"]),
    ]
    events = []
    for cluster, name, steps in plan:
        arn = container_instance_arn(f"{name}00", cluster.rsplit("/", 1)[1])
        for version, status in enumerate(steps, start=1):
            event = container_instance_event(
                arn,
                version,
                status,
                cluster_arn=cluster,
                time=BASE_TIME + timedelta(minutes=version),
            )
            # As ECS reports them; scripts/ecs_events.py leaves the counts out.
            event["detail"].update(runningTasksCount=version * 2, pendingTasksCount=1)
            events.append(event)
        expected.instances[arn] = {"cluster": cluster, "status": steps[-1], "version": len(steps)}
    return events + events[::-1]


@dataclass
class StateTables:
    endpoint: str
    dynamodb: Any
    tables: dict[str, dict[str, str]]  # projection name -> {kind: table name}
    expected: Expected
    local_cluster: str

    def reader(self, projection: str, **options: Any) -> Reader:
        pair = self.tables[projection]
        return Reader(pair[TASK], pair[CONTAINER_INSTANCE], client=self.client(), **options)

    def client(self) -> Any:
        return client("dynamodb", self.endpoint)


def mark_missing(dynamodb: Any, table: str, arn: str) -> None:
    """What the reconciler writes on a task ECS no longer knows: the record stays, marked."""
    dynamodb.update_item(
        TableName=table,
        Key={KIND_BY_NAME[TASK].key: {"S": arn}},
        UpdateExpression="SET #missing = :since",
        ExpressionAttributeNames={"#missing": MISSING_SINCE},
        ExpressionAttributeValues={":since": {"S": MISSING_AT}},
    )


@pytest.fixture(scope="session")
def state_tables(dynamodb_local) -> StateTables:
    dynamodb = client("dynamodb", dynamodb_local.endpoint)
    tables = {
        name: create_state_tables(
            dynamodb,
            index=projections is not None,
            prefix=name.lower().replace("_", "-"),
            projections=projections,
        )
        for name, projections in PROJECTIONS.items()
    }
    # A short cluster name is completed from the table's ARN; DynamoDB Local has a region
    # and account of its own, so one cluster lives there to show that the completion works.
    table_arn = dynamodb.describe_table(TableName=tables["ALL"][TASK])["Table"]["TableArn"]
    partition, region, account = TABLE_ARN.match(table_arn).groups()
    local_cluster = f"arn:{partition}:ecs:{region}:{account}:cluster/local"
    expected = Expected()
    events = _task_events(expected, local_cluster) + _instance_events(expected)
    missing_arn = sorted(expected.task_arns(cluster=WEB, lastStatus="RUNNING"))[0]
    expected.missing.add(missing_arn)
    for pair in tables.values():
        settings = Settings(
            launch_type="EC2",
            task_table=pair[TASK],
            container_instance_table=pair[CONTAINER_INSTANCE],
        )
        telemetry = Telemetry.from_settings(settings, stream=io.StringIO())
        for event in events:
            process_event(event, settings, dynamodb, telemetry)
        mark_missing(dynamodb, pair[TASK], missing_arn)
    return StateTables(dynamodb_local.endpoint, dynamodb, tables, expected, local_cluster)
