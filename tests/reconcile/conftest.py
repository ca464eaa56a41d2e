"""Fixtures of the reconciler tests: moto's ECS (gaps closed, see tests/support/ecs.py)
and the module's tables in DynamoDB Local."""

from __future__ import annotations

import io
import json
from collections import Counter

import pytest

from ecs_state.config import Settings
from ecs_state.reconcile import Reconciler, ReconcileSettings
from ecs_state.telemetry import Telemetry
from tests.support.ecs import EcsHarness, pin_task_states
from tests.support.tables import client, create_state_tables

# Tests run the reconciler at ECS's full sustained rate: its cap is tested on its own.
TEST_RATE = 20.0


@pytest.fixture(scope="session")
def moto_ecs_endpoint(moto_server):
    pin_task_states(moto_server.endpoint)
    return moto_server.endpoint


@pytest.fixture
def ecs(moto_ecs_endpoint):
    return EcsHarness(moto_ecs_endpoint)


@pytest.fixture
def dynamodb(dynamodb_local):
    return DynamoDB(client("dynamodb", dynamodb_local.endpoint))


@pytest.fixture
def tables(dynamodb):
    return create_state_tables(dynamodb.client)


class DynamoDB:
    """A DynamoDB Local client that counts the requests made with it, by operation."""

    def __init__(self, dynamodb_client):
        self.client = dynamodb_client
        self.requests: Counter[str] = Counter()
        dynamodb_client.meta.events.register("before-call.dynamodb", self._count)

    def _count(self, model, **_):
        self.requests[model.name] += 1

    def item(self, table: str, key: str, arn: str) -> dict | None:
        found = self.client.get_item(TableName=table, Key={key: {"S": arn}}, ConsistentRead=True)
        self.requests["GetItem"] -= 1  # the test's own read
        return found.get("Item")

    def items(self, table: str) -> dict[str, dict]:
        found, request = {}, {"TableName": table, "ConsistentRead": True}
        while True:
            page = self.client.scan(**request)
            self.requests["Scan"] -= 1
            for item in page["Items"]:
                # Task items may name their container instance; instance items name no task.
                key = "taskArn" if "taskArn" in item else "containerInstanceArn"
                found[item[key]["S"]] = item
            if "LastEvaluatedKey" not in page:
                return found
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def reconcile_settings(
    tables: dict[str, str], clusters, launch_type: str = "EC2", **overrides
) -> ReconcileSettings:
    rate = overrides.pop("max_requests_per_second", TEST_RATE)
    return ReconcileSettings(
        base=Settings(
            launch_type=launch_type,
            task_table=tables["task"],
            container_instance_table=tables["container-instance"] if launch_type == "EC2" else None,
            **overrides,
        ),
        cluster_arns=tuple(clusters),
        max_requests_per_second=rate,
    )


class Run:
    """A reconciler over the test's clients, with its log lines kept."""

    def __init__(self, settings: ReconcileSettings, ecs: EcsHarness, dynamodb: DynamoDB, **kw):
        self.stream = io.StringIO()
        telemetry = Telemetry(
            settings.base.log_level,
            settings.base.metrics_namespace,
            settings.base.launch_type,
            stream=self.stream,
        )
        self.reconciler = Reconciler(settings, ecs.client, dynamodb.client, telemetry, **kw)

    def __call__(self, **kwargs) -> dict:
        return self.reconciler.run(**kwargs)

    def logs(self) -> list[dict]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]
