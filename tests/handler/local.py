"""Driving the handler's own client against DynamoDB Local, as Lambda would."""

from __future__ import annotations

import io

from ecs_state.config import Settings
from ecs_state.store import dynamodb_client
from ecs_state.telemetry import Telemetry
from tests.conftest import REGION, environment


def local_settings(tables: dict) -> Settings:
    return Settings(
        launch_type="EC2",
        task_table=tables["task"],
        container_instance_table=tables["container_instance"],
    )


def endpoint_env(endpoint: str):
    """Point boto3's default configuration at DynamoDB Local the way a user would."""
    return environment(
        AWS_ENDPOINT_URL_DYNAMODB=endpoint,
        AWS_DEFAULT_REGION=REGION,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
    )


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
