"""Driving the handler's own client against DynamoDB Local, as Lambda would."""

from __future__ import annotations

import io
import os
from contextlib import contextmanager

from ecs_state.config import Settings
from ecs_state.store import dynamodb_client
from ecs_state.telemetry import Telemetry
from tests.conftest import REGION


def local_settings(tables: dict) -> Settings:
    return Settings(
        launch_type="EC2",
        task_table=tables["task"],
        container_instance_table=tables["container_instance"],
    )


@contextmanager
def endpoint_env(endpoint: str):
    """Point boto3's default configuration at DynamoDB Local the way a user would."""
    wanted = {
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    previous = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class RequestCounter:
    """Counts HTTP requests a client really sends, retries included."""

    def __init__(self, client):
        self.count = 0
        client.meta.events.register("before-send.dynamodb.*", self._sent)

    def _sent(self, **_):
        self.count += 1


def quiet_telemetry(settings: Settings) -> Telemetry:
    return Telemetry(
        settings.log_level, settings.metrics_namespace, settings.launch_type, stream=io.StringIO()
    )


def handler_client(settings: Settings, endpoint: str):
    with endpoint_env(endpoint):
        return dynamodb_client(settings)
