"""Fixtures for the handler tests: settings, a moto DynamoDB, and a log capture."""

from __future__ import annotations

import io
import json

import boto3
import pytest
from moto import mock_aws

from ecs_state.config import Settings
from ecs_state.events import CONTAINER_INSTANCE, TASK
from ecs_state.processor import process_event
from ecs_state.telemetry import Telemetry
from tests.support.tables import create_table

TASK_TABLE = "tasks"
INSTANCE_TABLE = "instances"


def settings(launch_type: str = "EC2", **overrides) -> Settings:
    return Settings(
        launch_type=launch_type,
        task_table=TASK_TABLE,
        container_instance_table=INSTANCE_TABLE if launch_type == "EC2" else None,
        **overrides,
    )


class Harness:
    """Runs events through process_event and keeps every log line and request."""

    def __init__(self, client, settings: Settings):
        self.client = client
        self.settings = settings
        self.stream = io.StringIO()
        self.telemetry = Telemetry(
            settings.log_level, settings.metrics_namespace, settings.launch_type, stream=self.stream
        )
        self.requests: list[str] = []
        client.meta.events.register("before-call.dynamodb.*", self._count)

    def _count(self, model, **_):
        self.requests.append(model.name)

    def run(self, event, now=None):
        return process_event(event, self.settings, self.client, self.telemetry, now=now)

    def logs(self) -> list[dict]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]

    def item(self, table: str, key: str, arn: str) -> dict | None:
        found = self.client.get_item(TableName=table, Key={key: {"S": arn}}, ConsistentRead=True)
        self.requests.pop()  # the test's own read is not the handler's
        return found.get("Item")

    def count(self, table: str) -> int:
        found = self.client.scan(TableName=table, Select="COUNT")["Count"]
        self.requests.pop()
        return found


@pytest.fixture
def moto_client(monkeypatch):
    # In-process moto answers only requests that go to AWS's own endpoints: a worker that
    # already runs the session's moto server (AWS_ENDPOINT_URL) would send these there.
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table(client, TASK_TABLE, TASK)
        create_table(client, INSTANCE_TABLE, CONTAINER_INSTANCE)
        yield client


@pytest.fixture
def ec2(moto_client):
    return Harness(moto_client, settings("EC2"))


@pytest.fixture
def fargate(moto_client):
    return Harness(moto_client, settings("FARGATE"))
