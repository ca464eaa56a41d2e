import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ecs_state.config import Settings
from ecs_state.errors import ConfigError
from ecs_state.telemetry import Telemetry
from tests.support.module import module_default

FUNCTION_DIR = Path(__file__).resolve().parents[2] / "function"
BASE = {"LAUNCH_TYPE": "EC2", "TASK_TABLE_NAME": "t", "CONTAINER_INSTANCE_TABLE_NAME": "c"}


def test_ec2_reads_both_tables_and_defaults():
    settings = Settings.from_env(BASE)
    assert (settings.launch_type, settings.task_table, settings.container_instance_table) == (
        "EC2",
        "t",
        "c",
    )
    assert (
        settings.ttl_days == 0
        and settings.redact_overrides is True
        and settings.log_level == "INFO"
    )


def test_fargate_needs_no_container_instance_table():
    settings = Settings.from_env({"LAUNCH_TYPE": "fargate", "TASK_TABLE_NAME": "t"})
    assert settings.launch_type == "FARGATE" and settings.container_instance_table is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {**BASE, "LAUNCH_TYPE": "EXTERNAL"},
            "LAUNCH_TYPE must be one of EC2, FARGATE, got 'EXTERNAL'",
        ),
        ({k: v for k, v in BASE.items() if k != "LAUNCH_TYPE"}, "LAUNCH_TYPE must be one of"),
        ({**BASE, "TASK_TABLE_NAME": " "}, "TASK_TABLE_NAME must be set"),
        (
            {k: v for k, v in BASE.items() if k != "CONTAINER_INSTANCE_TABLE_NAME"},
            "CONTAINER_INSTANCE_TABLE_NAME must be set",
        ),
        ({**BASE, "TTL_DAYS": "7d"}, "TTL_DAYS must be an integer"),
        ({**BASE, "TTL_DAYS": "-1"}, "TTL_DAYS must be between 0 and"),
        ({**BASE, "REDACT_OVERRIDES": "maybe"}, "REDACT_OVERRIDES must be true or false"),
        (
            {**BASE, "LOG_LEVEL": "LOUD"},
            "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, got 'LOUD'",
        ),
        ({**BASE, "TTL_DAYS": "3651"}, "TTL_DAYS must be between 0 and 3650, got 3651"),
        ({**BASE, "DYNAMODB_MAX_ATTEMPTS": "21"}, "DYNAMODB_MAX_ATTEMPTS must be between 1 and 20"),
        ({**BASE, "DYNAMODB_MAX_ATTEMPTS": "0"}, "DYNAMODB_MAX_ATTEMPTS must be between 1 and 20"),
    ],
)
def test_bad_environment_is_named(env, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        Settings.from_env(env)


def test_redaction_can_be_turned_off():
    assert Settings.from_env({**BASE, "REDACT_OVERRIDES": "false"}).redact_overrides is False


def test_handler_fails_at_start_on_unknown_launch_type():
    env = {
        "LAUNCH_TYPE": "EXTERNAL",
        "TASK_TABLE_NAME": "t",
        "AWS_DEFAULT_REGION": "us-east-1",
        "PATH": "/usr/bin:/bin",
        "PYTHONDONTWRITEBYTECODE": "1",  # nothing written into the package
    }
    result = subprocess.run(
        [sys.executable, "-c", "import ecs_state.handler"],
        cwd=FUNCTION_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "ConfigError: LAUNCH_TYPE must be one of EC2, FARGATE, got 'EXTERNAL'" in result.stderr


def test_client_uses_standard_retries_with_bounded_total_attempts(monkeypatch):
    from ecs_state.store import dynamodb_client

    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:1")
    client = dynamodb_client(Settings.from_env({**BASE, "DYNAMODB_MAX_ATTEMPTS": "4"}))
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 4}
    assert client.meta.endpoint_url == "http://127.0.0.1:1", "the default chain's endpoint is kept"


@pytest.mark.parametrize(
    ("raw", "level"),
    [("debug", "DEBUG"), (" Info ", "INFO"), ("warning", "WARNING"), ("Error", "ERROR")],
)
def test_log_level_is_read_in_any_case_and_padding(raw, level):
    settings = Settings.from_env({**BASE, "LOG_LEVEL": raw})
    assert settings.log_level == level
    # The handler builds its telemetry from this value at start-up; it must take it.
    stream = io.StringIO()
    Telemetry(settings.log_level, "ECSState", "EC2", stream=stream).log(level, "probe")
    assert json.loads(stream.getvalue())["level"] == level


def test_unset_options_take_their_documented_defaults():
    settings = Settings.from_env(BASE)
    assert (settings.metrics_namespace, settings.dynamodb_max_attempts) == ("ECSState", 5)


@pytest.mark.parametrize(("raw", "namespace"), [(" Team/ECS ", "Team/ECS"), ("  ", "ECSState")])
def test_metrics_namespace_is_read_and_blank_means_the_default(raw, namespace):
    assert Settings.from_env({**BASE, "METRICS_NAMESPACE": raw}).metrics_namespace == namespace


@pytest.mark.parametrize(
    ("name", "raw", "attribute", "value"),
    [
        ("TTL_DAYS", "0", "ttl_days", 0),
        ("TTL_DAYS", "3650", "ttl_days", 3650),
        ("DYNAMODB_MAX_ATTEMPTS", "1", "dynamodb_max_attempts", 1),
        ("DYNAMODB_MAX_ATTEMPTS", "20", "dynamodb_max_attempts", 20),
    ],
)
def test_numbers_at_either_end_of_their_range_are_accepted(name, raw, attribute, value):
    assert getattr(Settings.from_env({**BASE, name: raw}), attribute) == value


@pytest.mark.parametrize(
    ("raw", "redact"),
    [("true", True), ("YES", True), ("1", True), (" on ", True), ("no", False), ("0", False)],
)
def test_redact_overrides_reads_every_spelling_of_true_and_false(raw, redact):
    assert Settings.from_env({**BASE, "REDACT_OVERRIDES": raw}).redact_overrides is redact


def test_client_gives_up_before_the_functions_default_timeout():
    from ecs_state.store import dynamodb_client

    config = dynamodb_client(Settings.from_env(BASE)).meta.config
    # The values the docstring reasons with: 2 s to connect and 3 s to read per attempt.
    assert (config.connect_timeout, config.read_timeout) == (2, 3)
    # The docstring's worst case, every attempt timing out plus at most 15 s of backoff,
    # must end inside the module's default timeout (variables.tf), so the invocation raises.
    attempts = config.retries["total_max_attempts"]
    timeout = module_default("timeout")
    assert attempts * (config.connect_timeout + config.read_timeout) + 15 < timeout
