"""Item building, retention and the write condition, as pure functions."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ecs_state import attributes, events, items
from ecs_state.config import Settings
from ecs_state.errors import InvalidEventError
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


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (int("9" * 38), "9" * 38),  # 38 significant digits, DynamoDB's most
        (1e125, "1E+125"),  # the largest magnitude's exponent
        (-1e125, "-1E+125"),
        (1e-130, "1E-130"),  # the smallest
        (Decimal("1.50"), "1.50"),  # Decimal values (the reconciler's) keep their text
    ],
)
def test_numbers_at_dynamodbs_limits_are_kept(value, text):
    assert attributes.to_attribute(value, "x") == {"N": text}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (int("9" * 39), "x has 39 significant digits; DynamoDB keeps at most 38"),
        (1e126, "x = 1e+126 is outside DynamoDB's number range"),
        (1e-131, "x = 1e-131 is outside DynamoDB's number range"),
        (datetime(2026, 1, 1, tzinfo=UTC), "x has a value of type datetime that JSON cannot"),
    ],
)
def test_values_dynamodb_cannot_store_are_named(value, message):
    with pytest.raises(InvalidEventError, match=re.escape(message)):
        attributes.to_attribute(value, "x")


def _nested(levels, container):
    """A value `levels` deep, counting the attribute itself as level 1."""
    value = "bottom"
    for _ in range(levels - 1):
        value = {"d": value} if container == "map" else [value]
    return value


@pytest.mark.parametrize("container", ["map", "list"])
def test_values_nest_up_to_dynamodbs_32_levels(container):
    assert attributes.to_attribute(_nested(32, container), "x")
    with pytest.raises(InvalidEventError, match="nested deeper than DynamoDB's 32 levels"):
        attributes.to_attribute(_nested(33, container), "x")


def test_error_paths_name_the_nested_field():
    with pytest.raises(InvalidEventError, match=re.escape("x.scores[1] is nan")):
        attributes.to_attribute({"scores": [1, float("nan")]}, "x")
    with pytest.raises(InvalidEventError, match=re.escape("x[0].ratio is inf")):
        attributes.to_attribute([{"ratio": float("inf")}], "x")


# DynamoDB counts a number as about one byte per two significant digits plus one, a list
# or map as 3 bytes plus 1 per element (plus the key, for a map). The package rounds the
# number's share up: one byte per two characters of its text, plus two.
@pytest.mark.parametrize(
    ("item", "size"),
    [
        ({"n": {"N": "12345"}}, 1 + (2 + 2)),
        ({"n": {"N": "-1.5"}}, 1 + (2 + 2)),
        ({"l": {"L": [{"S": "ab"}, {"N": "1"}]}}, 1 + 3 + (1 + 2) + (1 + 0 + 2)),
        (
            {"m": {"M": {"k": {"S": "v"}, "flag": {"BOOL": True}}}},
            1 + 3 + (1 + 1 + 1) + (1 + 4 + 1),
        ),
        ({"e": {"L": []}, "z": {"M": {}}, "u": {"NULL": True}}, (1 + 3) + (1 + 3) + (1 + 1)),
    ],
)
def test_item_size_follows_dynamodbs_accounting_for_numbers_lists_and_maps(item, size):
    assert attributes.item_size(item) == size


def test_an_item_of_exactly_the_size_limit_is_kept_and_one_byte_more_is_not():
    event = samples.task_event(TASK, 3)
    settings = Settings(launch_type="EC2", task_table="t", container_instance_table="c")
    event["detail"]["blob"] = ""
    base = attributes.item_size(items.build_item(change(event), settings, now=0))
    event["detail"]["blob"] = "x" * (attributes.MAX_ITEM_BYTES - base)
    assert attributes.item_size(items.build_item(change(event), settings, now=0)) == 409_600
    event["detail"]["blob"] += "x"
    with pytest.raises(InvalidEventError, match="would be 409601 bytes"):
        items.build_item(change(event), settings, now=0)


def test_items_the_reconciler_writes_say_so():
    parsed = replace(change(samples.task_event(TASK, 3)), source="reconcile")
    settings = Settings(launch_type="EC2", task_table="t", container_instance_table="c")
    assert items.build_item(parsed, settings, now=0)["_source"] == {"S": "reconcile"}
    assert "_source" not in items.build_item(change(samples.task_event(TASK, 3)), settings, now=0)


def test_event_time_is_the_envelopes_time_when_it_has_one():
    event = samples.task_event(TASK, 3, "STOPPED", time=samples.BASE_TIME + timedelta(hours=1))
    event["detail"]["updatedAt"] = samples.iso(samples.BASE_TIME)
    parsed = change(event, ttl_days=1)
    assert parsed.event_time == (samples.BASE_TIME + timedelta(hours=1)).timestamp()
