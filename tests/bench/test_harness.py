"""The benchmark's yardsticks measure what they claim: baseline shape, requests, stream."""

from __future__ import annotations

import uuid

import boto3
import pytest

from bench import baseline
from bench.instrument import RequestStats, instrument
from bench.stream import StreamShape, build_stream, key_of
from ecs_state.events import parse
from ecs_state.items import build_item
from ecs_state.processor import process_event
from scripts import ecs_events as samples
from tests.handler.local import endpoint_env, handler_client, local_settings, quiet_telemetry

NOW = 1_793_000_000.0


@pytest.mark.parametrize(
    "event",
    [
        samples.task_event(samples.task_arn("a1"), 4, "RUNNING", launch_type="EC2"),
        samples.task_event(samples.task_arn("a2"), 9, "STOPPED", launch_type=None),
        samples.container_instance_event(samples.container_instance_arn("b1"), 3),
    ],
    ids=["task", "spot-task", "container-instance"],
)
def test_baseline_writes_the_handlers_item(event):
    settings = local_settings({"task": "t", "container_instance": "c"})
    assert baseline.build_item(event, NOW) == build_item(parse(event, settings), settings, NOW)


def test_stream_is_seeded_duplicated_shuffled_and_has_hot_resources():
    shape = StreamShape(resources=30, hot_resources=2, hot_versions=20)
    first, again = build_stream(42, shape), build_stream(42, shape)
    assert first.deliveries == again.deliveries
    assert build_stream(43, shape).deliveries != first.deliveries
    assert len(first.deliveries) > first.distinct  # at-least-once: some copies
    order = [key_of(event) for event in first.deliveries]
    per_arn: dict[str, list[int]] = {}
    for _, arn, version in order:
        per_arn.setdefault(arn, []).append(version)
    assert any(versions != sorted(versions) for versions in per_arn.values())  # out of order
    for arn in first.hot:
        assert len(set(per_arn[arn])) == 20
    assert {arn: max(versions) for arn, versions in per_arn.items()} == {
        arn: version for arn, (_, version) in first.latest.items()
    }


@pytest.mark.dynamodb_local
def test_requests_per_event_handler_one_baseline_get_then_put(local_tables):
    settings = local_settings(local_tables)
    endpoint = local_tables["endpoint"]
    first = samples.task_event(samples.task_arn(uuid.uuid4().hex), 2)
    newer = samples.task_event(first["detail"]["taskArn"], 3)

    client = handler_client(settings, endpoint)
    handler_stats = RequestStats()
    instrument(client.meta.events, handler_stats)
    telemetry = quiet_telemetry(settings)
    sent = []
    for event in (first, first, newer):
        before = handler_stats.sent
        process_event(event, settings, client, telemetry)
        sent.append(handler_stats.sent - before)
    assert sent == [1, 1, 1]  # applied, duplicate, applied: one PutItem each
    assert handler_stats.write_units > 0  # capacity reported through the injected parameter

    other = samples.task_event(samples.task_arn(uuid.uuid4().hex), 2)
    session = boto3.session.Session()
    baseline_stats = RequestStats()
    instrument(session.events, baseline_stats)
    tables = baseline.Tables(local_tables["task"], local_tables["container_instance"])
    outcomes, sent = [], []
    with endpoint_env(endpoint):
        for event in (other, other):
            before = baseline_stats.sent
            outcomes.append(baseline.handle(event, tables, session=session, log=_Discard()))
            sent.append(baseline_stats.sent - before)
    assert outcomes == ["applied", "stale-or-duplicate"]
    assert sent == [2, 1]  # GetItem + PutItem, then GetItem alone
    assert baseline_stats.sent_by_operation == {"GetItem": 2, "PutItem": 1}
    assert baseline_stats.read_units > 0


class _Discard:
    def write(self, text: str) -> int:
        return len(text)


def test_the_baselines_outcomes_are_the_handlers():
    from ecs_state.telemetry import Outcome

    assert (baseline.APPLIED, baseline.STALE) == (Outcome.APPLIED, Outcome.STALE)
