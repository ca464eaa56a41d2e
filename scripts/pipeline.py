"""The module's event path, every hop on AWS's own engine, on this machine.

    events -> event-ruler (EventBridge's matcher) with the rule's applied pattern
           -> aws-lambda-rie + awslambdaric running the applied handler string from the
              applied zip, unpacked, with the applied environment
           -> DynamoDB Local

What runs is read back from what `tofu apply` made against moto's server: the rule's event
pattern (DescribeRule), the function's handler, runtime, memory, timeout and environment
(GetFunction), and the zip the module's `function_zip_path` output names. Nothing here
imports the handler: when an engine is missing, PipelineUnavailable says which and how to
install it.

Used by `make demo` (scripts/demo.py) and by tests/pipeline.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from scripts.ecs_events import Cluster, cluster_arn
from tools.emulators import EmulatorUnavailable, _free_port, _run

ROOT = Path(__file__).resolve().parents[1]
RULER = ROOT / "tools" / "event-ruler" / "RuleMatch.java"
REGION = "us-east-1"
DEMO_ACCOUNT = "123456789012"  # moto's account, and the examples' default cluster ARNs'
RIE_VARIABLE = "LAMBDA_RIE_BIN"  # written into env.sh by `tools/bootstrap.sh rie`
INVOKE_PATH = "/2015-03-31/functions/function/invocations"
# What Lambda returns for a function error (Invoke's payload with X-Amz-Function-Error).
LAMBDA_ERROR_KEYS = frozenset({"errorMessage", "errorType", "requestId", "stackTrace"})
REJECTED_ERROR_TYPE = "InvalidEventError"

NOT_DELIVERED = "not delivered"
REJECTED = "rejected"
FAILED = "failed"

# Kinds the function stores, by detail-type: table variable, key, status attribute.
STORED_KINDS = {
    "ECS Task State Change": ("task", "TASK_TABLE_NAME", "taskArn", "lastStatus"),
    "ECS Container Instance State Change": (
        "container-instance",
        "CONTAINER_INSTANCE_TABLE_NAME",
        "containerInstanceArn",
        "status",
    ),
}

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
  deletion_protection_enabled = false
  create_alarms               = false
}
"""
# Every output of each module instance, so the rule, function and zip path can be read
# back whatever the example chose to output. Sensitive, so that a sensitive output of the
# module cannot fail the apply; `output -json` shows it all the same.
MODULE_OUTPUTS = """
output "module_%s" {
  value     = module.%s
  sensitive = true
}
"""


class PipelineUnavailable(RuntimeError):
    """An engine of the pipeline cannot run here; the message says which and how to get it."""


def emulator_client(service: str, endpoint: str):
    # Dummy credentials: the emulators accept any.
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="demo",
        aws_secret_access_key="demo",
    )


def tofu_binary() -> str:
    binary = os.environ.get("TOFU_BIN") or shutil.which("tofu") or shutil.which("terraform")
    if not binary:
        raise SystemExit("no tofu or terraform on PATH: run `make demo`, which installs it")
    return binary


class LocalExample:
    """An example copied to a temporary directory, pointed at the emulators.

    The copy uses this checkout's module by absolute path; an override file adds the
    emulator's provider settings and turns deletion protection off for destroy, and an
    extra file outputs every module instance whole (as `module_<name>`).
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
        (self.dir / "module_outputs.tf").write_text(
            "".join(MODULE_OUTPUTS % (name, name) for name in modules)
        )
        self.modules = modules
        self.env = {
            **os.environ,
            "AWS_ENDPOINT_URL": moto_endpoint,
            "AWS_ACCESS_KEY_ID": "demo",
            "AWS_SECRET_ACCESS_KEY": "demo",
            "AWS_REGION": REGION,
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
        }
        self.binary = binary or tofu_binary()
        self.applied = False

    def execute(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [self.binary, *args, "-no-color"],
            cwd=self.dir,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )

    def run(self, *args: str) -> str:
        result = self.execute(*args)
        if result.returncode != 0:
            raise RuntimeError(f"{self.binary} {args[0]} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def pending_changes(self) -> str:
        """What a plan made now would change ('' when nothing): right after an apply, any
        change is a perpetual diff."""
        result = self.execute("plan", "-detailed-exitcode", "-input=false")
        if result.returncode not in (0, 2):
            raise RuntimeError(f"{self.binary} plan failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout if result.returncode == 2 else ""

    def apply(self, *, plan_first: bool = True) -> dict:
        """init, (validate and plan,) apply; returns the root module's outputs."""
        self.run("init", "-input=false")
        if plan_first:
            self.run("validate")
            self.run("plan", "-input=false")
        self.applied = True
        self.run("apply", "-auto-approve", "-input=false")
        return {k: v["value"] for k, v in json.loads(self.run("output", "-json")).items()}

    def module_outputs(self, outputs: dict) -> dict:
        """The outputs of the example's only module instance."""
        if len(self.modules) != 1:
            raise ValueError(f"expected one module instance, found {self.modules}")
        return outputs[f"module_{self.modules[0]}"]

    def destroy(self) -> None:
        try:
            if self.applied:
                self.delete_queues_directly()
                self.run("destroy", "-auto-approve", "-input=false")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def delete_queues_directly(self) -> None:
        """Take the dead-letter queues out of the state and delete them through the API.

        Against moto, the provider waits about 2 min 10 s after deleting a queue and 25 s
        after deleting its policy before destroy goes on (measured), which was most of the
        demo's time. tests/module/test_apply.py::test_fargate_mode still destroys its queue
        through the provider, so that path stays proven.
        """
        state = json.loads(self.run("show", "-json")).get("values", {})
        queues = [
            resource
            for resource in _resources(state.get("root_module", {}))
            if resource["type"] in ("aws_sqs_queue", "aws_sqs_queue_policy")
        ]
        if not queues:
            return
        self.run("state", "rm", *[resource["address"] for resource in queues])
        sqs = emulator_client("sqs", self.env["AWS_ENDPOINT_URL"])
        for resource in queues:
            if resource["type"] == "aws_sqs_queue":
                sqs.delete_queue(QueueUrl=resource["values"]["url"])


def _resources(module: dict) -> list[dict]:
    """Every resource of a `show -json` module, its child modules' included."""
    found = list(module.get("resources", []))
    for child in module.get("child_modules", []):
        found += _resources(child)
    return found


@dataclass(frozen=True)
class AppliedFunction:
    """The rule and function as the apply made them, read back from the control plane."""

    name: str
    handler: str
    runtime: str
    environment: dict[str, str]
    timeout_s: int
    memory_mb: int
    package: Path
    rule_name: str
    event_pattern: str

    @property
    def followed_clusters(self) -> list[str] | None:
        """The cluster ARNs the rule keeps; None when it keeps every cluster."""
        return json.loads(self.event_pattern).get("detail", {}).get("clusterArn")

    def table_of(self, detail_type: str) -> str | None:
        kind = STORED_KINDS.get(detail_type)
        return self.environment.get(kind[1]) if kind else None


def read_applied(moto_endpoint: str, module_outputs: dict, root_dir: Path) -> AppliedFunction:
    """Rule pattern, handler, runtime and environment as moto holds them after the apply."""
    rule = emulator_client("events", moto_endpoint).describe_rule(Name=module_outputs["rule_name"])
    config = emulator_client("lambda", moto_endpoint).get_function(
        FunctionName=module_outputs["function_name"]
    )["Configuration"]
    # The output is relative to the root module unless the module made it absolute.
    package = Path(root_dir, module_outputs["function_zip_path"]).resolve()
    if not zipfile.is_zipfile(package):
        raise FileNotFoundError(f"function_zip_path names no zip: {package}")
    return AppliedFunction(
        name=config["FunctionName"],
        handler=config["Handler"],
        runtime=config["Runtime"],
        environment=config.get("Environment", {}).get("Variables", {}),
        timeout_s=config["Timeout"],
        memory_mb=config["MemorySize"],
        package=package,
        rule_name=rule["Name"],
        event_pattern=rule["EventPattern"],
    )


def mirror_tables(moto_endpoint: str, local_endpoint: str, names: list[str]) -> None:
    """Create in DynamoDB Local the tables the module created in moto: keys and indexes."""
    control = emulator_client("dynamodb", moto_endpoint)
    data = emulator_client("dynamodb", local_endpoint)
    for name in names:
        table = control.describe_table(TableName=name)["Table"]
        indexes = [
            {key: index[key] for key in ("IndexName", "KeySchema", "Projection")}
            for index in table.get("GlobalSecondaryIndexes", [])
        ]
        data.create_table(
            TableName=name,
            KeySchema=table["KeySchema"],
            AttributeDefinitions=table["AttributeDefinitions"],
            BillingMode="PAY_PER_REQUEST",
            **({"GlobalSecondaryIndexes": indexes} if indexes else {}),
        )


# ---- EventBridge: event-ruler -------------------------------------------------------------
def find_event_ruler() -> tuple[str, str]:
    """java and event-ruler's class path."""
    jars = os.environ.get("EVENT_RULER_CLASSPATH")
    java = shutil.which("java")
    if not jars or not java:
        raise PipelineUnavailable(
            "event-ruler: EVENT_RULER_CLASSPATH or java is missing "
            "(run `tools/bootstrap.sh event-ruler` and source $ECS_STATE_CACHE/env.sh)"
        )
    return java, jars


def route(pattern: str, events: list[dict]) -> list[bool]:
    """Whether EventBridge's own matcher delivers each event: one java run for the batch."""
    java, jars = find_event_ruler()
    if not events:
        return []
    with tempfile.TemporaryDirectory(prefix="ecs-state-route-") as work:
        Path(work, "pattern.json").write_text(pattern)
        names = []
        for number, event in enumerate(events):
            names.append(f"{number}.json")
            Path(work, names[-1]).write_text(json.dumps(event))
        # Relative names keep the command line short for thousands of events.
        result = subprocess.run(
            [java, "-cp", jars, str(RULER), "pattern.json", *names],
            cwd=work,
            capture_output=True,
            text=True,
            check=False,
        )
    answers = result.stdout.split()
    if result.returncode != 0 or len(answers) != len(events) or set(answers) - {"true", "false"}:
        raise RuntimeError(
            f"event-ruler failed (exit {result.returncode}, {len(answers)} answers for "
            f"{len(events)} events):\n{result.stderr[-2000:]}"
        )
    return [answer == "true" for answer in answers]


# ---- Lambda: the Runtime Interface Emulator ------------------------------------------------
def find_rie() -> str:
    configured = os.environ.get(RIE_VARIABLE)
    found = configured or shutil.which("aws-lambda-rie")
    if not found or not os.access(found, os.X_OK):
        where = f"{RIE_VARIABLE}={configured}" if configured else "aws-lambda-rie on PATH"
        raise PipelineUnavailable(
            f"the Lambda Runtime Interface Emulator is missing (no {where}): run "
            "`tools/bootstrap.sh rie` and source $ECS_STATE_CACHE/env.sh"
        )
    return found


def find_runtime_client() -> str:
    """This interpreter, once it is known to have awslambdaric."""
    if importlib.util.find_spec("awslambdaric") is None:
        raise PipelineUnavailable(
            f"awslambdaric is not installed for {sys.executable}: run `tools/bootstrap.sh venv`"
        )
    return sys.executable


@dataclass(frozen=True)
class Invocation:
    """One call of the RIE's invoke API and what the function answered."""

    request_id: str
    status: int
    body: Any
    elapsed_ms: float

    @property
    def error_type(self) -> str | None:
        """errorType when the function failed (the body is Lambda's error object)."""
        if isinstance(self.body, dict) and set(self.body) == LAMBDA_ERROR_KEYS:
            return self.body["errorType"]
        return None


class LambdaRuntime:
    """The function's package, unpacked, under aws-lambda-rie with `python -m awslambdaric`.

    The process gets the function's environment and what Lambda adds (name, memory,
    region, credentials, task root), DynamoDB pointed at `dynamodb_endpoint`, and nothing
    else from this process's environment. It listens on loopback only. Like Lambda, it
    starts the runtime (init) on the first invocation.
    """

    def __init__(self, function: AppliedFunction, dynamodb_endpoint: str):
        self.function = function
        self.dynamodb_endpoint = dynamodb_endpoint
        self._stack = ExitStack()
        self._connection: http.client.HTTPConnection | None = None
        self.package_dir = ""
        self.log_path: Path | None = None

    def environment(self) -> dict[str, str]:
        function = self.function
        return {
            "PATH": os.environ.get("PATH", os.defpath),
            **function.environment,
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(function.timeout_s),
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.runtime}",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "demo",
            "AWS_SECRET_ACCESS_KEY": "demo",
            "AWS_SESSION_TOKEN": "demo",
            "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb_endpoint,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "LAMBDA_TASK_ROOT": self.package_dir,
            "PYTHONPATH": self.package_dir,
            # Lambda's task directory is read-only: every cold start compiles the sources.
            "PYTHONDONTWRITEBYTECODE": "1",
            "TZ": ":UTC",
        }

    def __enter__(self) -> LambdaRuntime:
        rie = find_rie()
        python = find_runtime_client()
        try:
            self.package_dir = self._stack.enter_context(
                tempfile.TemporaryDirectory(prefix="ecs-state-task-")
            )
            with zipfile.ZipFile(self.function.package) as package:
                package.extractall(self.package_dir)
            environment = self.environment()

            def command(host: str, port: int) -> list[str]:
                # env -i: the runtime sees exactly `environment`, as a Lambda function
                # sees only its own. The runtime API gets its own free port, since the
                # RIE's default (9001) would collide between two runs.
                runtime_api = f"{host}:{_free_port(host)}"
                return [
                    "env",
                    "-i",
                    *(f"{name}={value}" for name, value in environment.items()),
                    rie,
                    "--runtime-interface-emulator-address",
                    f"{host}:{port}",
                    "--runtime-api-address",
                    runtime_api,
                    python,
                    "-m",
                    "awslambdaric",
                    self.function.handler,
                ]

            # _run: the emulators' start, readiness and clean-stop logic; the RIE answers
            # 404 on / once it listens.
            emulator = self._stack.enter_context(
                _run(
                    "aws-lambda-rie",
                    command,
                    host="127.0.0.1",
                    port=None,
                    ready_path="/",
                    ready_timeout=30,
                    cwd=Path(self.package_dir),
                )
            )
        except EmulatorUnavailable as error:
            self._stack.close()
            raise PipelineUnavailable(f"aws-lambda-rie did not start: {error}") from error
        except BaseException:
            self._stack.close()
            raise
        self.log_path = emulator.log_path
        self._connection = http.client.HTTPConnection(
            emulator.host, emulator.port, timeout=self.function.timeout_s + 30
        )
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._connection is not None:
            self._connection.close()
        self._stack.close()

    def invoke(self, event: Any) -> Invocation:
        """One synchronous invocation with its own request id, as Lambda's Invoke."""
        if self._connection is None:
            raise RuntimeError("LambdaRuntime is not started: use it in a `with` block")
        request_id = str(uuid.uuid4())
        payload = json.dumps(event).encode()
        started = time.perf_counter()
        self._connection.request(
            "POST",
            INVOKE_PATH,
            body=payload,
            headers={"Content-Type": "application/json", "X-Amzn-RequestId": request_id},
        )
        response = self._connection.getresponse()
        raw = response.read()
        elapsed_ms = (time.perf_counter() - started) * 1000
        if response.status != 200:
            # 502: the runtime died or failed its init; not an answer about the event.
            raise RuntimeError(
                f"aws-lambda-rie answered HTTP {response.status}: {raw[:2000]!r}\n"
                f"last lines of its log:\n{self.log_tail()}"
            )
        return Invocation(request_id, response.status, json.loads(raw), elapsed_ms)

    def request_ids_seen(self) -> list[str]:
        """The request id of every invocation the RIE started, from its own log."""
        if self.log_path is None:
            return []
        return re.findall(r"^START RequestId: (\S+)", self.log_path.read_text(), re.M)

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None:
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


# ---- the whole path ----------------------------------------------------------------------
def require_engines() -> None:
    """Raise PipelineUnavailable now, before an apply, if an engine is missing."""
    find_event_ruler()
    find_rie()
    find_runtime_client()


def stream_clusters(function: AppliedFunction, account: str = DEMO_ACCOUNT) -> list[Cluster]:
    """The clusters the rule follows, and two it must not deliver, for a stream.

    A followed cluster runs what the function keeps: container instances and EC2 tasks in
    EC2 mode, Fargate tasks in FARGATE mode (Spot tasks in both).
    """
    followed = function.followed_clusters or [cluster_arn("web", account)]
    capacity = function.environment.get("LAUNCH_TYPE", "EC2")
    clusters = [Cluster(arn, capacity) for arn in followed]
    names = {cluster.name for cluster in clusters}
    others = [name for name in ("batch", "jobs", "analytics") if name not in names][:2]
    return clusters + [
        Cluster(cluster_arn(name, account), "EC2" if index == 0 else "FARGATE")
        for index, name in enumerate(others)
    ]


@dataclass
class Delivery:
    """One event: whether the rule delivered it and what the function answered."""

    event: dict
    delivered: bool
    invocation: Invocation | None = None

    @property
    def outcome(self) -> str:
        """`not delivered`, the function's own outcome, `rejected` or `failed`."""
        if not self.delivered:
            return NOT_DELIVERED
        assert self.invocation is not None
        error_type = self.invocation.error_type
        if error_type == REJECTED_ERROR_TYPE:
            return REJECTED
        if error_type is not None:
            return FAILED
        return str(self.invocation.body["outcome"])


@dataclass
class PipelineRun:
    function: AppliedFunction
    deliveries: list[Delivery]
    request_ids_seen: list[str] = field(default_factory=list)
    package_dir: str = ""
    routing_s: float = 0.0
    invoking_s: float = 0.0

    @property
    def invocations(self) -> list[Invocation]:
        return [d.invocation for d in self.deliveries if d.invocation is not None]


Progress = Callable[[int, int], None]


def run_pipeline(
    function: AppliedFunction,
    events: list[dict],
    dynamodb_endpoint: str,
    progress: Progress | None = None,
) -> PipelineRun:
    """Route every event with the rule's pattern; invoke the function once per delivery."""
    started = time.perf_counter()
    matched = route(function.event_pattern, events)
    run = PipelineRun(
        function,
        [Delivery(event, delivered) for event, delivered in zip(events, matched, strict=True)],
    )
    run.routing_s = time.perf_counter() - started
    delivered = [d for d in run.deliveries if d.delivered]
    started = time.perf_counter()
    with LambdaRuntime(function, dynamodb_endpoint) as runtime:
        run.package_dir = runtime.package_dir
        for done, delivery in enumerate(delivered, start=1):
            delivery.invocation = runtime.invoke(delivery.event)
            if progress is not None:
                progress(done, len(delivered))
        run.request_ids_seen = runtime.request_ids_seen()
    run.invoking_s = time.perf_counter() - started
    return run


# ---- what must be stored -----------------------------------------------------------------
@dataclass(frozen=True)
class Record:
    kind: str
    cluster: str
    version: int
    status: str


def record_of(event: dict, function: AppliedFunction) -> tuple[str, Record] | None:
    """(ARN, record) an event asks to store, or None when no record can come of it.

    Written apart from the handler's own validation, so that it can check the handler.
    """
    kind = STORED_KINDS.get(event.get("detail-type", ""))
    detail = event.get("detail")
    if event.get("source") != "aws.ecs" or kind is None or not isinstance(detail, dict):
        return None
    name, _, key, status_field = kind
    if function.table_of(event["detail-type"]) is None:
        return None  # a kind this mode does not keep
    version, arn = detail.get("version"), detail.get(key)
    if type(version) is not int or version < 0 or not isinstance(arn, str) or ":ecs:" not in arn:
        return None
    return arn, Record(name, str(detail.get("clusterArn")), version, str(detail.get(status_field)))


def latest_delivered(run: PipelineRun) -> dict[str, Record]:
    """Per ARN, the highest version among the delivered events: what must be stored."""
    latest: dict[str, Record] = {}
    for delivery in run.deliveries:
        found = record_of(delivery.event, run.function) if delivery.delivered else None
        if found is not None:
            arn, record = found
            if arn not in latest or record.version > latest[arn].version:
                latest[arn] = record
    return latest


def stored_records(function: AppliedFunction, dynamodb_endpoint: str) -> dict[str, Record]:
    """Every record in the function's tables in DynamoDB Local."""
    client = emulator_client("dynamodb", dynamodb_endpoint)
    stored = {}
    for detail_type, (name, _, key, status_field) in STORED_KINDS.items():
        table = function.table_of(detail_type)
        if table is None:
            continue
        for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
            for item in page["Items"]:
                stored[item[key]["S"]] = Record(
                    name,
                    item.get("clusterArn", {}).get("S", ""),
                    int(item["version"]["N"]),
                    item.get(status_field, {}).get("S", ""),
                )
    return stored


def apply_and_read(
    example: LocalExample, moto_endpoint: str, dynamodb_endpoint: str
) -> AppliedFunction:
    """Apply the example to moto, read its function back, mirror its tables locally."""
    outputs = example.module_outputs(example.apply(plan_first=False))
    function = read_applied(moto_endpoint, outputs, example.dir)
    tables = [function.table_of(detail_type) for detail_type in STORED_KINDS]
    mirror_tables(moto_endpoint, dynamodb_endpoint, [table for table in tables if table])
    return function
