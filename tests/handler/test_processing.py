"""Every path of process_event against moto's DynamoDB: what is written, logged and counted."""

from __future__ import annotations

import copy
import importlib
import io
import json
import sys
import time
from decimal import Decimal

import pytest
from botocore.exceptions import ClientError

from ecs_state.errors import InvalidEventError
from ecs_state.items import REDACTED
from ecs_state.telemetry import Outcome, Telemetry
from scripts import ecs_events as samples
from tests.handler.conftest import INSTANCE_TABLE, TASK_TABLE

TASK = samples.task_arn("0b69d5c0d3a447bda1dff4f4ae8a5d2c")
INSTANCE = samples.container_instance_arn("8f9ad8b2f3c34d4fa9e0dd5e0c8e1a11")


def test_ec2_task_event_is_stored_with_detail_at_top_level(ec2):
    event = samples.task_event(TASK, 3, "RUNNING", launch_type="EC2", container_instance=INSTANCE)
    assert ec2.run(event) == {"outcome": "applied", "arn": TASK, "version": 3}
    item = ec2.item(TASK_TABLE, "taskArn", TASK)
    assert item["version"] == {"N": "3"}
    assert item["lastStatus"] == {"S": "RUNNING"}
    assert item["containerInstanceArn"] == {"S": INSTANCE}
    # nested lists and maps are kept as lists and maps
    assert item["containers"]["L"][0]["M"]["name"] == {"S": "web"}
    assert item["ephemeralStorage"] == {"M": {"sizeInGiB": {"N": "20"}}}
    assert item["enableExecuteCommand"] == {"BOOL": False}
    assert item["_eventId"] == {"S": event["id"]}
    assert item["_eventTime"] == {"S": event["time"]}
    assert item["_account"] == {"S": samples.ACCOUNT}
    assert item["_region"] == {"S": samples.REGION}
    assert item["_ingestedAt"]["S"].endswith("Z")
    assert "_expiresAt" not in item
    assert ec2.requests == ["PutItem"]


def test_ec2_container_instance_event_goes_to_its_own_table(ec2):
    assert ec2.run(samples.container_instance_event(INSTANCE, 5))["outcome"] == "applied"
    item = ec2.item(INSTANCE_TABLE, "containerInstanceArn", INSTANCE)
    assert item["status"] == {"S": "ACTIVE"} and item["version"] == {"N": "5"}
    assert item["remainingResources"]["L"][2]["M"]["stringSetValue"]["L"][0] == {"S": "22"}
    assert ec2.count(TASK_TABLE) == 0


def test_fargate_stores_tasks_including_capacity_provider_tasks(fargate):
    spot = samples.task_event(TASK, 1, "PENDING", launch_type=None)
    assert "launchType" not in spot["detail"]
    assert fargate.run(spot)["outcome"] == "applied"
    assert fargate.item(TASK_TABLE, "taskArn", TASK)["capacityProviderName"] == {
        "S": "FARGATE_SPOT"
    }


def test_fargate_rejects_container_instance_events_and_writes_nothing(fargate):
    with pytest.raises(
        InvalidEventError,
        match="container-instance events are not handled when LAUNCH_TYPE is FARGATE",
    ):
        fargate.run(samples.container_instance_event(INSTANCE, 1))
    assert fargate.requests == []
    assert fargate.count(INSTANCE_TABLE) == 0


def test_newer_version_replaces_older_one(ec2):
    ec2.run(samples.task_event(TASK, 1, "PENDING"))
    assert ec2.run(samples.task_event(TASK, 2, "RUNNING"))["outcome"] == "applied"
    assert ec2.item(TASK_TABLE, "taskArn", TASK)["lastStatus"] == {"S": "RUNNING"}


@pytest.mark.parametrize("late_version", [2, 1])
def test_older_or_equal_version_is_stale_not_an_error(ec2, late_version):
    ec2.run(samples.task_event(TASK, 2, "RUNNING"))
    late = samples.task_event(TASK, late_version, "PENDING")
    assert ec2.run(late)["outcome"] == "stale-or-duplicate"
    assert ec2.item(TASK_TABLE, "taskArn", TASK)["lastStatus"] == {"S": "RUNNING"}
    assert ec2.requests == ["PutItem", "PutItem"]  # one request per event, no read
    last = ec2.logs()[-1]
    assert last["outcome"] == "stale-or-duplicate" and last["StaleOrDuplicate"] == 1


def test_unknown_new_fields_and_floats_are_kept(ec2):
    event = samples.task_event(TASK, 1)
    event["detail"]["fancyNewField"] = {
        "ratio": 0.1,
        "tags": ["a", {"deep": [1.5e-7]}],
        "none": None,
    }
    ec2.run(event)
    stored = ec2.item(TASK_TABLE, "taskArn", TASK)["fancyNewField"]["M"]
    assert stored["ratio"] == {"N": "0.1"}
    assert stored["tags"]["L"][1]["M"]["deep"]["L"][0] == {"N": "1.5E-7"}
    assert stored["none"] == {"NULL": True}


def test_environment_override_values_are_redacted_by_default(ec2):
    event = samples.task_event(TASK, 1, environment={"DB_PASSWORD": "hunter2", "MODE": "blue"})
    original = copy.deepcopy(event)
    ec2.run(event)
    assert event == original, "the handler must not change its input"
    env = ec2.item(TASK_TABLE, "taskArn", TASK)["overrides"]["M"]["containerOverrides"]["L"][0][
        "M"
    ]["environment"]["L"]
    assert [(e["M"]["name"]["S"], e["M"]["value"]["S"]) for e in env] == [
        ("DB_PASSWORD", REDACTED),
        ("MODE", REDACTED),
    ]
    assert "hunter2" not in "".join(map(str, ec2.logs()))


def test_redaction_off_keeps_values(moto_client):
    from tests.handler.conftest import Harness, settings

    harness = Harness(moto_client, settings("EC2", redact_overrides=False))
    harness.run(samples.task_event(TASK, 1, environment={"MODE": "blue"}))
    env = harness.item(TASK_TABLE, "taskArn", TASK)["overrides"]["M"]["containerOverrides"]["L"][0][
        "M"
    ]["environment"]["L"]
    assert env[0]["M"]["value"] == {"S": "blue"}


def test_debug_logging_never_shows_override_values(moto_client):
    from tests.handler.conftest import Harness, settings

    harness = Harness(moto_client, settings("EC2", log_level="DEBUG"))
    harness.run(samples.task_event(TASK, 1, environment={"TOKEN": "s3cr3t"}))
    lines = harness.logs()
    assert lines[0]["message"] == "event received" and lines[0]["detail"]["taskArn"] == TASK
    assert "s3cr3t" not in harness.stream.getvalue()


def test_one_log_line_per_event_is_an_emf_document(ec2):
    ec2.run(samples.task_event(TASK, 1, environment={"SECRET": "x"}))
    (line,) = ec2.logs()
    assert {k: line[k] for k in ("level", "outcome", "arn", "version", "resource", "table")} == {
        "level": "INFO",
        "outcome": "applied",
        "arn": TASK,
        "version": 1,
        "resource": "task",
        "table": TASK_TABLE,
    }
    directive = line["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "ECSState"
    assert directive["Dimensions"] == [["LaunchType", "ResourceType"]]
    for metric in directive["Metrics"]:
        assert metric["Name"] in line, "every declared metric needs a value in the document"
    assert (line["Applied"], line["StaleOrDuplicate"], line["Rejected"], line["Failed"]) == (
        1,
        0,
        0,
        0,
    )
    assert (line["LaunchType"], line["ResourceType"]) == ("EC2", "task")
    assert "detail" not in line and "overrides" not in str(line)


def _without(mapping, key):
    return {k: v for k, v in mapping.items() if k != key}


BAD_EVENTS = [
    ("not a dict", lambda e: ["nope"], "event must be a JSON object, got list"),
    (
        "wrong source",
        lambda e: {**e, "source": "aws.ec2"},
        "event source must be 'aws.ecs', got 'aws.ec2'",
    ),
    (
        "unknown detail-type",
        lambda e: {**e, "detail-type": "ECS Service Action"},
        "unknown detail-type 'ECS Service Action'",
    ),
    (
        "detail-type not text",
        lambda e: {**e, "detail-type": ["ECS Task State Change"]},
        "unknown detail-type ['ECS Task State Change']",
    ),
    ("missing detail", lambda e: _without(e, "detail"), "event has no 'detail' object"),
    ("detail not an object", lambda e: {**e, "detail": "x"}, "event has no 'detail' object"),
    (
        "missing version",
        lambda e: {**e, "detail": _without(e["detail"], "version")},
        "detail.version must be an integer, got None",
    ),
    (
        "text version",
        lambda e: {**e, "detail": {**e["detail"], "version": "3"}},
        "detail.version must be an integer, got '3'",
    ),
    (
        "float version",
        lambda e: {**e, "detail": {**e["detail"], "version": 3.5}},
        "detail.version must be an integer, got 3.5",
    ),
    (
        "boolean version",
        lambda e: {**e, "detail": {**e["detail"], "version": True}},
        "detail.version must be an integer, got True",
    ),
    (
        "negative version",
        lambda e: {**e, "detail": {**e["detail"], "version": -1}},
        "detail.version must not be negative",
    ),
    (
        "missing ARN",
        lambda e: {**e, "detail": _without(e["detail"], "taskArn")},
        "detail.taskArn is missing",
    ),
    (
        "empty ARN",
        lambda e: {**e, "detail": {**e["detail"], "taskArn": ""}},
        "detail.taskArn is missing",
    ),
    (
        "foreign ARN",
        lambda e: {**e, "detail": {**e["detail"], "taskArn": "arn:aws:s3:::bucket"}},
        "detail.taskArn is not an ECS ARN",
    ),
    (
        "NaN field",
        lambda e: {**e, "detail": {**e["detail"], "cpu": float("nan")}},
        "detail.cpu is nan; DynamoDB stores only finite numbers",
    ),
    (
        "number too precise",
        lambda e: {**e, "detail": {**e["detail"], "memory": 10**40 + 1}},
        "detail.memory has 41 significant digits",
    ),
    (
        "number too large",
        lambda e: {**e, "detail": {**e["detail"], "memory": 1e200}},
        "outside DynamoDB's number range",
    ),
    (
        "empty map key",
        lambda e: {**e, "detail": {**e["detail"], "labels": {"": "x"}}},
        "detail.labels has an empty or non-text key ''",
    ),
    (
        "too deep",
        lambda e: {**e, "detail": {**e["detail"], "deep": _nest(40)}},
        "nested deeper than DynamoDB's 32 levels",
    ),
    (
        "too large",
        lambda e: {**e, "detail": {**e["detail"], "blob": "x" * 420_000}},
        "bytes; DynamoDB's limit is 409600",
    ),
]


def _nest(depth):
    value = "bottom"
    for _ in range(depth):
        value = {"d": value}
    return value


@pytest.mark.parametrize(("case", "mutate", "message"), BAD_EVENTS, ids=[b[0] for b in BAD_EVENTS])
def test_bad_input_raises_named_error_and_writes_nothing(ec2, case, mutate, message):
    event = mutate(samples.task_event(TASK, 1))
    with pytest.raises(InvalidEventError) as raised:
        ec2.run(event)
    assert message in str(raised.value)
    assert ec2.requests == [], "bad input must not reach DynamoDB"
    assert ec2.count(TASK_TABLE) == 0
    (line,) = ec2.logs()
    assert line["outcome"] == "rejected" and line["Rejected"] == 1 and message in line["reason"]


def test_missing_container_instance_arn_is_named(ec2):
    event = samples.container_instance_event(INSTANCE, 1)
    del event["detail"]["containerInstanceArn"]
    with pytest.raises(InvalidEventError, match=r"detail\.containerInstanceArn is missing"):
        ec2.run(event)


class RefusingClient:
    """Stands in for DynamoDB answering with a given error code."""

    def __init__(self, code):
        self.code = code
        self.calls = 0

    def put_item(self, **_):
        self.calls += 1
        raise ClientError(
            {"Error": {"Code": self.code, "Message": f"{self.code} from test"}}, "PutItem"
        )


def test_validation_error_from_dynamodb_becomes_a_named_rejection(ec2):
    ec2.client = RefusingClient("ValidationException")
    with pytest.raises(
        InvalidEventError, match="DynamoDB refused the item: ValidationException from test"
    ):
        ec2.run(samples.task_event(TASK, 1))
    assert ec2.logs()[-1]["outcome"] == "rejected"


def test_throttling_after_retries_propagates_so_lambda_retries(ec2):
    ec2.client = RefusingClient("ProvisionedThroughputExceededException")
    with pytest.raises(ClientError):
        ec2.run(samples.task_event(TASK, 1))
    line = ec2.logs()[-1]
    assert (line["outcome"], line["Failed"], line["reason"]) == (
        "failed",
        1,
        "ProvisionedThroughputExceededException",
    )


def _overridden_containers(count):
    """containerOverrides of `count` containers, each overriding two variables."""
    return [
        {
            "name": f"container-{index}",
            "environment": [
                {"name": "DB_PASSWORD", "value": f"password-{index}"},
                {"name": "API_TOKEN", "value": f"token-{index}"},
            ],
        }
        for index in range(count)
    ]


def _environments(container_overrides):
    """[(container, [(variable, value), ...]), ...] of a plain JSON detail."""
    return [
        (container["name"], [(pair["name"], pair["value"]) for pair in container["environment"]])
        for container in container_overrides
    ]


@pytest.mark.parametrize("containers", [2, 3])
def test_every_containers_override_values_are_redacted_in_the_item_and_the_debug_line(
    moto_client, containers
):
    from tests.handler.conftest import Harness, settings

    harness = Harness(moto_client, settings("EC2", log_level="DEBUG"))
    event = samples.task_event(TASK, 1)
    event["detail"]["overrides"]["containerOverrides"] = _overridden_containers(containers)
    harness.run(event)

    redacted = [
        (f"container-{index}", [("DB_PASSWORD", REDACTED), ("API_TOKEN", REDACTED)])
        for index in range(containers)
    ]
    stored = harness.item(TASK_TABLE, "taskArn", TASK)["overrides"]["M"]["containerOverrides"]
    assert [
        (
            container["M"]["name"]["S"],
            [
                (pair["M"]["name"]["S"], pair["M"]["value"]["S"])
                for pair in container["M"]["environment"]["L"]
            ],
        )
        for container in stored["L"]
    ] == redacted
    debug = harness.logs()[0]
    assert debug["level"] == "DEBUG" and debug["message"] == "event received"
    assert _environments(debug["detail"]["overrides"]["containerOverrides"]) == redacted
    logged = harness.stream.getvalue()
    for index in range(containers):
        assert f"password-{index}" not in logged and f"token-{index}" not in logged


def test_a_null_detail_field_is_stored_as_null_not_dropped(ec2):
    event = samples.task_event(TASK, 1)
    event["detail"]["stoppedReason"] = None
    ec2.run(event)
    assert ec2.item(TASK_TABLE, "taskArn", TASK)["stoppedReason"] == {"NULL": True}


class BrokenClient:
    """A client whose library fails before DynamoDB answers."""

    def put_item(self, **_):
        raise RuntimeError("connection pool is closed")


def _applied(harness):
    harness.run(samples.task_event(TASK, 1))


def _stale(harness):
    harness.run(samples.task_event(TASK, 1))
    harness.stream.truncate(0)
    harness.stream.seek(0)
    harness.run(samples.task_event(TASK, 1))


def _invalid(harness):
    with pytest.raises(InvalidEventError):
        harness.run({**samples.task_event(TASK, 1), "source": "aws.ec2"})


def _refused_by_dynamodb(harness):
    harness.client = RefusingClient("ValidationException")
    with pytest.raises(InvalidEventError):
        harness.run(samples.task_event(TASK, 1))


def _throttled(harness):
    harness.client = RefusingClient("ThrottlingException")
    with pytest.raises(ClientError):
        harness.run(samples.task_event(TASK, 1))


def _broken(harness):
    harness.client = BrokenClient()
    with pytest.raises(RuntimeError):
        harness.run(samples.task_event(TASK, 1))


# Alarms and log filters key on the level: every failure must be an ERROR line, and
# nothing that went as designed may be one.
# The reason says why, in words an operator can act on.
@pytest.mark.parametrize(
    ("scenario", "outcome", "level", "reason"),
    [
        (_applied, "applied", "INFO", None),
        (_stale, "stale-or-duplicate", "INFO", None),
        (_invalid, "rejected", "ERROR", "event source must be 'aws.ecs', got 'aws.ec2'"),
        (
            _refused_by_dynamodb,
            "rejected",
            "ERROR",
            "DynamoDB refused the item: ValidationException from test",
        ),
        (_throttled, "failed", "ERROR", "ThrottlingException"),
        (_broken, "failed", "ERROR", "RuntimeError"),
    ],
    ids=["applied", "stale", "invalid event", "refused by DynamoDB", "throttled", "client broke"],
)
def test_each_outcome_is_logged_at_its_level_with_its_reason(ec2, scenario, outcome, level, reason):
    scenario(ec2)
    (line,) = ec2.logs()
    assert (line["outcome"], line["level"], line["message"]) == (outcome, level, f"event {outcome}")
    assert line.get("reason") == reason
    assert line["eventId"] and line["resource"] == "task"


class ErrorWithoutCode:
    """A client error whose response carries no Error map at all."""

    def put_item(self, **_):
        raise ClientError({}, "PutItem")


def test_a_client_error_without_a_code_fails_with_its_text(ec2):
    ec2.client = ErrorWithoutCode()
    with pytest.raises(ClientError) as raised:
        ec2.run(samples.task_event(TASK, 1))
    (line,) = ec2.logs()
    assert (line["outcome"], line["reason"]) == ("failed", str(raised.value))


def test_a_refusal_without_a_message_is_still_named(ec2):
    class Refusing:
        def put_item(self, **_):
            raise ClientError({"Error": {"Code": "ValidationException"}}, "PutItem")

    ec2.client = Refusing()
    with pytest.raises(InvalidEventError):
        ec2.run(samples.task_event(TASK, 1))
    assert ec2.logs()[0]["reason"] == "DynamoDB refused the item: "


@pytest.mark.parametrize(
    "event", [["not", "an", "object"], {"source": "aws.ecs", "detail-type": "ECS Service Action"}]
)
def test_an_event_of_no_known_kind_is_logged_as_unknown(ec2, event):
    with pytest.raises(InvalidEventError):
        ec2.run(event)
    (line,) = ec2.logs()
    assert (line["resource"], line["ResourceType"]) == ("unknown", "unknown")
    assert "eventId" not in line
    if isinstance(event, dict):
        assert line["reason"] == (
            "unknown detail-type 'ECS Service Action'; expected one of "
            "'ECS Task State Change', 'ECS Container Instance State Change'"
        )


def test_an_event_without_detail_is_refused_in_those_words(ec2):
    event = samples.task_event(TASK, 1)
    del event["detail"]
    with pytest.raises(InvalidEventError) as raised:
        ec2.run(event)
    assert str(raised.value) == "event has no 'detail' object"


def test_version_zero_is_a_version(ec2):
    assert ec2.run(samples.task_event(TASK, 0))["outcome"] == "applied"
    assert ec2.item(TASK_TABLE, "taskArn", TASK)["version"] == {"N": "0"}


def test_log_lines_are_compact_json_and_write_any_value_as_text():
    stream = io.StringIO()
    Telemetry("INFO", "ECSState", "EC2", stream=stream).log("INFO", "probe", at=Decimal("1.5"))
    raw = stream.getvalue()
    # CloudWatch Logs bills by the byte: no spaces after separators.
    assert raw == '{"level":"INFO","message":"probe","at":"1.5"}\n'


class SteppingClock:
    """time for processor: real wall time, and a perf_counter that steps by a fixed amount."""

    def __init__(self, step):
        self.step = step
        self.now = 100.0

    def perf_counter(self):
        self.now += self.step
        return self.now

    @staticmethod
    def time():
        return time.time()


def test_the_line_times_the_event_in_milliseconds_and_stamps_it_in_epoch_milliseconds(
    ec2, monkeypatch
):
    from ecs_state import processor

    monkeypatch.setattr(processor, "time", SteppingClock(0.0123456))
    before = time.time() * 1000
    ec2.run(samples.task_event(TASK, 1))
    after = time.time() * 1000
    (line,) = ec2.logs()
    assert line["durationMs"] == line["ProcessingTime"] == 12.346
    assert before - 1 <= line["_aws"]["Timestamp"] <= after + 1


def test_the_metric_directive_declares_counts_and_milliseconds(ec2):
    ec2.run(samples.task_event(TASK, 1))
    (directive,) = ec2.logs()[0]["_aws"]["CloudWatchMetrics"]
    units = {metric["Name"]: metric["Unit"] for metric in directive["Metrics"]}
    assert units == {
        "Applied": "Count",
        "StaleOrDuplicate": "Count",
        "Rejected": "Count",
        "Failed": "Count",
        "ProcessingTime": "Milliseconds",
    }


def test_telemetry_from_settings_writes_its_settings_into_the_given_stream():
    from tests.handler.conftest import settings

    stream = io.StringIO()
    telemetry = Telemetry.from_settings(
        settings("FARGATE", metrics_namespace="Team/ECS"), stream=stream
    )
    telemetry.outcome(Outcome.APPLIED, "task", 1.0)
    line = json.loads(stream.getvalue())
    assert line["LaunchType"] == "FARGATE"
    assert line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Team/ECS"


def test_lambda_handler_applies_an_event_with_what_its_environment_names(
    moto_client, monkeypatch, capsys
):
    monkeypatch.setenv("LAUNCH_TYPE", "EC2")
    monkeypatch.setenv("TASK_TABLE_NAME", TASK_TABLE)
    monkeypatch.setenv("CONTAINER_INSTANCE_TABLE_NAME", INSTANCE_TABLE)
    # Settings, client and telemetry are built when the module loads, as in Lambda's init.
    monkeypatch.delitem(sys.modules, "ecs_state.handler", raising=False)
    handler = importlib.import_module("ecs_state.handler")

    result = handler.lambda_handler(samples.task_event(TASK, 4, "RUNNING"), None)

    assert result == {"outcome": "applied", "arn": TASK, "version": 4}
    stored = moto_client.get_item(TableName=TASK_TABLE, Key={"taskArn": {"S": TASK}})["Item"]
    assert stored["version"] == {"N": "4"}
    (line,) = map(json.loads, capsys.readouterr().out.splitlines())
    assert (line["outcome"], line["LaunchType"]) == ("applied", "EC2")
    assert line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "ECSState"


def test_envelope_fields_that_are_missing_empty_or_not_text_are_left_out(ec2):
    event = {**samples.task_event(TASK, 1), "id": "", "account": 111122223333}
    del event["region"], event["time"], event["detail"]["updatedAt"]
    ec2.run(event)
    item = ec2.item(TASK_TABLE, "taskArn", TASK)
    assert {"_eventId", "_account", "_region", "_eventTime"}.isdisjoint(item)
    assert item["_ingestedAt"]["S"].endswith("Z")


def _name(value: str) -> dict:
    return {"name": {"S": value}}


@pytest.mark.parametrize(
    ("overrides", "stored"),
    [
        (None, None),  # ECS leaves overrides out of some events
        ({}, {"M": {}}),
        ({"containerOverrides": None}, {"M": {"containerOverrides": {"NULL": True}}}),
        (
            {"containerOverrides": [{"name": "web", "command": ["serve"]}]},
            {
                "M": {
                    "containerOverrides": {
                        "L": [{"M": {**_name("web"), "command": {"L": [{"S": "serve"}]}}}]
                    }
                }
            },
        ),
        (
            {"containerOverrides": [{"name": "web", "environment": [{"name": "EMPTY"}]}]},
            {
                "M": {
                    "containerOverrides": {
                        "L": [
                            {"M": {**_name("web"), "environment": {"L": [{"M": _name("EMPTY")}]}}}
                        ]
                    }
                }
            },
        ),
    ],
    ids=["no overrides", "empty", "no container list", "no environment", "a name only"],
)
def test_overrides_without_values_are_stored_as_they_came(ec2, overrides, stored):
    event = samples.task_event(TASK, 1)
    if overrides is None:
        del event["detail"]["overrides"]
    else:
        event["detail"]["overrides"] = overrides
    assert ec2.run(event)["outcome"] == "applied"
    assert ec2.item(TASK_TABLE, "taskArn", TASK).get("overrides") == stored
