"""Benchmark the reconciler: ECS requests, DynamoDB units and wall time per run.

    python -m bench.reconcile [--tasks 5000] [--clusters 5] [--quick]

ECS is a local stub (``StubEcs``) that answers the reconciler's real botocore client at the
HTTP layer, with ECS's JSON and epoch timestamps, and enforces ECS's shared "cluster
resource read" bucket: 20 requests a second, burst 100, ThrottlingException when empty.
The reconciler's own cap (ECS_MAX_REQUESTS_PER_SECOND, default 5) and botocore's
adaptive retries therefore run as deployed. DynamoDB Local holds the tables, made as the
module makes them (tests/support/tables.py), and reports the capacity of each request.

Runs, in order, on the same 5,000 tasks (10 % of them stopped): from empty tables,
nothing changed, 10 % changed (all with an index projecting ALL); then nothing changed
again with the module's default INCLUDE projection, and without an index (BatchGetItem);
finally
nothing changed while another caller, having emptied the bucket, spends 18 of its 20
requests a second.
Writes docs/benchmarks/reconcile.md and reconcile.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

from botocore.awsrequest import AWSResponse

from bench.faults import THROTTLING, error_response
from bench.local import CREDENTIALS, REGION, admin_client, dynamodb_local
from ecs_state import reconcile
from ecs_state.config import Settings
from ecs_state.events import TASK
from ecs_state.query import INDEX_INCLUDE
from ecs_state.reconcile import Reconciler, ReconcileSettings
from ecs_state.telemetry import Telemetry
from scripts import ecs_events as samples
from tests.support.tables import create_table

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "docs" / "benchmarks"
ACCOUNT = "123456789012"
BUCKET_RATE = 20.0
BUCKET_BURST = 100.0
TIMESTAMPS = ("createdAt", "startedAt", "pullStartedAt", "pullStoppedAt", "stoppedAt")
# The projection the module gives its task index by default.
INCLUDE = {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(INDEX_INCLUDE[TASK])}


class Bucket:
    """ECS's shared per-account read bucket, in real time."""

    def __init__(self, rate: float = BUCKET_RATE, burst: float = BUCKET_BURST):
        self.rate, self.burst = rate, burst
        self.tokens, self.updated = burst, time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens < 1:
                return False
            self.tokens -= 1
            return True


class StubEcs:
    """Tasks by cluster, served as ECS's JSON API behind the shared bucket."""

    def __init__(self, clusters: int, tasks: int, seed: int):
        rng = random.Random(seed)
        self.bucket = Bucket()
        self.throttled = 0
        self.tasks: dict[str, dict[str, dict[str, Any]]] = {}
        for number in range(clusters):
            cluster = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/bench-{number}"
            self.tasks[cluster] = {}
            for index in range(tasks // clusters):
                arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/bench-{number}/{index:032x}"
                status = "STOPPED" if rng.random() < 0.1 else "RUNNING"
                event = samples.task_event(
                    arn, rng.randint(1, 20), status, cluster_arn=cluster, environment={"A": "b"}
                )
                detail = event["detail"]
                detail.pop("updatedAt")  # the API has no updatedAt
                detail["startedAt"] = detail["pullStartedAt"] = detail["createdAt"]
                detail["pullStoppedAt"] = detail["createdAt"]
                for name in TIMESTAMPS:
                    if name in detail:
                        detail[name] = datetime.fromisoformat(detail[name]).timestamp()
                self.tasks[cluster][arn] = detail

    def change(self, fraction: float, seed: int) -> int:
        rng = random.Random(seed)
        every = [task for tasks in self.tasks.values() for task in tasks.values()]
        changed = rng.sample(every, int(len(every) * fraction))
        for task in changed:
            task["version"] += 1
        return len(changed)

    def answer(self, request: Any, event_name: str, **_: Any) -> AWSResponse:
        if not self.bucket.take():
            self.throttled += 1
            return error_response(THROTTLING, request.url)
        operation = event_name.rsplit(".", 1)[-1]
        params = json.loads(request.body or b"{}")
        body = getattr(self, operation)(params)
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "stub"}
        return AWSResponse(request.url, 200, headers, _Raw(data))

    def ListClusters(self, params):  # ECS's operation names, as botocore's events carry them
        return {"clusterArns": sorted(self.tasks)}

    def ListTasks(self, params):
        wanted = params.get("desiredStatus", "RUNNING")
        arns = sorted(
            arn
            for arn, task in self.tasks[params["cluster"]].items()
            if task["desiredStatus"] == wanted
        )
        start = int(params.get("nextToken") or 0)
        size = params.get("maxResults", 100)
        page: dict[str, Any] = {"taskArns": arns[start : start + size]}
        if start + size < len(arns):
            page["nextToken"] = str(start + size)
        return page

    def DescribeTasks(self, params):
        tasks = self.tasks[params["cluster"]]
        found = [tasks[arn] for arn in params["tasks"] if arn in tasks]
        missing = [{"arn": arn, "reason": "MISSING"} for arn in params["tasks"] if arn not in tasks]
        return {"tasks": found, "failures": missing}


class _Raw:
    def __init__(self, data: bytes):
        self.data = data

    def stream(self, **_: Any):
        yield self.data


class Competitor:
    """Another caller in the account spending part of the shared bucket."""

    def __init__(self, bucket: Bucket, rate: float):
        self.bucket, self.rate = bucket, rate
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(1 / self.rate):
            self.bucket.take()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.stop.set()
        self.thread.join()


def make_tables(dynamodb: Any, name: str, *, index: bool, projection=None) -> str:
    return create_table(dynamodb, name, TASK, index=index, projection=projection)


def run_once(stub: StubEcs, dynamodb: Any, table: str, rate: float) -> dict[str, Any]:
    settings = ReconcileSettings(
        base=Settings(launch_type="FARGATE", task_table=table),
        max_requests_per_second=rate,
    )
    # The deployed client and its configuration (adaptive retries), answered by the stub.
    with mock.patch.dict(os.environ, {"AWS_ENDPOINT_URL_ECS": "http://ecs.stub.invalid"}):
        ecs = reconcile.ecs_client()
    quiet = Telemetry("ERROR", "ECSState", "FARGATE", stream=open(os.devnull, "w"))  # noqa: SIM115
    reconciler = Reconciler(settings, ecs, dynamodb, quiet)
    # After the reconciler's own hook, so that a request reaches ECS after its rate cap.
    ecs.meta.events.register("before-send.ecs", stub.answer)
    throttled_before = stub.throttled
    started = time.monotonic()
    summary = reconciler.run()
    summary["wallSeconds"] = round(time.monotonic() - started, 2)
    summary["throttledByStub"] = stub.throttled - throttled_before
    return summary


def source_revision() -> tuple[str, str]:
    """The commit measured, and whether the measured code differs from it."""
    git = shutil.which("git") or "git"
    commit = subprocess.run(  # noqa: S603 - fixed arguments
        [git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    dirty = subprocess.run(  # noqa: S603
        [git, "status", "--porcelain", "--", "function", "bench/reconcile.py"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout.strip()
    return commit, dirty


def per_thousand(value: float, resources: int) -> float:
    return round(value * 1000 / resources, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reconcile", description=__doc__)
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--clusters", type=int, default=5)
    parser.add_argument("--rate", type=float, default=reconcile.DEFAULT_MAX_REQUESTS_PER_SECOND)
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--quick", action="store_true", help="500 tasks: a smoke run")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    if args.quick:
        args.tasks = 500
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
            "AWS_DEFAULT_REGION": REGION,
        }
    )
    commit, dirty = source_revision()
    stub = StubEcs(args.clusters, args.tasks, args.seed)
    resources = sum(len(tasks) for tasks in stub.tasks.values())
    started = time.time()
    load_before = os.getloadavg()
    runs: list[tuple[str, dict[str, Any]]] = []
    with dynamodb_local() as server:
        dynamodb = admin_client(server.endpoint)
        suffix = f"{int(started)}"
        indexed = make_tables(dynamodb, f"tasks-all-{suffix}", index=True)
        included = make_tables(dynamodb, f"tasks-include-{suffix}", index=True, projection=INCLUDE)
        plain = make_tables(dynamodb, f"tasks-noindex-{suffix}", index=False)

        def step(name: str, table: str, rate: float = args.rate) -> None:
            summary = run_once(stub, dynamodb, table, rate)
            runs.append((name, summary))
            print(
                f"{name}: {summary['ecsRequests']} ECS requests, {summary['written']} written, "
                f"{summary['readUnits']} RCU, {summary['writeUnits']} WCU, "
                f"{summary['wallSeconds']} s",
                flush=True,
            )

        step("from empty (index ALL)", indexed)
        step("nothing changed (index ALL)", indexed)
        changed = stub.change(0.10, args.seed)
        step(f"10 % changed ({changed} tasks; index ALL)", indexed)
        # Bring the other tables to the same state without measuring: their backfill costs
        # what the first one did.
        for table in (included, plain):
            run_once(stub, dynamodb, table, reconcile.MAX_REQUESTS_PER_SECOND)
        step("nothing changed (index INCLUDE, the module's default)", included)
        step("nothing changed (no index: BatchGetItem)", plain)
        # Another caller has spent the burst and keeps taking 18 of the 20 requests a second.
        stub.bucket.tokens = 0
        with Competitor(stub.bucket, 18.0):
            step("nothing changed, bucket empty, another caller at 18/s (index ALL)", indexed)
    results = {
        "date": datetime.fromtimestamp(started, UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit + (" (with uncommitted changes)" if dirty else ""),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        "load": [round(x, 1) for x in load_before],
        "python": sys.version.split()[0],
        "dynamodb_local": server.version,
        "settings": {
            "tasks": resources,
            "clusters": args.clusters,
            "stopped_fraction": 0.1,
            "max_requests_per_second": args.rate,
            "ecs_bucket": f"{BUCKET_RATE:g}/s, burst {BUCKET_BURST:g}",
            "seed": args.seed,
        },
        "runs": [{"name": name, **summary} for name, summary in runs],
    }
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "reconcile.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.output / "reconcile.md").write_text(report(results, resources))
    print(f"wrote {args.output / 'reconcile.md'}")
    return 0


def report(results: dict[str, Any], resources: int) -> str:
    settings = results["settings"]
    rows = []
    for run in results["runs"]:
        by_operation = run["ecsRequestsByOperation"]
        rows.append(
            f"| {run['name']} | {run['ecsRequests']} ({by_operation.get('ListTasks', 0)} List, "
            f"{by_operation.get('DescribeTasks', 0)} Describe) | {run['ecsThrottles']} "
            f"| {run['written']} | {run['readUnits']:g} | {run['writeUnits']:g} "
            f"| {per_thousand(run['ecsRequests'], resources):g} "
            f"| {per_thousand(run['readUnits'], resources):g} "
            f"| {per_thousand(run['writeUnits'], resources):g} | {run['wallSeconds']:g} |"
        )
    return f"""# Benchmark: the reconciler

Generated by `python -m bench.reconcile` (bench/reconcile.py): the reconciler's real code
and ECS client configuration, ECS answered by a local stub that enforces ECS's shared read
bucket ({settings["ecs_bucket"]}), the tables in DynamoDB Local, which reports the capacity
each request consumed.

- date: {results["date"]}; commit {results["commit"]}
- machine: {results["machine"]}; load average {" ".join(map(str, results["load"]))} before
- Python {results["python"]}; DynamoDB Local {results["dynamodb_local"]}
- {settings["tasks"]:,} Fargate tasks in {settings["clusters"]} clusters, \
{settings["stopped_fraction"]:.0%} of them stopped; items of about 2 KB;
  ECS_MAX_REQUESTS_PER_SECOND = {settings["max_requests_per_second"]:g}; seed {settings["seed"]}

| run | ECS requests | throttled | written | RCU | WCU | ECS requests / 1,000 \
| RCU / 1,000 | WCU / 1,000 | wall s |
|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|
{chr(10).join(rows)}

Notes:
- ECS requests are HTTP attempts, retries included: the unit ECS's bucket counts. A run
  needs one ListTasks page per 100 running tasks, one per 100 stopped tasks (at least one
  each per cluster) and one DescribeTasks per 100 tasks, whatever changed.
- WCU as DynamoDB Local reports it for PutItem, which includes the index's write (the
  index here projects ALL); a write of a 2 KB item costs 2 units in the table and 2 in
  the index.
- RCU: the cluster Query reads the index entries of every stored record of the cluster,
  eventually consistent (0.5 unit per 4 KB). With the module's default INCLUDE projection
  an entry is a few hundred bytes; with ALL, the whole item. Without an index,
  BatchGetItem costs 0.5 unit per record whatever the projection.
- Wall time is the rate cap's: {settings["max_requests_per_second"]:g} ECS requests a second.
  The writes (8 at a time) fit in the waits between ECS requests, even from empty; the
  crowded bucket adds the throttled attempts and botocore's backoff.
"""


if __name__ == "__main__":
    sys.exit(main())
