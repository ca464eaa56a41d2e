"""Lambda entry point: ``ecs_state.handler.lambda_handler``.

Settings and the DynamoDB client are built once per execution environment, during
Lambda's init phase; a wrong LAUNCH_TYPE or a missing table name fails right here with
a message that names the variable.
"""

from __future__ import annotations

import os
from typing import Any

from ecs_state.config import Settings
from ecs_state.processor import process_event
from ecs_state.store import dynamodb_client
from ecs_state.telemetry import Telemetry

SETTINGS = Settings.from_env(os.environ)
CLIENT = dynamodb_client(SETTINGS)
TELEMETRY = Telemetry.from_settings(SETTINGS)


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Apply one ECS state-change event; see ``processor.process_event``."""
    return process_event(event, SETTINGS, CLIENT, TELEMETRY)
