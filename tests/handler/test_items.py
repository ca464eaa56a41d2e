"""Item building, retention and the write condition, as pure functions."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from ecs_state import attributes, events, items
from ecs_state.config import Settings
from ecs_state.store import Condition
from scripts import ecs_events as samples

DAY = 86_400
TASK = samples.task_arn("a1")
INSTANCE = samples.container_instance_arn("i1")


def change(event, **settings):
    return events.parse(
        event, Settings(launch_type="EC2", task_table="t", container_instance_table="c", **settings)
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.1, "0.1"),
        (1.5e-7, "1.5E-7"),
        (2.0, "2.0"),
        (100, "100"),
        (-3, "-3"),
        (10**37, str(10**37)),
        (0, "0"),
        (0.0, "0"),
    ],
)
def test_numbers_keep_their_exact_decimal_text(value, text):
    assert attributes.to_attribute(value, "x") == {"N": text}


@pytest.mark.parametrize(
    ("event", "terminal"),
    [
        (samples.task_event(TASK, 9, "STOPPED"), True),
        (samples.task_event(TASK, 3, "RUNNING"), False),
        (samples.container_instance_event(INSTANCE, 4, "INACTIVE"), True),
        (samples.container_instance_event(INSTANCE, 4, "DRAINING"), False),
    ],
)
def test_only_terminal_records_expire(event, terminal):
    parsed = change(event, ttl_days=7)
    expected = int(parsed.event_time) + 7 * DAY if terminal else None
    assert (
        items.expiry(
            parsed,
            Settings(launch_type="EC2", task_table="t", container_instance_table="c", ttl_days=7),
        )
        == expected
    )
    item = items.build_item(
        parsed,
        Settings(launch_type="EC2", task_table="t", container_instance_table="c", ttl_days=7),
        now=parsed.event_time,
    )
    assert ("_expiresAt" in item) is terminal


def test_no_expiry_when_ttl_is_off():
    parsed = change(samples.task_event(TASK, 9, "STOPPED"))
    assert (
        items.expiry(
            parsed, Settings(launch_type="EC2", task_table="t", container_instance_table="c")
        )
        is None
    )


def test_condition_refuses_inserts_for_events_older_than_the_window():
    settings = Settings(launch_type="EC2", task_table="t", container_instance_table="c", ttl_days=7)
    parsed = change(samples.task_event(TASK, 3))
    insert_or_newer = Condition.insert_or_newer("taskArn", parsed.version)
    newer_only = Condition.newer_only(parsed.version)
    assert items.condition(parsed, settings, now=parsed.event_time + DAY) == insert_or_newer
    assert items.condition(parsed, settings, now=parsed.event_time + 7 * DAY) == newer_only
    no_ttl = Settings(launch_type="EC2", task_table="t", container_instance_table="c")
    assert items.condition(parsed, no_ttl, now=parsed.event_time + 999 * DAY) == insert_or_newer


def test_conditions_name_exactly_the_placeholders_their_expression_uses():
    for condition in (Condition.insert_or_newer("taskArn", 3), Condition.newer_only(3)):
        used = set(re.findall(r"[#:][A-Za-z]+", condition.expression))
        assert used == set(condition.names) | set(condition.values), condition


def test_event_time_falls_back_to_updated_at():
    event = samples.task_event(TASK, 3, time=samples.BASE_TIME + timedelta(hours=1))
    del event["time"]
    assert change(event).event_time == (samples.BASE_TIME + timedelta(hours=1)).timestamp()


def test_item_size_matches_dynamodb_accounting_for_strings_and_names():
    assert attributes.item_size({"ab": {"S": "xyz"}, "n": {"BOOL": True}}) == 2 + 3 + 1 + 1
