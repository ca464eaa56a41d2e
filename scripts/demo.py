"""The module's main job on local emulators, end to end.

1. start moto's server (control plane) and DynamoDB Local (data plane);
2. apply a local variant of examples/ec2 to moto with OpenTofu: the real module, the real
   provider, the zip archive_file builds;
3. build a realistic ECS event stream (several clusters, tasks and container instances,
   duplicated and shuffled, plus a few malformed events) and feed it through the handler
   imported from that zip, writing to DynamoDB Local tables shaped like the ones applied;
4. print the stored state beside the expected latest state and the outcome counts;
5. tear everything down, also on Ctrl-C. Exits 1 if any record is wrong.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import boto3

from scripts.ecs_events import realistic_stream
from tools.emulators import dynamodb_local, moto_server

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "ec2"
SEED = 20261122
PROVIDER_OVERRIDE = """
provider "aws" {
  access_key                  = "demo"
  secret_key                  = "demo"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  skip_requesting_account_id  = true
}
"""
# Lets destroy remove the tables, and leaves alarms out: moto 5.2.5 does not serve the
# protocol the aws provider speaks to CloudWatch (tests/module/test_plan_failures.py checks
# the alarms at plan time instead). Everything else is the example as written.
MODULE_OVERRIDE = """
module "%s" {
  deletion_protection = false
  create_alarms       = false
}
"""


def emulator_client(service: str, endpoint: str):
    # Dummy credentials: the emulators accept any.
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="demo",
        aws_secret_access_key="demo",
    )


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def tofu_binary() -> str:
    binary = os.environ.get("TOFU_BIN") or shutil.which("tofu") or shutil.which("terraform")
    if not binary:
        raise SystemExit("no tofu or terraform on PATH: run `make demo`, which installs it")
    return binary


class LocalExample:
    """An example copied to a temporary directory, pointed at the emulators.

    The copy uses this checkout's module by absolute path; an override file adds the
    emulator's provider settings and turns deletion protection off for destroy.
    """

    def __init__(self, example: Path, moto_endpoint: str, binary: str | None = None):
        self.dir = Path(tempfile.mkdtemp(prefix=f"ecs-state-{example.name}-"))
        modules = []
        for source in example.glob("*.tf"):
            text = source.read_text()
            modules += re.findall(r'module\s+"([\w-]+)"\s*{\s*source\s*=\s*"\.\./\.\."', text)
            text = re.sub(r'source\s*=\s*"\.\./\.\."', f'source = "{ROOT}"', text)
            (self.dir / source.name).write_text(text)
        overrides = PROVIDER_OVERRIDE + "".join(MODULE_OVERRIDE % name for name in modules)
        (self.dir / "emulator_override.tf").write_text(overrides)
        self.env = {
            **os.environ,
            "AWS_ENDPOINT_URL": moto_endpoint,
            "AWS_ACCESS_KEY_ID": "demo",
            "AWS_SECRET_ACCESS_KEY": "demo",
            "AWS_REGION": "us-east-1",
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
        }
        self.binary = binary or tofu_binary()
        self.applied = False

    def run(self, *args: str) -> str:
        result = subprocess.run(
            [self.binary, *args, "-no-color"],
            cwd=self.dir,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{self.binary} {args[0]} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def apply(self) -> dict:
        self.run("init", "-input=false")
        self.run("validate")
        self.run("plan", "-input=false")
        self.applied = True
        self.run("apply", "-auto-approve", "-input=false")
        return {k: v["value"] for k, v in json.loads(self.run("output", "-json")).items()}

    def destroy(self) -> None:
        try:
            if self.applied:
                self.run("destroy", "-auto-approve", "-input=false")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def mirror_tables(moto_endpoint: str, local_endpoint: str, names: list[str]) -> None:
    """Create, in DynamoDB Local, the tables the module created in moto (same keys)."""

    control = emulator_client("dynamodb", moto_endpoint)
    data = emulator_client("dynamodb", local_endpoint)
    for name in names:
        table = control.describe_table(TableName=name)["Table"]
        data.create_table(
            TableName=name,
            KeySchema=table["KeySchema"],
            AttributeDefinitions=table["AttributeDefinitions"],
            BillingMode="PAY_PER_REQUEST",
        )


def load_handler(zip_path: str, environment: dict, local_endpoint: str):
    """Import ecs_state.handler from the zip the module built, configured as deployed."""
    os.environ.update(environment)
    os.environ.update(
        {
            "AWS_ENDPOINT_URL_DYNAMODB": local_endpoint,
            "AWS_ACCESS_KEY_ID": "demo",
            "AWS_SECRET_ACCESS_KEY": "demo",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )
    sys.path.insert(0, zip_path)
    from ecs_state import handler

    if not handler.__file__.startswith(zip_path):
        raise RuntimeError(f"handler imported from {handler.__file__}, not from {zip_path}")
    return handler


def progress(done: int, total: int) -> None:
    width = 40
    filled = width * done // total
    sys.stderr.write(f"\r  [{'#' * filled}{'.' * (width - filled)}] {done}/{total} events")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def feed(handler, events: list[dict]) -> Counter:
    outcomes: Counter = Counter()
    logs = io.StringIO()  # the handler's JSON lines; the demo prints a summary instead
    for done, event in enumerate(events, start=1):
        with contextlib.redirect_stdout(logs):
            try:
                outcomes[handler.lambda_handler(event, None)["outcome"]] += 1
            except ValueError:  # InvalidEventError: rejected, nothing written
                outcomes["rejected"] += 1
        if done % 10 == 0 or done == len(events):
            progress(done, len(events))
    return outcomes


def stored_state(local_endpoint: str, outputs: dict) -> dict[str, tuple[int, str]]:
    client = emulator_client("dynamodb", local_endpoint)
    state = {}
    for table, key, field in (
        (outputs["task_table_name"], "taskArn", "lastStatus"),
        (outputs["container_instance_table_name"], "containerInstanceArn", "status"),
    ):
        for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
            for item in page["Items"]:
                state[item[key]["S"]] = (int(item["version"]["N"]), item[field]["S"])
    return state


def report(expected: dict, stored: dict) -> int:
    wrong = 0
    print(f"{'resource':<52} {'kind':<18} {'expected':<22} {'stored':<22} ok")
    for arn, (kind, version, status) in sorted(expected.items(), key=lambda kv: kv[0]):
        got = stored.get(arn)
        ok = got == (version, status)
        wrong += not ok
        shown = f"v{got[0]} {got[1]}" if got else "missing"
        print(
            f"{arn.split(':', 5)[5]:<52} {kind:<18} {f'v{version} {status}':<22} {shown:<22} "
            f"{'yes' if ok else 'NO'}"
        )
    extra = set(stored) - set(expected)
    wrong += len(extra)
    for arn in sorted(extra):
        print(f"{arn:<52} unexpected record")
    return wrong


def malformed_events(events: list[dict]) -> list[dict]:
    first = events[0]
    return [
        {**first, "source": "aws.ec2"},
        {**first, "detail": {**first["detail"], "version": "seven"}},
        {**first, "detail-type": "ECS Service Action"},
    ]


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    example = None
    try:
        with moto_server() as moto, dynamodb_local() as local:
            say(f"moto's server on {moto.endpoint}, DynamoDB Local on {local.endpoint}")
            example = LocalExample(EXAMPLE, moto.endpoint)
            say(f"applying examples/ec2 to moto with {example.binary} in {example.dir} ...")
            outputs = example.apply()
            function = emulator_client("lambda", moto.endpoint).get_function_configuration(
                FunctionName=outputs["function_name"]
            )
            zip_path = str(example.dir / ".terraform" / "ecs-state" / "web.zip")
            say(
                f"function {function['FunctionName']}: handler {function['Handler']}, "
                f"zip {zip_path} ({os.path.getsize(zip_path)} bytes)"
            )
            tables = [outputs["task_table_name"], outputs["container_instance_table_name"]]
            mirror_tables(moto.endpoint, local.endpoint, tables)
            handler = load_handler(zip_path, function["Environment"]["Variables"], local.endpoint)

            events, expected = realistic_stream(SEED)
            malformed = malformed_events(events)
            events = events + malformed
            say(
                f"feeding {len(events)} events ({len(expected)} resources, duplicated and "
                f"shuffled, {len(malformed)} malformed) through the function ..."
            )
            outcomes = feed(handler, events)
            wrong = report(expected, stored_state(local.endpoint, outputs))
            print(
                f"\napplied {outcomes['applied']}, stale-or-duplicate "
                f"{outcomes['stale-or-duplicate']}, rejected {outcomes['rejected']}"
            )
            if outcomes["rejected"] != len(malformed):
                wrong += 1
                print(f"expected {len(malformed)} rejected events, got {outcomes['rejected']}")
            print(
                "every record matches its latest version"
                if not wrong
                else f"{wrong} record(s) do not match"
            )
            say("tearing down ...")
            example.destroy()
            example = None
            return 1 if wrong else 0
    except KeyboardInterrupt:
        say("\ninterrupted: tearing down ...")
        return 130
    finally:
        if example is not None:
            example.destroy()


if __name__ == "__main__":
    sys.exit(main())
