"""Faults between the handler and DynamoDB: retries with backoff, then Lambda's DLQ path.

Faults are injected by a botocore before-send hook (bench/faults.py) on the handler's own
client, so the handler code and its retry configuration run unchanged against DynamoDB
Local. botocore's backoff pauses are recorded instead of slept, to keep the tests fast;
`python -m bench.run` sleeps them for real in its faulted stream.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator

import pytest

from bench import faults
from bench.stream import StreamShape, build_stream
from ecs_state.events import parse
from ecs_state.items import build_item
from ecs_state.processor import process_event
from scripts import ecs_events as samples
from tests.conftest import local_client
from tests.handler.local import handler_client, local_settings, quiet_telemetry

pytestmark = pytest.mark.dynamodb_local

LAMBDA_RETRIES = 2  # the module's default lambda_maximum_retry_attempts
# botocore standard mode: pause before retry i is rand(0, 1) * min(scale * 2 ** (i - 1), 20 s),
# with scale 1 s after throttling and 25 ms after other errors on DynamoDB.
BACKOFF_SCALE = {
    faults.THROUGHPUT_EXCEEDED: 1.0,
    faults.THROTTLING: 1.0,
    faults.SERVER_ERROR: 0.025,
    faults.CONNECT_TIMEOUT: 0.025,
    faults.READ_TIMEOUT: 0.025,
}
ERROR_SEEN = {
    faults.THROUGHPUT_EXCEEDED: "ProvisionedThroughputExceededException",
    faults.THROTTLING: "ThrottlingException",
    faults.SERVER_ERROR: "InternalServerError",
    faults.CONNECT_TIMEOUT: "ConnectTimeoutError",
    faults.READ_TIMEOUT: "ReadTimeoutError",
}


@pytest.fixture
def backoff() -> Iterator[list[float]]:
    with faults.recorded_backoff() as pauses:
        yield pauses


def _process_for(settings, endpoint, injector):
    def make(_worker: int):
        client = handler_client(settings, endpoint)
        injector.attach(client)
        telemetry = quiet_telemetry(settings)
        return lambda event: process_event(event, settings, client, telemetry)

    return make


def _total_attempts(settings, endpoint) -> int:
    return handler_client(settings, endpoint).meta.config.retries["total_max_attempts"]


def _stored(reader, settings, arns) -> dict:
    found = {}
    for arn in arns:
        is_task = ":task/" in arn
        table = settings.task_table if is_task else settings.container_instance_table
        key = "taskArn" if is_task else "containerInstanceArn"
        item = reader.get_item(TableName=table, Key={key: {"S": arn}}, ConsistentRead=True)
        if "Item" in item:
            found[arn] = item["Item"]
    return found


def _expected_item(settings):
    return lambda event: build_item(parse(event, settings), settings, time.time())


@pytest.mark.parametrize("kind", faults.KINDS)
def test_every_attempt_failing_retries_with_backoff_then_raises(local_tables, backoff, kind):
    settings = local_settings(local_tables)
    event = samples.task_event(samples.task_arn(uuid.uuid4().hex), 7, "RUNNING")
    arn = event["detail"]["taskArn"]
    injector = faults.FaultInjector(seed=1, doomed={(arn, 7): kind})
    result = faults.run_deliveries(
        [event], _process_for(settings, local_tables["endpoint"], injector), injector
    )

    # Each invocation sends as many attempts as the handler's client is configured for,
    # then raises; Lambda retries it, then the DLQ takes it.
    attempts = _total_attempts(settings, local_tables["endpoint"])
    assert attempts > 1
    assert [len(i.sends) for i in injector.invocations] == [attempts] * (1 + LAMBDA_RETRIES)
    assert [i.error for i in injector.invocations] == [ERROR_SEEN[kind]] * (1 + LAMBDA_RETRIES)
    assert result.raised == 1 + LAMBDA_RETRIES
    assert [(delivery, errors) for delivery, _, errors in result.dead_letters] == [
        (0, [ERROR_SEEN[kind]] * (1 + LAMBDA_RETRIES))
    ]
    assert result.outcomes == {}

    # Exponential backoff with full jitter: pause i is at most min(scale * 2 ** (i - 1), 20 s).
    retries = attempts - 1
    assert len(backoff) == retries * (1 + LAMBDA_RETRIES)
    caps = [min(BACKOFF_SCALE[kind] * 2 ** (i % retries), 20.0) for i in range(len(backoff))]
    assert all(0 <= pause <= cap for pause, cap in zip(backoff, caps, strict=True))
    assert sum(backoff) > 0

    # Nothing half-written: absent, or (read timeout: the first write landed, its answer
    # was lost) the complete item of the event.
    stored = _stored(local_client(local_tables["endpoint"]), settings, [arn])
    verdict = faults.verify([event], result, injector, stored, _expected_item(settings))
    assert verdict.ok, verdict
    if kind == faults.READ_TIMEOUT:
        assert stored[arn]["version"] == {"N": "7"}
        assert sum(send.applied for i in injector.invocations for send in i.sends) == 1
    else:
        assert stored == {}


def test_faulted_stream_ends_applied_or_dead_lettered_then_redrive_completes(local_tables, backoff):
    settings = local_settings(local_tables)
    stream = build_stream(
        20261122,
        StreamShape(resources=40, hot_resources=2, hot_versions=25, cold_versions=(2, 6)),
    )
    deliveries = stream.deliveries
    assert len(deliveries) >= 250
    # Four events fail on every send, one of them the latest version of a hot resource.
    rng = random.Random(5)
    hot_arn = stream.hot[0]
    doomed_events = [(hot_arn, stream.latest[hot_arn][1])]
    doomed_events += rng.sample(sorted(set(stream.events) - set(doomed_events)), 3)
    doomed = dict(
        zip(
            doomed_events,
            [
                faults.THROUGHPUT_EXCEEDED,
                faults.SERVER_ERROR,
                faults.READ_TIMEOUT,
                faults.CONNECT_TIMEOUT,
            ],
            strict=True,
        )
    )
    injector = faults.FaultInjector(seed=3, rate=0.3, doomed=doomed)
    endpoint = local_tables["endpoint"]
    result = faults.run_deliveries(
        deliveries, _process_for(settings, endpoint, injector), injector, workers=4
    )

    # Faults of every kind were injected, many invocations recovered by retrying, and
    # those that could not raised and went through Lambda's retries to the DLQ.
    assert set(injector.injected) == set(faults.KINDS)
    recovered = [i for i in injector.invocations if len(i.sends) > 1 and i.outcome is not None]
    assert len(recovered) >= 20
    assert result.raised > 0
    dead = {delivery for delivery, _, _ in result.dead_letters}
    doomed_deliveries = {
        index for index, event in enumerate(deliveries) if faults.arn_version(event) in doomed
    }
    assert doomed_deliveries <= dead
    assert len(result.outcomes) + len(dead) == len(deliveries)

    # Every event is applied (or superseded) in the table, or dead-lettered; the table
    # holds exactly the highest version DynamoDB accepted per resource, complete.
    reader = local_client(endpoint)
    arns = list(stream.latest)
    stored = _stored(reader, settings, arns)
    verdict = faults.verify(deliveries, result, injector, stored, _expected_item(settings))
    assert verdict.ok, verdict
    hot_item = stored.get(hot_arn)
    assert hot_item is None or int(hot_item["version"]["N"]) < stream.latest[hot_arn][1], (
        "the doomed latest version must be waiting in the DLQ, not in the table"
    )

    # Redrive the DLQ with the faults gone: the table becomes the max-version state of
    # the whole stream.
    injector.enabled = False
    redriven = faults.run_deliveries(
        [event for _, event, _ in result.dead_letters],
        _process_for(settings, endpoint, injector),
        None,
        workers=2,
    )
    assert redriven.dead_letters == []
    stored = _stored(reader, settings, arns)
    assert {arn: int(item["version"]["N"]) for arn, item in stored.items()} == {
        arn: version for arn, (_, version) in stream.latest.items()
    }
    complete = faults.verify(
        deliveries,
        faults.LambdaResult(outcomes=dict.fromkeys(range(len(deliveries)), "stale-or-duplicate")),
        None,
        stored,
        _expected_item(settings),
    )
    assert complete.half_written == []
    assert complete.not_superseded == []
