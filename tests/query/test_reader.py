"""The reader library against tables the event handler filled, for every index projection."""

from __future__ import annotations

import json
import logging
import shlex
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from ecs_state import query
from ecs_state.events import CONTAINER_INSTANCE, KIND_BY_NAME, STATUS_INDEX, TASK
from ecs_state.query import (
    CONTAINER_INSTANCE_LISTING,
    INDEX_INCLUDE,
    TASK_LISTING,
    CredentialsError,
    QueryError,
    Reader,
    TableNotFoundError,
    UsageError,
)
from tests.query.conftest import JOBS, JOBS_TASKS, MISSING_AT, PAGE_SIZE, PROJECTIONS, WEB
from tests.support.tables import create_table

pytestmark = pytest.mark.dynamodb_local

INDEXED = [name for name, projection in PROJECTIONS.items() if projection is not None]
EVERY = list(PROJECTIONS)


class Requests:
    """The DynamoDB operations a client sends, by name, in order."""

    def __init__(self, dynamodb: Any):
        self.names: list[str] = []
        dynamodb.meta.events.register("before-call.dynamodb.*", self._called)

    def _called(self, model: Any, **_: Any) -> None:
        self.names.append(model.name)

    def count(self, name: str) -> int:
        return self.names.count(name)


def counted(state_tables, projection: str, **options: Any) -> tuple[Reader, Requests]:
    reader = state_tables.reader(projection, **options)
    return reader, Requests(reader.client)


def wire_format(value: Any) -> bool:
    """True if any part of a value still looks like {"S": ...}, {"N": ...}, {"M": ...}..."""
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in {"S", "N", "M", "L", "BOOL", "NULL"}:
            return True
        return any(wire_format(item) for item in value.values())
    if isinstance(value, list):
        return any(wire_format(item) for item in value)
    return False


def task_cases(expected) -> list[tuple[dict[str, Any], set[str]]]:
    tasks = expected.task_arns
    cases = [
        ({"cluster": WEB}, tasks(cluster=WEB)),
        (
            {"cluster": WEB, "status": "RUNNING"},
            tasks(cluster=WEB, lastStatus="RUNNING"),
        ),
        # Statuses are upper case in ECS; a lower-case one is the same question.
        (
            {"cluster": WEB, "status": "pending"},
            tasks(cluster=WEB, lastStatus="PENDING"),
        ),
        ({"cluster": WEB, "started_by": "cron"}, tasks(cluster=WEB, startedBy="cron")),
        ({"cluster": WEB, "family": "web"}, tasks(cluster=WEB, family="web")),
        # A revision is exact: web:7 is not web:70.
        ({"cluster": WEB, "family": "web:7"}, tasks(cluster=WEB, definition="web:7")),
        (
            {"cluster": WEB, "status": "RUNNING", "started_by": "ecs-svc/web", "family": "web:7"},
            tasks(cluster=WEB, lastStatus="RUNNING", startedBy="ecs-svc/web", definition="web:7"),
        ),
        (
            {"cluster": JOBS, "status": "STOPPED"},
            tasks(cluster=JOBS, lastStatus="STOPPED"),
        ),
        ({"cluster": JOBS, "started_by": "nobody"}, set()),
    ]
    # Each case must tell the filters apart, or it would prove nothing.
    answers = [frozenset(arns) for _, arns in cases]
    assert len(set(answers)) == len(answers)
    assert all(answers[:-1])
    return cases


@pytest.mark.parametrize("projection", EVERY)
@pytest.mark.parametrize("fields", [None, TASK_LISTING], ids=["whole-items", "listing-fields"])
def test_every_task_filter_answers_what_the_handler_stored(state_tables, projection, fields):
    reader = state_tables.reader(projection, page_size=PAGE_SIZE)
    expected = state_tables.expected
    for criteria, arns in task_cases(expected):
        records = list(reader.list_tasks(**criteria, fields=fields))
        found = [record["taskArn"] for record in records]
        assert sorted(found) == sorted(arns), criteria
        for record in records:
            stored = expected.tasks[record["taskArn"]]
            # The latest version won over every late duplicate.
            assert record["version"] == stored["version"]
            assert type(record["version"]) is int
            assert record["lastStatus"] == stored["lastStatus"]
            assert not wire_format(record)
            if fields is None:
                assert record["containers"][0]["name"] == "web"


@pytest.mark.parametrize("projection", EVERY)
def test_container_instances_by_cluster_and_status(state_tables, projection):
    reader = state_tables.reader(projection, page_size=PAGE_SIZE)
    expected = state_tables.expected
    instances = expected.instance_arns
    cases = [
        ({"cluster": WEB}, instances(cluster=WEB)),
        (
            {"cluster": WEB, "status": "ACTIVE"},
            expected.instance_arns(cluster=WEB, status="ACTIVE"),
        ),
        (
            {"cluster": WEB, "status": "DRAINING"},
            instances(cluster=WEB, status="DRAINING"),
        ),
        ({"cluster": JOBS, "status": "ACTIVE"}, set()),
        ({"cluster": JOBS, "status": "INACTIVE"}, instances(cluster=JOBS)),
    ]
    assert len(cases[1][1]) == 2 and cases[2][1] and cases[4][1]
    for criteria, arns in cases:
        for fields in (None, CONTAINER_INSTANCE_LISTING):
            records = list(reader.list_container_instances(**criteria, fields=fields))
            assert sorted(record["containerInstanceArn"] for record in records) == sorted(arns)
            for record in records:
                assert (
                    record["version"]
                    == expected.instances[record["containerInstanceArn"]]["version"]
                )
                assert isinstance(record["agentConnected"], bool)


@pytest.mark.parametrize("projection", EVERY)
def test_a_task_marked_missing_is_flagged_not_listed_as_running(state_tables, projection):
    (missing,) = state_tables.expected.missing
    # INCLUDE_NARROW does not hold _missingSince: the reader must fetch to know.
    reader = state_tables.reader(projection)
    running = {
        record["taskArn"]: record
        for record in reader.list_tasks(WEB, "RUNNING", fields=["version"])
    }
    assert running[missing].missing
    assert running[missing].missing_since == MISSING_AT
    assert [arn for arn, record in running.items() if record.missing] == [missing]
    assert reader.get_task(missing).missing


@pytest.mark.parametrize(("projection", "operation"), [("ALL", "Query"), ("NO_INDEX", "Scan")])
def test_every_page_is_read(state_tables, projection, operation):
    reader, requests = counted(state_tables, projection, page_size=PAGE_SIZE)
    records = list(reader.list_tasks(JOBS))
    assert len(records) == len({record["taskArn"] for record in records}) == JOBS_TASKS
    if operation == "Query":
        # One more page than the items fill: the last page says there is no more.
        assert requests.count("Query") >= JOBS_TASKS // PAGE_SIZE + 1
    else:
        # A Scan pages through every cluster's tasks, not only this one's.
        assert requests.count("Scan") >= len(state_tables.expected.tasks) // PAGE_SIZE + 1
    assert requests.count("DescribeTable") == 1


@pytest.mark.parametrize(
    ("projection", "fields", "fetches"),
    [
        ("ALL", None, False),
        ("ALL", TASK_LISTING, False),
        ("INCLUDE", TASK_LISTING, False),
        ("INCLUDE", None, True),
        ("INCLUDE", [*TASK_LISTING, "containers"], True),
        ("KEYS_ONLY", TASK_LISTING, True),
        # version is projected, but _missingSince is not: missing must still be known.
        ("INCLUDE_NARROW", ["version"], True),
    ],
)
def test_full_items_are_fetched_only_when_the_index_lacks_a_field(
    state_tables, projection, fields, fetches
):
    reader, requests = counted(state_tables, projection)
    records = list(reader.list_tasks(WEB, fields=fields))
    assert len(records) == len(state_tables.expected.task_arns(cluster=WEB))
    assert (requests.count("BatchGetItem") > 0) is fetches
    assert requests.count("Scan") == 0
    for record in records:
        for name in fields or ():
            assert name in record, (name, record)
    if projection == "INCLUDE" and not fetches:
        assert all("containers" not in record for record in records)


def test_fetches_go_in_batches_and_keep_the_index_order(state_tables, monkeypatch):
    monkeypatch.setattr(query, "BATCH_GET_MAX_KEYS", 5)
    keys_only, requests = counted(state_tables, "KEYS_ONLY")
    fetched = [record["taskArn"] for record in keys_only.list_tasks(JOBS, fields=TASK_LISTING)]
    indexed = [record["taskArn"] for record in state_tables.reader("ALL").list_tasks(JOBS)]
    assert requests.count("BatchGetItem") == -(-JOBS_TASKS // 5)
    # Both come from the same index and key order (status, then the index's own order).
    assert [state_tables.expected.tasks[arn]["lastStatus"] for arn in fetched] == sorted(
        state_tables.expected.tasks[arn]["lastStatus"] for arn in fetched
    )
    assert sorted(fetched) == sorted(indexed)


def test_a_table_without_the_index_is_scanned_with_a_warning(state_tables, caplog):
    reader, requests = counted(state_tables, "NO_INDEX")
    table = state_tables.tables["NO_INDEX"][TASK]
    with caplog.at_level(logging.WARNING, logger="ecs_state.query"):
        records = list(reader.list_tasks(WEB, "RUNNING"))
    assert sorted(record["taskArn"] for record in records) == sorted(
        state_tables.expected.task_arns(cluster=WEB, lastStatus="RUNNING")
    )
    assert requests.count("Query") == 0 and requests.count("Scan") >= 1
    (warning,) = [record.getMessage() for record in caplog.records]
    assert f"table {table} cannot be queried by cluster" in warning
    assert "scanning the whole table" in warning
    assert f"aws dynamodb update-table --table-name {table}" in warning
    assert STATUS_INDEX in warning
    # Once per table and reader, however many listings follow.
    with caplog.at_level(logging.WARNING, logger="ecs_state.query"):
        list(reader.list_tasks(JOBS))
    assert len(caplog.records) == 1


def test_the_suggested_update_table_adds_the_index_the_reader_uses(state_tables):
    """The command the warning prints, sent as the request it stands for, makes the Scan
    fallback unnecessary."""
    dynamodb = state_tables.client()
    table = create_table(dynamodb, f"given-by-name-{uuid.uuid4().hex[:8]}", TASK, index=False)
    command = shlex.split(query.update_table_command(table, KIND_BY_NAME[TASK]))
    options = dict(zip(command[3::2], command[4::2], strict=True))
    dynamodb.update_table(
        TableName=options["--table-name"],
        AttributeDefinitions=json.loads(options["--attribute-definitions"]),
        GlobalSecondaryIndexUpdates=json.loads(options["--global-secondary-index-updates"]),
    )
    # DynamoDB builds the index in the background; until it is ACTIVE the reader scans.
    deadline = time.monotonic() + 30
    while (info := Reader(table, client=dynamodb).table_info(TASK)).index is None:
        assert "CREATING" in info.no_index_reason
        assert time.monotonic() < deadline, "the index never became ACTIVE"
        time.sleep(0.2)
    assert info.index.name == STATUS_INDEX
    assert info.index.projected == {"taskArn", "clusterArn", "lastStatus", *INDEX_INCLUDE[TASK]}


def test_the_readme_gives_the_commands_the_warning_gives():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for kind_name, table in ((TASK, "my-ecs-tasks"), (CONTAINER_INSTANCE, "my-ecs-instances")):
        assert query.update_table_command(table, KIND_BY_NAME[kind_name]) in readme


def test_get_returns_plain_values_or_none(state_tables):
    reader = state_tables.reader("INCLUDE")
    arn = sorted(state_tables.expected.task_arns(cluster=WEB, lastStatus="STOPPED"))[0]
    task = reader.get_task(arn)
    assert task["taskArn"] == arn
    assert task["version"] == 4 and type(task["version"]) is int
    assert task["containers"][0]["lastStatus"] == "STOPPED"
    assert task["enableExecuteCommand"] is False
    assert not task.missing and task.missing_since is None
    assert not wire_format(task)
    assert reader.get_task(arn[:-4] + "ffff") is None
    instance_arn = sorted(state_tables.expected.instance_arns(status="DRAINING"))[0]
    instance = reader.get_container_instance(instance_arn)
    assert instance["status"] == "DRAINING"
    assert instance["registeredResources"][0]["integerValue"] == 2048


def test_a_short_cluster_name_takes_the_tables_region_and_account(state_tables):
    reader = state_tables.reader("ALL")
    assert reader.cluster_arn(TASK, "local") == state_tables.local_cluster
    records = list(reader.list_tasks("local"))
    assert [record["clusterArn"] for record in records] == [state_tables.local_cluster]
    # A cluster of another account or region is found by its ARN only.
    assert list(reader.list_tasks("web")) == []
    assert len(list(reader.list_tasks(WEB))) == len(state_tables.expected.task_arns(cluster=WEB))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda r: r.get_task("task/web/1234"), "bad task ARN 'task/web/1234'"),
        (
            lambda r: r.get_container_instance(WEB),
            "bad container-instance ARN 'arn:aws:ecs:us-east-1:111122223333:cluster/web'",
        ),
        (lambda r: r.list_tasks("arn:aws:ecs:us-east-1:1:cluster/web"), "bad cluster ARN"),
        (lambda r: r.list_tasks("web cluster"), "bad cluster 'web cluster'"),
        (lambda r: r.list_tasks(WEB, "RUNING"), "unknown task status 'RUNING'"),
        (lambda r: r.list_container_instances(WEB, "RUNNING"), "unknown container-instance status"),
        (lambda r: r.list_tasks(WEB, family="web:latest"), "bad task definition family"),
    ],
)
def test_bad_arguments_are_refused_before_any_request(state_tables, call, message):
    reader, requests = counted(state_tables, "ALL")
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        call(reader)
    assert requests.names == []


def test_a_missing_table_is_named(state_tables):
    reader = Reader("no-such-table", client=state_tables.client())
    with pytest.raises(
        TableNotFoundError, match="table 'no-such-table' does not exist in us-east-1"
    ):
        list(reader.list_tasks(WEB))
    with pytest.raises(UsageError, match="no container-instance table was given"):
        reader.get_container_instance(WEB.replace("cluster/web", "container-instance/web/a1"))


def test_an_unreachable_endpoint_is_an_aws_error():
    # Nothing listens on the discard port; one attempt, so the test does not wait on backoff.
    single = boto3.client(
        "dynamodb",
        endpoint_url="http://127.0.0.1:9",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )
    with pytest.raises(QueryError) as raised:
        Reader("tasks", client=single).get_task(WEB.replace("cluster/web", "task/web/ab"))
    assert raised.value.exit_code == query.ExitCode.AWS_ERROR
    assert "Could not connect to the endpoint URL" in str(raised.value)


def test_refused_credentials_are_told_apart_from_other_errors():
    denied = ClientError(
        {"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}}, "Query"
    )
    error = query.aws_error(denied, "tasks")
    assert isinstance(error, CredentialsError)
    assert str(error) == "Query on table 'tasks' refused: AccessDeniedException: not authorized"
    throttled = ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "Scan")
    assert type(query.aws_error(throttled, "tasks")) is QueryError


@pytest.mark.parametrize(
    ("index", "usable"),
    [
        ({"IndexStatus": "ACTIVE"}, True),
        ({"IndexStatus": "CREATING", "Backfilling": True}, False),
        (
            {
                "IndexStatus": "ACTIVE",
                "KeySchema": [{"AttributeName": "clusterArn", "KeyType": "HASH"}],
            },
            False,
        ),
    ],
)
def test_only_an_active_index_on_cluster_and_status_is_used(index, usable):
    kind = KIND_BY_NAME[CONTAINER_INSTANCE]
    description = {
        "TableName": "instances",
        "TableArn": "arn:aws:dynamodb:eu-west-1:111122223333:table/instances",
        "GlobalSecondaryIndexes": [
            {
                "IndexName": "by-cluster",
                "KeySchema": [
                    {"AttributeName": "clusterArn", "KeyType": "HASH"},
                    {"AttributeName": "status", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["version"]},
                **index,
            }
        ],
    }
    info = query._table_info(kind, description)
    assert (info.index is not None) is usable
    if usable:
        # Another name is fine when the keys are the module's; the keys are always held.
        assert info.index.name == "by-cluster"
        assert info.index.projected == {"containerInstanceArn", "clusterArn", "status", "version"}
    else:
        assert info.no_index_reason
