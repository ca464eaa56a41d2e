"""Faults between the handler and DynamoDB: retries with backoff, then Lambda's DLQ path.

Faults are injected by a botocore before-send hook (bench/faults.py) on the handler's own
client, so the handler code and its retry configuration run unchanged against DynamoDB
Local. botocore's backoff pauses are recorded instead of slept, to keep the tests fast;
`python -m bench.run` sleeps them for real in its faulted stream.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from bench import faults
from bench.local import LAMBDA_RETRIES
from bench.stream import StreamShape, build_stream
from ecs_state.events import parse
from ecs_state.items import build_item
from ecs_state.processor import process_event
from ecs_state.telemetry import Outcome
from scripts import ecs_events as samples
from tests.handler.local import handler_client, local_settings, quiet_telemetry
from tests.support.tables import local_client

pytestmark = pytest.mark.dynamodb_local

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


@dataclass
class Verdict:
    """The checks a faulted run must pass; every list is empty when it does."""

    unaccounted: list[int]  # deliveries neither processed nor dead-lettered
    wrong_version: list[tuple[str, int | None, int | None]]  # (ARN, stored, expected)
    not_superseded: list[tuple[str, int, int | None]]  # processed event above the stored one
    half_written: list[tuple[str, list[str]]]  # stored item differs from its event's item

    @property
    def ok(self) -> bool:
        return not (
            self.unaccounted or self.wrong_version or self.not_superseded or self.half_written
        )


def verify(
    deliveries: list[dict[str, Any]],
    result: faults.LambdaResult,
    injector: faults.FaultInjector | None,
    stored: dict[str, dict[str, Any]],
    expected_item: Callable[[dict[str, Any]], dict[str, Any]],
) -> Verdict:
    """Check a run against what DynamoDB was really asked to apply.

    - every delivery was processed (applied or stale/duplicate) or dead-lettered;
    - every ARN's stored version is the highest version DynamoDB accepted a write for:
      events whose invocation succeeded with ``applied`` plus writes that landed behind a
      lost response (read timeouts); ARNs with no accepted write are absent;
    - every processed event is at or below its ARN's stored version;
    - every stored item is exactly the item of its event (metadata time aside).
    """
    by_delivery = dict(enumerate(deliveries))
    dead = {delivery for delivery, _, _ in result.dead_letters}
    unaccounted = sorted(set(by_delivery) - set(result.outcomes) - dead)

    accepted: dict[str, int] = {}
    events_by_version: dict[tuple[str, int], dict[str, Any]] = {}
    for delivery, event in by_delivery.items():
        arn, version = faults.arn_version(event)
        events_by_version[(arn, version)] = event
        if result.outcomes.get(delivery) == Outcome.APPLIED:
            accepted[arn] = max(accepted.get(arn, version), version)
    if injector is not None:
        for invocation in injector.invocations:
            if any(send.applied for send in invocation.sends):
                arn, version = invocation.arn, invocation.version
                accepted[arn] = max(accepted.get(arn, version), version)

    arns = {faults.arn_version(event)[0] for event in deliveries}
    wrong_version = []
    for arn in sorted(arns):
        item = stored.get(arn)
        have = int(item["version"]["N"]) if item else None
        if have != accepted.get(arn):
            wrong_version.append((arn, have, accepted.get(arn)))

    not_superseded = []
    for delivery, outcome in result.outcomes.items():
        arn, version = faults.arn_version(by_delivery[delivery])
        item = stored.get(arn)
        have = int(item["version"]["N"]) if item else None
        if outcome in (Outcome.APPLIED, Outcome.STALE) and (have is None or have < version):
            not_superseded.append((arn, version, have))

    half_written = []
    for arn, item in stored.items():
        event = events_by_version.get((arn, int(item["version"]["N"])))
        if event is None:
            half_written.append((arn, ["no such event"]))
            continue
        wanted = expected_item(event)
        differing = sorted(
            name
            for name in set(wanted) | set(item)
            if name != "_ingestedAt" and wanted.get(name) != item.get(name)
        )
        if differing:
            half_written.append((arn, differing))
    return Verdict(unaccounted, wrong_version, not_superseded, half_written)


@pytest.mark.parametrize("kind", faults.KINDS)
def test_every_attempt_failing_retries_with_backoff_then_raises(local_tables, backoff, kind):
    settings = local_settings(local_tables)
    event = samples.task_event(samples.task_arn(uuid.uuid4().hex), 7, "RUNNING")
    arn = event["detail"]["taskArn"]
    injector = faults.FaultInjector(seed=1, doomed={(arn, 7): kind})
    result = faults.run_deliveries(
        [event],
        _process_for(settings, local_tables["endpoint"], injector),
        injector,
        LAMBDA_RETRIES,
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
    verdict = verify([event], result, injector, stored, _expected_item(settings))
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
    hot_arn = stream.hot[0]
    doomed = faults.doomed_events(
        stream,
        (
            faults.THROUGHPUT_EXCEEDED,
            faults.SERVER_ERROR,
            faults.READ_TIMEOUT,
            faults.CONNECT_TIMEOUT,
        ),
        seed=5,
    )
    injector = faults.FaultInjector(seed=3, rate=0.3, doomed=doomed)
    endpoint = local_tables["endpoint"]
    result = faults.run_deliveries(
        deliveries, _process_for(settings, endpoint, injector), injector, LAMBDA_RETRIES, workers=4
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
    verdict = verify(deliveries, result, injector, stored, _expected_item(settings))
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
        LAMBDA_RETRIES,
        workers=2,
    )
    assert redriven.dead_letters == []
    stored = _stored(reader, settings, arns)
    assert {arn: int(item["version"]["N"]) for arn, item in stored.items()} == {
        arn: version for arn, (_, version) in stream.latest.items()
    }
    complete = verify(
        deliveries,
        faults.LambdaResult(outcomes=dict.fromkeys(range(len(deliveries)), Outcome.STALE)),
        None,
        stored,
        _expected_item(settings),
    )
    assert complete.half_written == []
    assert complete.not_superseded == []
