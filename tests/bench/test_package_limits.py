"""The function package's limits, asserted on the committed function.zip the module deploys.

tests/module/test_package.py keeps function.zip a fresh build of function/ and checks its
contents; tests/handler/test_imports.py checks that the handler loads no module beyond
`import boto3` + one client and its own package. What is left to bound is the size and
what the package's own code costs at import.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import zipfile

from tools.package import PACKAGE

# The members are stored uncompressed (tools/package.py says why), so this bounds the source
# the function ships: several times today's ~110 KB means something other than this package's
# own modules got in. Lambda itself takes zips up to 50 MB.
ZIP_LIMIT_BYTES = 512 * 1024
# Handler import at most 1.1 x (import boto3 + one DynamoDB client).
IMPORT_OVERHEAD_LIMIT = 0.10
ROUNDS = 5

# CPU time of the process, not wall-clock time: on a busy machine the wall clock moves by
# tens of percent between runs, the process's own CPU time by a few. The probe builds the
# one client first and hands it to the handler in place of its own, so what is left is
# exactly what the handler adds: compiling and running its modules, reading its settings.
PROBE = """
import json, sys, time
clock = time.process_time
started = clock()
import boto3
client = boto3.client("dynamodb")
reference = clock()
boto3.client = lambda *args, **kwargs: client
import ecs_state.handler
added = clock() - reference
assert ecs_state.handler.CLIENT is client and ecs_state.handler.__file__.startswith(sys.argv[1])
print(json.dumps([reference - started, added]))
"""


def test_committed_zip_is_under_512_kb():
    size = PACKAGE.stat().st_size
    assert size < ZIP_LIMIT_BYTES, f"function.zip is {size:,} bytes"


def test_handler_import_costs_at_most_a_tenth_more_than_boto3_and_one_client(tmp_path):
    with zipfile.ZipFile(PACKAGE) as archive:
        archive.extractall(tmp_path)
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(tmp_path),
        # As in Lambda, whose package directory is read-only: the package is compiled on
        # every cold start, while boto3 comes precompiled.
        "PYTHONDONTWRITEBYTECODE": "1",
        "LAUNCH_TYPE": "EC2",
        "TASK_TABLE_NAME": "tasks",
        "CONTAINER_INSTANCE_TABLE_NAME": "instances",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    shares = []
    for _ in range(ROUNDS):
        completed = subprocess.run(
            [sys.executable, "-c", PROBE, str(tmp_path)],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        reference, added = json.loads(completed.stdout)
        shares.append(added / reference)
    assert statistics.median(shares) <= IMPORT_OVERHEAD_LIMIT, [round(s, 3) for s in shares]
