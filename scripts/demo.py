"""`make demo`: the module's main job on local emulators, every hop on AWS's own engine.

Steps, each timed:
0. existing  tasks already run in the followed cluster (moto's ECS) before the module is
          applied: what an event stream alone never learns about;
1. apply  start moto's server (control plane) and DynamoDB Local (data plane); apply
          examples/ec2 to moto with OpenTofu (the real module and provider); read the
          rule's pattern and the function's handler, runtime and environment back from
          moto; create the function's tables in DynamoDB Local;
2. pipeline  send a busy bus's events (the followed cluster, other clusters, other ECS
          detail-types, another source, duplicates, malformed events, shuffled) through
          event-ruler with the applied pattern, and each delivered one to the applied zip
          running under the Lambda Runtime Interface Emulator (scripts/pipeline.py);
3. report  per cluster and kind what was delivered and what the function did, the stored
          state by status, and whether every record is the latest delivered version;
4. backfill  one reconciler run (ecs_state.reconcile) against moto's ECS: the tasks of
          step 0 appear in the table, written through the same conditional PutItem;
5. query  `python -m ecs_state.query tasks --cluster web --status RUNNING` (the
          `ecs-state` command) on the cluster-status index of the demo's task table;
6. destroy  tear everything down, also on Ctrl-C.

Exits 1 if any record is wrong, 2 when an engine is missing ("SKIPPED: ..."), 130 on Ctrl-C.
`--verbose` lists every resource.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from ecs_state.reconcile import Reconciler, ReconcileSettings
from ecs_state.telemetry import Telemetry
from scripts.ecs_events import mixed_stream
from scripts.pipeline import (
    FAILED,
    NOT_DELIVERED,
    REJECTED,
    ROOT,
    STORED_KINDS,
    AppliedFunction,
    LocalExample,
    PipelineRun,
    PipelineUnavailable,
    Record,
    apply_and_read,
    emulator_client,
    latest_delivered,
    record_of,
    require_engines,
    run_pipeline,
    stored_records,
    stream_clusters,
)
from tools.emulators import Emulator, dynamodb_local, moto_server, pin_task_states

__all__ = ["ROOT", "LocalExample", "main"]  # tests/examples applies examples with it

EXAMPLE = ROOT / "examples" / "ec2"
SEED = 20261122
EXISTING_TASKS = 12  # running before the apply; only the reconciler can find them
OUTCOMES = (NOT_DELIVERED, "applied", "stale-or-duplicate", REJECTED, FAILED)
TASK_KINDS = {"EC2": "task, EC2", "FARGATE": "task, FARGATE", None: "task, Spot (no launchType)"}
KIND_NAMES = {
    "ECS Container Instance State Change": "container instance",
    "ECS Service Action": "service action",
    "ECS Deployment State Change": "deployment",
    "EC2 Instance State-change Notification": "EC2 instance state",
}


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def cluster_of(event: dict) -> str:
    """The cluster an event is about, by name; its source when it is not an ECS event."""
    if event.get("source") != "aws.ecs":
        return f"({event.get('source')})"
    detail = event.get("detail") or {}
    if "clusterArn" in detail:
        return str(detail["clusterArn"]).rsplit("/", 1)[-1]
    # Deployment events name the cluster only in their service ARN.
    for resource in event.get("resources", []):
        if ":service/" in resource:
            return resource.split(":service/", 1)[1].split("/")[0]
    return "?"


def kind_of(event: dict) -> str:
    detail_type = event.get("detail-type", "")
    if detail_type == "ECS Task State Change":
        return TASK_KINDS.get((event.get("detail") or {}).get("launchType"), "task, other")
    return KIND_NAMES.get(detail_type, detail_type)


class Progress:
    """A live bar on a terminal; elsewhere (CI, a pipe) a plain line every tenth."""

    def __init__(self, label: str):
        self.label = label
        self.tty = sys.stderr.isatty()
        self.shown = -1

    def __call__(self, done: int, total: int) -> None:
        if self.tty:
            width = 40
            filled = width * done // total
            bar = "#" * filled + "." * (width - filled)
            sys.stderr.write(f"\r  {self.label} [{bar}] {done}/{total}")
            if done == total:
                sys.stderr.write("\n")
            sys.stderr.flush()
            return
        tenth = 10 * done // total
        if tenth != self.shown:
            self.shown = tenth
            say(f"  {self.label} {done}/{total}")


@dataclass
class Demo:
    """One demo run. Each step is a method; `steps()` says their order.

    The read side (`python -m ecs_state.query tasks --table T --cluster C --status RUNNING`
    against `self.function`'s tables) and a reconciler backfill are to come as two more
    steps after "pipeline": a method each, listed in `steps()`, reading what earlier steps
    left on `self`. Every step listed is timed and its time reported.
    """

    moto: Emulator
    dynamodb: Emulator
    verbose: bool = False
    seed: int = SEED
    example: LocalExample | None = None
    function: AppliedFunction | None = None
    run: PipelineRun | None = None
    wrong: int = 0
    existing: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def steps(self) -> list[tuple[str, Callable[[], None]]]:
        return [
            ("existing", self.start_existing_tasks),
            ("apply", self.apply),
            ("pipeline", self.pipeline),
            ("report", self.report),
            ("backfill", self.backfill),
            ("query", self.query),
        ]

    def start_existing_tasks(self) -> None:
        """Tasks that run before the module exists: no event of theirs will ever come."""
        ecs = emulator_client("ecs", self.moto.endpoint)
        pin_task_states(self.moto.endpoint)  # moto would move them a step on every read
        cluster = ecs.create_cluster(clusterName=FOLLOWED_CLUSTER)["cluster"]["clusterArn"]
        definition = ecs.register_task_definition(
            family="api",
            containerDefinitions=[{"name": "api", "image": "api:1", "memory": 256, "cpu": 128}],
        )["taskDefinition"]["taskDefinitionArn"]
        while len(self.existing) < EXISTING_TASKS:
            started = ecs.run_task(
                cluster=cluster,
                taskDefinition=definition,
                count=min(10, EXISTING_TASKS - len(self.existing)),  # ECS's most per call
                launchType="FARGATE",
                startedBy="before-apply",
            )["tasks"]
            self.existing += [task["taskArn"] for task in started]
        # An EC2 cluster has its instances; moto also needs one to describe any (KeyError).
        (instance,) = emulator_client("ec2", self.moto.endpoint).run_instances(
            ImageId="ami-12c6146b", MinCount=1, MaxCount=1
        )["Instances"]
        ecs.register_container_instance(
            cluster=cluster,
            instanceIdentityDocument=json.dumps({"instanceId": instance["InstanceId"]}),
        )
        say(
            f"{len(self.existing)} tasks and 1 container instance already in {cluster} "
            "before the apply"
        )

    def apply(self) -> None:
        self.example = LocalExample(EXAMPLE, self.moto.endpoint)
        say(f"applying examples/{EXAMPLE.name} to moto with {self.example.binary} ...")
        self.function = apply_and_read(self.example, self.moto.endpoint, self.dynamodb.endpoint)
        function = self.function
        say(
            f"  rule {function.rule_name}: {function.event_pattern}\n"
            f"  function {function.name}: {function.runtime}, handler {function.handler}, "
            f"LAUNCH_TYPE={function.environment.get('LAUNCH_TYPE')}, "
            f"zip {function.package.name} ({function.package.stat().st_size} bytes)"
        )

    def pipeline(self) -> None:
        assert self.function is not None
        events = mixed_stream(
            self.seed,
            stream_clusters(self.function),
            tasks_per_cluster=36,
            instances_per_ec2_cluster=6,
        )
        say(
            f"routing {len(events)} events through event-ruler, invoking the function under "
            "aws-lambda-rie for each delivered one ..."
        )
        self.run = run_pipeline(
            self.function, events, self.dynamodb.endpoint, Progress("invocations")
        )

    def report(self) -> None:
        assert self.run is not None and self.function is not None
        run = self.run
        print_outcomes(run)
        stored = stored_records(self.function, self.dynamodb.endpoint)
        print_stored(self.function, stored)
        expected = latest_delivered(run)
        if self.verbose:
            print_resources(expected, stored)
        self.wrong = print_verdict(run, expected, stored)

    def backfill(self) -> None:
        """One reconciler run, as the scheduled function would make it, on moto's ECS."""
        assert self.function is not None
        environment = dict(self.function.environment)
        environment["CLUSTER_ARNS"] = ",".join(self.function.followed_clusters or [])
        settings = ReconcileSettings.from_env(environment)
        ecs = emulator_client("ecs", self.moto.endpoint)
        ecs.meta.events.register("after-call.ecs.DescribeTasks", give_versions)
        ecs.meta.events.register("after-call.ecs.DescribeContainerInstances", give_versions)
        dynamodb = emulator_client("dynamodb", self.dynamodb.endpoint)
        reconciler = Reconciler(
            settings, ecs, dynamodb, Telemetry.from_settings(settings.base, io.StringIO())
        )
        summary = reconciler.run()
        table = self.function.environment["TASK_TABLE_NAME"]
        stored = dynamodb.batch_get_item(
            RequestItems={
                table: {
                    "Keys": [{"taskArn": {"S": arn}} for arn in self.existing],
                    "ProjectionExpression": "taskArn, #source",
                    "ExpressionAttributeNames": {"#source": "_source"},
                }
            }
        )["Responses"][table]
        found = sum(item.get("_source", {}).get("S") == "reconcile" for item in stored)
        tasks, instances = summary["resources"]["task"], summary["resources"]["container-instance"]
        say(
            f"\nbackfill: one reconciler run, {summary['ecsRequests']} ECS requests: listed "
            f"{tasks['listed']} tasks and {instances['listed']} container instances, wrote "
            f"{tasks['written'] + instances['written']}, marked "
            f"{tasks['markedMissing'] + instances['markedMissing']} missing; {found} of the "
            f"{len(self.existing)} tasks that ran before the apply are now stored"
        )
        if found != len(self.existing):
            self.wrong += 1

    def query(self) -> None:
        """The read side, as a user runs it: the ecs-state command on the index, checked
        against what the table holds."""
        assert self.function is not None
        table = self.function.environment["TASK_TABLE_NAME"]
        # The full ARN: a short name would take its account from the table's ARN, which in
        # DynamoDB Local is 000000000000, not the account moto gave the cluster.
        (cluster,) = self.function.followed_clusters or []
        command = [
            sys.executable, "-m", "ecs_state.query", "tasks",
            "--table", table, "--cluster", cluster, "--status", "RUNNING",
        ]  # fmt: skip
        # The pipeline's dummy credentials: DynamoDB Local keeps a database per access key.
        answer = subprocess.run(
            command,
            env={
                **os.environ,
                "PYTHONPATH": str(ROOT / "function"),
                "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb.endpoint,
                "AWS_ACCESS_KEY_ID": "demo",
                "AWS_SECRET_ACCESS_KEY": "demo",
                "AWS_DEFAULT_REGION": "us-east-1",
            },
            capture_output=True,
            text=True,
            check=False,
        )
        header, *rows = answer.stdout.splitlines() or [""]
        say(f"\n$ ecs-state tasks --table {table} --cluster {cluster} --status RUNNING")
        shown = rows if self.verbose else rows[:5]
        say("\n".join([header, *shown]))
        if len(shown) < len(rows):
            say(f"... {len(rows) - len(shown)} more (ARGS=--verbose lists them)")
        running = sum(
            record.kind == "task" and record.status == "RUNNING" and record.cluster == cluster
            for record in stored_records(self.function, self.dynamodb.endpoint).values()
        )
        verdict = "equals" if answer.returncode == 0 and len(rows) == running else "DIFFERS from"
        say(f"{len(rows)} RUNNING tasks listed from the index: {verdict} the {running} stored")
        if verdict != "equals":
            say(answer.stderr.strip())
            self.wrong += 1


FOLLOWED_CLUSTER = "web"  # examples/ec2 follows it


def give_versions(parsed: dict, **_: object) -> None:
    """moto's tasks and container instances carry no `version`, which ECS's always do; the
    demo gives them one, as the reconciler tests do (tests/support/ecs.py)."""
    for found in (*parsed.get("tasks", []), *parsed.get("containerInstances", [])):
        found.setdefault("version", 1)


def print_outcomes(run: PipelineRun) -> None:
    rows: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for delivery in run.deliveries:
        rows[cluster_of(delivery.event), kind_of(delivery.event)][delivery.outcome] += 1
    followed = {arn.rsplit("/", 1)[1] for arn in run.function.followed_clusters or []}
    header = ("cluster", "kind", "delivered", "not delivered", "applied", "stale/duplicate")
    header += ("rejected", "failed")
    widths = (10, 26, 9, 13, 7, 15, 8, 6)
    line = " ".join(f"{{:{'<' if i < 2 else '>'}{w}}}" for i, w in enumerate(widths))
    shown_followed = ", ".join(sorted(followed)) or "every cluster"
    print(f"\nevents by cluster and kind (* the cluster the rule follows: {shown_followed})")
    print(line.format(*header))
    total: Counter = Counter()
    for (cluster, kind), counts in sorted(
        rows.items(), key=lambda kv: (kv[0][0] not in followed, kv[0])
    ):
        total.update(counts)
        delivered = sum(counts.values()) - counts[NOT_DELIVERED]
        shown = [cluster + (" *" if cluster in followed else ""), kind, delivered or "-"]
        print(line.format(*shown, *(counts[o] or "-" for o in OUTCOMES)))
    delivered = sum(total.values()) - total[NOT_DELIVERED]
    print(
        line.format(
            "total", f"{sum(total.values())} events", delivered, *(total[o] for o in OUTCOMES)
        )
    )


def print_stored(function: AppliedFunction, stored: dict[str, Record]) -> None:
    print("\nstored state in DynamoDB Local, by status")
    by_kind: dict[str, Counter] = defaultdict(Counter)
    for record in stored.values():
        by_kind[record.kind][record.status] += 1
    for detail_type, (kind, *_) in STORED_KINDS.items():
        table = function.table_of(detail_type)
        if table is not None:
            statuses = by_kind[kind]
            listed = ", ".join(f"{status} {count}" for status, count in statuses.most_common())
            noun = kind.replace("-", " ") + "s"
            print(f"  {table:<28} {sum(statuses.values()):>4} {noun}: {listed or '-'}")


def print_resources(expected: dict[str, Record], stored: dict[str, Record]) -> None:
    print(f"\n{'resource':<60} {'kind':<18} {'latest delivered':<22} {'stored':<22} ok")
    for arn in sorted(set(expected) | set(stored)):
        want, got = expected.get(arn), stored.get(arn)
        kind = want.kind if want else stored[arn].kind
        print(
            f"{arn.split(':', 5)[5]:<60} {kind:<18} "
            f"{f'v{want.version} {want.status}' if want else 'not delivered':<22} "
            f"{f'v{got.version} {got.status}' if got else 'missing':<22} "
            f"{'yes' if want == got else 'NO'}"
        )


def print_verdict(run: PipelineRun, expected: dict[str, Record], stored: dict[str, Record]) -> int:
    """One line on the records, one per other problem; returns how many things are wrong."""
    wrong_records = sorted(
        arn for arn in set(expected) | set(stored) if expected.get(arn) != stored.get(arn)
    )
    problems = []
    unstorable = sum(
        d.delivered and record_of(d.event, run.function) is None for d in run.deliveries
    )
    outcomes = Counter(d.outcome for d in run.deliveries)
    if outcomes[REJECTED] != unstorable:
        problems.append(f"{outcomes[REJECTED]} events rejected, expected {unstorable}")
    if outcomes[FAILED]:
        problems.append(f"{outcomes[FAILED]} invocations failed (not InvalidEventError)")
    if sorted(run.request_ids_seen) != sorted(i.request_id for i in run.invocations):
        problems.append(
            f"the RIE started {len(run.request_ids_seen)} invocations for "
            f"{len(run.invocations)} delivered events"
        )
    kinds = Counter(record.kind for record in stored.values())
    counted = ", ".join(
        f"{count} {kind.replace('-', ' ')}s" for kind, count in sorted(kinds.items())
    )
    print()
    if wrong_records:
        print(
            f"{len(wrong_records)} of {len(set(expected) | set(stored))} stored records are NOT "
            "the latest delivered version (run with --verbose for the list)"
        )
    else:
        print(f"every stored record equals the latest delivered version ({counted})")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return len(wrong_records) + len(problems)


def print_timings(demo: Demo) -> None:
    parts = [f"{name} {seconds:.1f} s" for name, seconds in demo.timings.items()]
    print(f"\nwall time: {', '.join(parts)}")
    run = demo.run
    if run is not None and run.invocations:
        times = [i.elapsed_ms for i in run.invocations]
        print(
            f"pipeline: routing {run.routing_s:.1f} s, then {len(times)} invocations: the first "
            f"{times[0]:.0f} ms (init), then median {statistics.median(times[1:] or times):.1f} ms"
        )


def timed(demo: Demo, name: str, step: Callable[[], None]) -> None:
    started = time.perf_counter()
    step()
    demo.timings[name] = time.perf_counter() - started
    say(f"  {name}: {demo.timings[name]:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo ARGS=...", description=__doc__.split("\n")[0])
    parser.add_argument("--verbose", action="store_true", help="list every resource")
    parser.add_argument("--seed", type=int, default=SEED, help="seed of the event stream")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        require_engines()
        with moto_server() as moto, dynamodb_local() as local:
            say(f"moto's server on {moto.endpoint}, DynamoDB Local on {local.endpoint}")
            demo = Demo(moto, local, verbose=args.verbose, seed=args.seed)
            try:
                for name, step in demo.steps():
                    timed(demo, name, step)
            finally:
                if demo.example is not None:
                    say("tearing down ...")
                    timed(demo, "destroy", demo.example.destroy)
            print_timings(demo)
            return 1 if demo.wrong else 0
    except PipelineUnavailable as error:
        print(f"SKIPPED: demo: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        say("\ninterrupted: torn down")
        return 130


if __name__ == "__main__":
    sys.exit(main())
