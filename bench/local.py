"""DynamoDB Local for the benchmark: start it, make tables, read back the final state."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3

REGION = "us-east-1"
# DynamoDB Local keeps one database per access key and region, so every client of a run
# must use the same dummy credentials.
CREDENTIALS = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench"}
TASK_KEY = "taskArn"
CONTAINER_INSTANCE_KEY = "containerInstanceArn"


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
    return boto3.session.Session().client(
        "dynamodb", endpoint_url=endpoint, region_name=REGION, **CREDENTIALS
    )


@dataclass(frozen=True)
class TablePair:
    task: str
    container_instance: str

    def for_key(self, key: str) -> str:
        return self.task if key == TASK_KEY else self.container_instance


def create_tables(client: Any, label: str) -> TablePair:
    suffix = uuid.uuid4().hex[:8]
    pair = TablePair(
        task=f"bench-{label}-tasks-{suffix}", container_instance=f"bench-{label}-instances-{suffix}"
    )
    for name, key in ((pair.task, TASK_KEY), (pair.container_instance, CONTAINER_INSTANCE_KEY)):
        client.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    for name in (pair.task, pair.container_instance):
        client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2})
    return pair


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
