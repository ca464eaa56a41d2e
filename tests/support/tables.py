"""State tables in an emulator, shaped from the package's own schema (ecs_state.events).

The module creates its tables from main.tf; tests/module checks that the applied tables
have exactly this key schema and index, so a table made here is one the module would make.
"""

from __future__ import annotations

import uuid
from typing import Any

import boto3

from ecs_state.events import CLUSTER_FIELD, CONTAINER_INSTANCE, KIND_BY_NAME, STATUS_INDEX, TASK
from tools.emulators import DUMMY_ACCESS_KEY_ID, DUMMY_SECRET_ACCESS_KEY

REGION = "us-east-1"


def client(service: str, endpoint: str) -> Any:
    """A client of an emulator at endpoint, with the dummy credentials every test uses."""
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=DUMMY_ACCESS_KEY_ID,
        aws_secret_access_key=DUMMY_SECRET_ACCESS_KEY,
    )


def local_client(endpoint: str) -> Any:
    """A DynamoDB client of the emulator at endpoint (DynamoDB Local, say)."""
    return client("dynamodb", endpoint)


def table_definition(kind_name: str, *, index: bool = True) -> dict[str, Any]:
    """CreateTable arguments (less the name) of the table the module makes for a kind."""
    kind = KIND_BY_NAME[kind_name]
    definition: dict[str, Any] = {
        "KeySchema": [{"AttributeName": kind.key, "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": kind.key, "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if index:
        definition["AttributeDefinitions"] += [
            {"AttributeName": CLUSTER_FIELD, "AttributeType": "S"},
            {"AttributeName": kind.status_field, "AttributeType": "S"},
        ]
        definition["GlobalSecondaryIndexes"] = [
            {
                "IndexName": STATUS_INDEX,
                "KeySchema": [
                    {"AttributeName": CLUSTER_FIELD, "KeyType": "HASH"},
                    {"AttributeName": kind.status_field, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ]
    return definition


def create_table(
    dynamodb: Any, name: str, kind_name: str, *, index: bool = True, projection: dict | None = None
) -> str:
    definition = table_definition(kind_name, index=index)
    if index and projection is not None:
        definition["GlobalSecondaryIndexes"][0]["Projection"] = projection
    dynamodb.create_table(TableName=name, **definition)
    dynamodb.get_waiter("table_exists").wait(TableName=name)
    return name


def create_state_tables(
    dynamodb: Any,
    *,
    index: bool = True,
    prefix: str = "",
    projections: dict[str, dict] | None = None,
) -> dict[str, str]:
    """A task table and a container-instance table with unique names; projections (by kind
    name) replace the index's ALL."""
    suffix = uuid.uuid4().hex[:8]
    projections = projections or {}
    return {
        TASK: create_table(
            dynamodb,
            f"{prefix}tasks-{suffix}",
            TASK,
            index=index,
            projection=projections.get(TASK),
        ),
        CONTAINER_INSTANCE: create_table(
            dynamodb,
            f"{prefix}instances-{suffix}",
            CONTAINER_INSTANCE,
            index=index,
            projection=projections.get(CONTAINER_INSTANCE),
        ),
    }
