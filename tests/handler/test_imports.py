"""The handler adds nothing to what `import boto3` plus one client already loads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FUNCTION_DIR = Path(__file__).resolve().parents[2] / "function"
ENV = {
    "LAUNCH_TYPE": "EC2",
    "TASK_TABLE_NAME": "t",
    "CONTAINER_INSTANCE_TABLE_NAME": "c",
    "AWS_DEFAULT_REGION": "us-east-1",
    "PATH": "/usr/bin:/bin",
    "PYTHONDONTWRITEBYTECODE": "1",  # nothing written into the package
}

PROBE = """
import json, sys
before = set(sys.modules)
{body}
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def loaded(body: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(body=body)],
        cwd=FUNCTION_DIR,
        env=ENV,
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(result.stdout))


def test_handler_loads_only_stdlib_boto3_botocore_and_itself():
    baseline = loaded("import boto3\nboto3.client('dynamodb')")
    handler = loaded("import ecs_state.handler")
    extra = handler - baseline
    foreign = {
        m
        for m in extra
        if m.split(".")[0] not in sys.stdlib_module_names and m.split(".")[0] != "ecs_state"
    }
    assert foreign == set(), f"the handler imports third-party modules: {sorted(foreign)}"
    assert "ecs_state.handler" in extra and "ecs_state.store" in extra, (
        "probe did not import the handler"
    )
