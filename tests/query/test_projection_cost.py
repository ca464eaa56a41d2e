"""The projection benchmark's arithmetic, and why the default projection is the one it is."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench import projection
from ecs_state.attributes import item_size, to_attribute
from ecs_state.events import CONTAINER_INSTANCE, KIND_BY_NAME, TASK
from ecs_state.query import CONTAINER_INSTANCE_LISTING, INDEX_INCLUDE, TASK_LISTING
from tests.support.tables import client

ROOT = Path(__file__).resolve().parents[2]


def test_the_module_projects_what_the_reader_expects():
    """main.tf states the INCLUDE lists for Terraform; they must be the reader's."""
    main_tf = (ROOT / "main.tf").read_text()
    for kind_name, module_kind in ((TASK, "task"), (CONTAINER_INSTANCE, "container_instance")):
        block = re.search(rf"\n    {module_kind} = {{\n(.*?)\n    }}", main_tf, re.S)
        assert block, f"main.tf has no table_kinds.{module_kind} block"
        include = re.search(r"include\s*=\s*\[(.*?)\]", block[1], re.S)
        assert include, f"table_kinds.{module_kind} in main.tf has no include list"
        assert re.findall(r'"([^"]+)"', include[1]) == list(INDEX_INCLUDE[kind_name])


def test_the_default_projection_answers_every_listing_alone():
    for kind_name, listing in (
        (TASK, TASK_LISTING),
        (CONTAINER_INSTANCE, CONTAINER_INSTANCE_LISTING),
    ):
        held = {*INDEX_INCLUDE[kind_name], KIND_BY_NAME[kind_name].status_field}
        assert set(listing) <= held, kind_name


def default_entry_size(name_length: int) -> int:
    """Index entry of a task whose cluster, family and service names have name_length
    characters, every other projected value at its realistic longest."""
    name = "n" * name_length
    prefix = "arn:aws:ecs:ap-southeast-2:111122223333"
    task = f"{prefix}:task/{name}/{'f' * 32}"
    entry = {
        "taskArn": task,
        "clusterArn": f"{prefix}:cluster/{name}",
        "lastStatus": "DEPROVISIONING",
        "desiredStatus": "RUNNING",
        "version": 2**40,
        "taskDefinitionArn": f"{prefix}:task-definition/{name}:9999",
        "group": f"service:{name}",
        "startedBy": "ecs-svc/1234567890123456789",
        "launchType": "EXTERNAL",
        "containerInstanceArn": task.replace(":task/", ":container-instance/"),
        "_eventTime": "2026-11-01T12:00:00.000Z",
        "_missingSince": "2026-11-01T12:00:00.000Z",
    }
    assert set(entry) - {"taskArn", "clusterArn", "lastStatus"} <= set(INDEX_INCLUDE[TASK])
    return item_size({key: to_attribute(value, key) for key, value in entry.items()})


def test_the_default_index_entry_is_one_write_unit_for_names_up_to_64_characters():
    """What the README promises: one unit per entry (two per status change) while cluster,
    family and service names stay within 64 characters, even with the 100 bytes the
    documentation adds per index entry for storage. ECS allows 255; such names make it two."""
    assert default_entry_size(64) + 100 <= 1024
    assert default_entry_size(255) > 1024


@pytest.mark.dynamodb_local
@pytest.mark.parametrize("subject", projection.SUBJECTS, ids=lambda subject: subject.label)
def test_documented_accounting_matches_what_dynamodb_local_reports(dynamodb_local, subject):
    rows = projection.measure_writes(client("dynamodb", dynamodb_local.endpoint), subject)
    assert len(rows) == len(projection.projections(subject.kind_name)) * 3
    for row in rows:
        local = (row.local_table, row.local_index)
        assert local == (row.documented_table, row.documented_index), row
    by = {(row.projection, row.write.split(" (")[0]): row for row in rows}
    # A status change moves the entry (delete + put); an unchanged status with a newer
    # version rewrites it in place; KEYS_ONLY holds nothing that changed.
    assert by[projection.INCLUDE, projection.STATUS_CHANGE].local_index == 2
    assert by[projection.INCLUDE, projection.SAME_STATUS].local_index == 1
    assert by["KEYS_ONLY", projection.SAME_STATUS].local_index == 0
    all_change = by["ALL", projection.STATUS_CHANGE]
    assert all_change.local_index == 2 * by["ALL", projection.NEW_ITEM].local_table
