"""What the Lambda Runtime Interface Emulator adds per invocation, against a direct call.

    python -m bench.rie_overhead [--events 200] [--rounds 3]

The same events (each a new task, so every one is one applied PutItem) go, on fresh tables
in DynamoDB Local, once through `lambda_handler` imported from the package in a process of
its own, and once through scripts/pipeline.py's LambdaRuntime: the package under
aws-lambda-rie + awslambdaric, over the RIE's invoke API. Each invocation is timed by its
caller, per event; the first invocation of each (init) is left out. Rounds alternate the
order. Prints the medians and their difference.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from bench.local import aws_environment, create_tables, dynamodb_local
from scripts import ecs_events as samples
from scripts.pipeline import AppliedFunction, LambdaRuntime, emulator_client
from tests.support.module import module_default
from tools import package

DIRECT = """
import json, sys, time
import ecs_state.handler as handler
assert handler.__file__.startswith(sys.argv[1]), handler.__file__
times = []
for line in open(sys.argv[2]):
    started = time.perf_counter()
    handler.lambda_handler(json.loads(line), None)
    times.append((time.perf_counter() - started) * 1000)
print("TIMES " + json.dumps(times))
"""


def events(count: int, round_number: int) -> list[dict]:
    return [
        samples.task_event(samples.task_arn(f"r{round_number}-{n:05d}"), 1) for n in range(count)
    ]


def direct(package: Path, env: dict[str, str], stream: list[dict]) -> list[float]:
    with tempfile.TemporaryDirectory() as work:
        source = Path(work, "events.jsonl")
        source.write_text("".join(json.dumps(event) + "\n" for event in stream))
        result = subprocess.run(  # noqa: S603 - this interpreter, this file's driver
            [sys.executable, "-c", DIRECT, str(package), str(source)],
            env={**env, "PYTHONPATH": str(package), "PYTHONDONTWRITEBYTECODE": "1"},
            capture_output=True,
            text=True,
            check=True,
            cwd=work,
        )
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("TIMES ")]
    return json.loads(line[6:])


def through_rie(function: AppliedFunction, endpoint: str, stream: list[dict]) -> list[float]:
    with LambdaRuntime(function, endpoint) as runtime:
        return [runtime.invoke(event).elapsed_ms for event in stream]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[float]] = {"direct": [], "rie": []}
    with tempfile.TemporaryDirectory() as work, dynamodb_local() as server:
        archive = package.PACKAGE  # what the module deploys; tests/module keeps it fresh
        unpacked = Path(work, "package")
        with zipfile.ZipFile(archive) as contents:
            contents.extractall(unpacked)
        # The pipeline's dummy credentials: DynamoDB Local keeps a database per key.
        client = emulator_client("dynamodb", server.endpoint)
        credentials = {"AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo"}
        for round_number in range(args.rounds):
            order = ("direct", "rie") if round_number % 2 == 0 else ("rie", "direct")
            for way in order:
                tables = create_tables(client, way)
                environment = {
                    "LAUNCH_TYPE": "EC2",
                    "TASK_TABLE_NAME": tables.task,
                    "CONTAINER_INSTANCE_TABLE_NAME": tables.container_instance,
                    "LOG_LEVEL": "WARNING",
                }
                stream = events(args.events, round_number * 2 + (way == "rie"))
                if way == "direct":
                    env = {**aws_environment(server.endpoint), **credentials, **environment}
                    times = direct(unpacked, env, stream)
                else:
                    function = AppliedFunction(
                        "bench-ecs-state",
                        "ecs_state.handler.lambda_handler",
                        module_default("runtime"),
                        environment,
                        module_default("timeout"),
                        module_default("memory_size"),
                        archive,
                        "bench",
                        "{}",
                    )
                    times = through_rie(function, server.endpoint, stream)
                results[way] += times[1:]
    direct_ms, rie_ms = (statistics.median(results[way]) for way in ("direct", "rie"))
    print(
        f"{args.rounds} rounds x {args.events} applied events, first of each left out\n"
        f"direct call: median {direct_ms:.2f} ms per event\n"
        f"through aws-lambda-rie: median {rie_ms:.2f} ms per event\n"
        f"overhead of the RIE: {rie_ms - direct_ms:.2f} ms per invocation "
        f"({rie_ms / direct_ms:.2f}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
