"""Settings read once per execution environment from environment variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ecs_state.errors import ConfigError

# variables.tf states launch_type, log_level and ttl_days for Terraform; tests/test_agreement.py
# checks that both say the same.
LAUNCH_TYPES = ("EC2", "FARGATE")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")  # in increasing severity
TTL_DAYS_MAX = 3650
DYNAMODB_MAX_ATTEMPTS = 5
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class Settings:
    """What the handler needs to know about its deployment.

    launch_type: ``EC2`` stores tasks and container instances; ``FARGATE`` tasks only.
    ttl_days: 0 keeps records forever; N > 0 lets terminal records expire N days
        after the event that made them terminal (see ``items.expiry``).
    redact_overrides: replace container environment override values before storing.
    """

    launch_type: str
    task_table: str
    container_instance_table: str | None = None
    ttl_days: int = 0
    redact_overrides: bool = True
    log_level: str = "INFO"
    metrics_namespace: str = "ECSState"
    dynamodb_max_attempts: int = DYNAMODB_MAX_ATTEMPTS

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        launch_type = env.get("LAUNCH_TYPE", "").strip().upper()
        if launch_type not in LAUNCH_TYPES:
            raise ConfigError(
                f"LAUNCH_TYPE must be one of {', '.join(LAUNCH_TYPES)}, "
                f"got {env.get('LAUNCH_TYPE')!r}"
            )
        task_table = _required(env, "TASK_TABLE_NAME")
        container_instance_table = None
        if launch_type == "EC2":
            container_instance_table = _required(env, "CONTAINER_INSTANCE_TABLE_NAME")
        log_level = env.get("LOG_LEVEL", "INFO").strip().upper()
        if log_level not in LOG_LEVELS:
            raise ConfigError(
                f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {log_level!r}"
            )
        return cls(
            launch_type=launch_type,
            task_table=task_table,
            container_instance_table=container_instance_table,
            ttl_days=_int(env, "TTL_DAYS", 0, minimum=0, maximum=TTL_DAYS_MAX),
            redact_overrides=_bool(env, "REDACT_OVERRIDES", True),
            log_level=log_level,
            metrics_namespace=env.get("METRICS_NAMESPACE", "ECSState").strip() or "ECSState",
            dynamodb_max_attempts=_int(
                env, "DYNAMODB_MAX_ATTEMPTS", DYNAMODB_MAX_ATTEMPTS, minimum=1, maximum=20
            ),
        )


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} must be set to a DynamoDB table name")
    return value


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int, maximum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name} must be between {minimum} and {maximum}, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")
