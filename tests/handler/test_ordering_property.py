"""Property: any delivery order, with duplicates, ends in the max-version state."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecs_state.processor import process_event
from scripts import ecs_events as samples
from tests.handler.local import RequestCounter, handler_client, local_settings, quiet_telemetry
from tests.support.tables import local_client

pytestmark = pytest.mark.dynamodb_local
INSTANCE_STATUSES = ["REGISTERING", "ACTIVE", "DRAINING", "ACTIVE", "DEREGISTERING", "INACTIVE"]


@st.composite
def delivery_streams(draw):
    """(resource index, version) pairs: every version at least once, some twice, any order."""
    resources = draw(st.integers(min_value=1, max_value=4))
    versions = {
        index: draw(st.lists(st.integers(0, 30), min_size=1, max_size=5, unique=True))
        for index in range(resources)
    }
    deliveries = [(index, version) for index, vs in versions.items() for version in vs]
    duplicates = draw(st.lists(st.sampled_from(deliveries), max_size=6))
    return draw(st.permutations(deliveries + duplicates))


def status(index: int, version: int) -> str:
    """A payload that is a function of (resource, version): duplicates are identical."""
    names = samples.TASK_STATUSES if index % 2 == 0 else INSTANCE_STATUSES
    return names[version % len(names)]


def event_for(prefix: str, index: int, version: int) -> dict:
    if index % 2 == 0:
        return samples.task_event(
            samples.task_arn(f"{prefix}-{index}"), version, status(index, version)
        )
    return samples.container_instance_event(
        samples.container_instance_arn(f"{prefix}-{index}"), version, status(index, version)
    )


@pytest.fixture(scope="module")
def harness(local_tables):
    config = local_settings(local_tables)
    client = handler_client(config, local_tables["endpoint"])
    return (
        config,
        client,
        RequestCounter(client),
        quiet_telemetry(config),
        local_client(local_tables["endpoint"]),
    )


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=delivery_streams())
def test_final_state_is_the_max_version_state(harness, stream):
    config, client, counter, telemetry, reader = harness
    prefix = uuid.uuid4().hex
    sent_before = counter.count
    for index, version in stream:
        process_event(event_for(prefix, index, version), config, client, telemetry)
    assert counter.count - sent_before == len(stream), "exactly one request per event"

    latest = {}
    for index, version in stream:
        latest[index] = max(latest.get(index, -1), version)
    for index, version in latest.items():
        if index % 2 == 0:
            table, key, arn = config.task_table, "taskArn", samples.task_arn(f"{prefix}-{index}")
            field = "lastStatus"
        else:
            table, key = config.container_instance_table, "containerInstanceArn"
            arn, field = samples.container_instance_arn(f"{prefix}-{index}"), "status"
        item = reader.get_item(TableName=table, Key={key: {"S": arn}}, ConsistentRead=True)["Item"]
        assert (int(item["version"]["N"]), item[field]["S"]) == (version, status(index, version))
