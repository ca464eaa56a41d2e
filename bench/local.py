"""DynamoDB Local for the benchmark: start it, make tables, read back the final state."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ecs_state.events import CONTAINER_INSTANCE, KIND_BY_NAME, TASK
from tests.support import tables
from tests.support.module import module_default
from tools.emulators import DUMMY_ACCESS_KEY_ID, DUMMY_SECRET_ACCESS_KEY

REGION = tables.REGION
# DynamoDB Local keeps one database per access key and region, so every client of a run
# uses the emulators' dummy credentials, as tests/support/tables.client (the admin client).
CREDENTIALS = {
    "aws_access_key_id": DUMMY_ACCESS_KEY_ID,
    "aws_secret_access_key": DUMMY_SECRET_ACCESS_KEY,
}
TASK_KEY = KIND_BY_NAME[TASK].key
CONTAINER_INSTANCE_KEY = KIND_BY_NAME[CONTAINER_INSTANCE].key
# Lambda retries an asynchronous invocation that raised this many times (the module's
# default), then sends the event to the dead-letter queue.
LAMBDA_RETRIES: int = module_default("lambda_maximum_retry_attempts")


@dataclass(frozen=True)
class Server:
    endpoint: str
    version: str


def aws_environment(endpoint: str) -> dict[str, str]:
    """Variables that point boto3's default chain (the handler's) at DynamoDB Local."""
    return {
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@contextlib.contextmanager
def dynamodb_local() -> Iterator[Server]:
    """The project's DynamoDB Local (tools/emulators.py), in memory on a free port."""
    from tools.emulators import dynamodb_local as start
    from tools.emulators import find_dynamodb_local

    version = find_dynamodb_local().name  # the cache keeps one directory per version
    with start() as emulator:
        yield Server(endpoint=emulator.endpoint, version=version)


def admin_client(endpoint: str) -> Any:
    """A client for setup and read-back; never one of the clients being measured."""
    return tables.client("dynamodb", endpoint)


@dataclass(frozen=True)
class TablePair:
    task: str
    container_instance: str


def create_tables(client: Any, label: str) -> TablePair:
    """The module's two tables, without the status index: every figure of the benchmark
    is measured on the write path alone, as it has been since the first run."""
    created = tables.create_state_tables(client, index=False, prefix=f"bench-{label}-")
    return TablePair(task=created[TASK], container_instance=created[CONTAINER_INSTANCE])


def delete_tables(client: Any, pair: TablePair) -> None:
    for name in (pair.task, pair.container_instance):
        with contextlib.suppress(Exception):
            client.delete_table(TableName=name)


def read_items(client: Any, pair: TablePair) -> dict[str, dict[str, Any]]:
    """Every stored item of both tables, by ARN (strongly consistent scan)."""
    items: dict[str, dict[str, Any]] = {}
    for name, key in ((pair.task, TASK_KEY), (pair.container_instance, CONTAINER_INSTANCE_KEY)):
        for page in client.get_paginator("scan").paginate(TableName=name, ConsistentRead=True):
            for item in page["Items"]:
                items[item[key]["S"]] = item
    return items


def final_state_errors(
    items: dict[str, dict[str, Any]], latest: dict[str, tuple[str, int]]
) -> dict[str, int]:
    """Records that are missing or below the highest version their stream carried."""
    missing = below = above = 0
    for arn, (_, version) in latest.items():
        item = items.get(arn)
        if item is None:
            missing += 1
            continue
        stored = int(item["version"]["N"])
        if stored < version:
            below += 1
        elif stored > version:
            above += 1
    return {"missing": missing, "below": below, "above": above}
