"""Facts that Terraform and the Python package must both state, checked to agree.

variables.tf validates what the function will accept (launch types, log levels, the TTL
bound) and main.tf shapes the tables the package reads and writes (keys, status index).
"""

from __future__ import annotations

import re

from ecs_state import config, events
from tests.module.emulated import ROOT

VARIABLES = (ROOT / "variables.tf").read_text()
MAIN = (ROOT / "main.tf").read_text()


def validation_list(variable: str) -> list[str]:
    """The values of `contains([...], var.<variable>)` in the variable's validation."""
    match = re.search(r"contains\(\[([^\]]*)\], var\." + variable + r"\)", VARIABLES)
    assert match, f"no contains([...]) validation for {variable}"
    return re.findall(r'"([^"]+)"', match.group(1))


def test_launch_types_agree():
    assert validation_list("launch_type") == list(config.LAUNCH_TYPES)


def test_log_levels_agree():
    assert validation_list("log_level") == list(config.LOG_LEVELS)


def test_ttl_bound_agrees():
    (bound,) = re.findall(r"var\.ttl_days <= (\d+)", VARIABLES)
    assert int(bound) == config.TTL_DAYS_MAX


def test_table_keys_status_fields_and_index_agree():
    assert re.search(rf'status_index_name = "{events.STATUS_INDEX}"', MAIN)
    assert re.search(rf'hash_key\s+= "{events.CLUSTER_FIELD}"', MAIN)
    for kind_name in ("task", "container_instance"):
        block = re.search(rf"\n    {kind_name} = \{{(.*?)\n    \}}", MAIN, re.S)
        assert block, kind_name
        key = re.search(r'key\s+= "(\w+)"', block.group(1)).group(1)
        status = re.search(r'status\s+= "(\w+)"', block.group(1)).group(1)
        kind = events.KIND_BY_NAME[kind_name.replace("_", "-")]
        assert (key, status) == (kind.key, kind.status_field)
