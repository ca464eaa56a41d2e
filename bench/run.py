"""Benchmark the shipped handler side by side with the read-then-write baseline.

    python -m bench.run [--seed N] [--workers 1,4,16] [--quick]

Everything runs against DynamoDB Local on this machine, in one run, so the figures to quote
are the ratios and medians; absolute rates say more about the machine than the code. This
module measures; bench/report.py writes docs/benchmarks/results.json, results.md and
results.png from what it measured, the commit and the handler settings included.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import botocore

from bench import coldstart, faults, report
from bench.local import (
    LAMBDA_RETRIES,
    Server,
    TablePair,
    admin_client,
    aws_environment,
    create_tables,
    delete_tables,
    dynamodb_local,
    module_default,
    read_items,
)
from bench.replay import BASELINE, HANDLER, NullStream, Result, handler_settings, replay
from bench.stream import Stream, StreamShape, build_stream
from ecs_state.config import Settings
from ecs_state.processor import process_event
from ecs_state.store import dynamodb_client
from ecs_state.telemetry import Telemetry
from scripts import ecs_events as samples

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SEED = 20261122
# What the handler's figures depend on; a run names those that differ from its commit.
SOURCES = (
    "function/ecs_state",
    "function.zip",
    *(f"bench/{name}.py" for name in ("run", "replay", "stream", "baseline", "instrument")),
    *(f"bench/{name}.py" for name in ("local", "coldstart", "faults")),
    "scripts/ecs_events.py",
)


def handler_configuration() -> dict[str, Any]:
    """What the measured handler runs with, read from the code rather than restated: its
    Settings (table names aside), the client store.dynamodb_client builds from them, and
    the module's defaults that frame an invocation. results.json records it;
    tests/bench/test_results.py compares the committed one with the code's."""
    settings = handler_settings(TablePair(task="task", container_instance="container-instance"))
    config = dynamodb_client(settings).meta.config
    return {
        "settings": {
            name: value
            for name, value in dataclasses.asdict(settings).items()
            if name not in ("task_table", "container_instance_table")
        },
        "client": {
            "retries": dict(config.retries or {}),
            "connect_timeout_s": config.connect_timeout,
            "read_timeout_s": config.read_timeout,
        },
        "module": {
            "timeout": module_default("timeout"),
            "lambda_maximum_retry_attempts": LAMBDA_RETRIES,
        },
    }


def git(*arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed arguments, no shell
        ["git", "-C", str(ROOT), *arguments],  # noqa: S607 - git from PATH, as developers run it
        capture_output=True,
        text=True,
        check=check,
        timeout=10,
    )


def source_state() -> dict[str, Any]:
    """The commit measured, and which of the files the figures depend on differ from it."""
    changed = git("status", "--porcelain", "--", *SOURCES).stdout.splitlines()
    head = git("rev-parse", "HEAD").stdout.strip()
    return {"commit": head, "uncommitted": [line[3:] for line in changed]}


def sources_changed(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Whether the files the figures depend on differ between two source states. Commits
    to other files (the tree is shared) do not count; edits in progress cannot be
    compared, so any difference in them does."""
    if before["uncommitted"] or after["uncommitted"]:
        return bool(before != after)
    diff = git("diff", "--quiet", before["commit"], after["commit"], "--", *SOURCES, check=False)
    return diff.returncode != 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--workers", default="1,4,16", help="comma-separated worker counts")
    parser.add_argument("--resources", type=int, default=StreamShape.resources)
    parser.add_argument("--hot-resources", type=int, default=StreamShape.hot_resources)
    parser.add_argument("--hot-versions", type=int, default=StreamShape.hot_versions)
    parser.add_argument("--coldstart-repeats", type=int, default=15)
    parser.add_argument("--fault-workers", type=int, default=8)
    parser.add_argument("--skip-coldstart", action="store_true")
    parser.add_argument(
        "--skip-instructions",
        action="store_true",
        help="do not count the import probes' instructions with valgrind (about 1 minute)",
    )
    parser.add_argument("--skip-faults", action="store_true")
    parser.add_argument(
        "--quick", action="store_true", help="a small smoke run (not for quoting figures)"
    )
    parser.add_argument("--output", type=Path, default=report.DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    if args.quick:
        args.resources, args.hot_resources, args.hot_versions = 40, 2, 20
        args.coldstart_repeats = 3
    workers = [int(count) for count in args.workers.split(",") if count.strip()]
    shape = StreamShape(
        resources=args.resources,
        hot_resources=args.hot_resources,
        hot_versions=args.hot_versions,
    )

    started = time.perf_counter()
    with dynamodb_local() as server:
        os.environ.update(aws_environment(server.endpoint))
        os.environ.pop("AWS_PROFILE", None)
        context = environment(server, args.seed)
        for line in describe(context, server):
            print(line, flush=True)
        stream = build_stream(args.seed, shape)
        print(f"stream: {stream.describe()}", flush=True)

        warm_up(stream, server.endpoint)
        results = run_configurations(stream, workers, server.endpoint)
        cold = None
        if not args.skip_coldstart:
            print(f"cold start: {args.coldstart_repeats} fresh processes per probe", flush=True)
            cold = run_coldstart(
                server.endpoint, args.coldstart_repeats, not args.skip_instructions
            ).as_dict()
            print(json.dumps(cold["median_ms"]), flush=True)
        fault_report = None
        if not args.skip_faults:
            fault_report = {
                "stream": run_faults(args.seed, server.endpoint, args.fault_workers, args.quick),
                "exhaustion": run_exhaustion(server.endpoint),
            }
            print(json.dumps(fault_report["stream"], default=str), flush=True)
    context["elapsed_s"] = round(time.perf_counter() - started, 1)
    # A commit or an edit landing while the run measures leaves figures of neither state;
    # the record says so instead of naming the first one alone.
    after = source_state()
    if sources_changed(context["source"], after):
        context["source_changed_during_run"] = after
        print(f"warning: sources changed during the run: {report.source_text(after)}", flush=True)
    context["load_after"] = _load()
    print(f"total {context['elapsed_s']} s; load average now {context['load_after']}", flush=True)

    report.write(
        args.output,
        {
            "context": context,
            "stream": stream.describe(),
            "results": [result.as_dict() for result in results],
            "coldstart": cold,
            "faults": fault_report,
        },
    )
    print(f"wrote {args.output / 'results.md'}, results.json and results.png", flush=True)
    return 0


def _load() -> str:
    try:
        return " ".join(f"{value:.1f}" for value in os.getloadavg())
    except OSError:
        return "n/a"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _java_version() -> str:
    try:
        from tools.emulators import find_java

        # Our own lookup of java, fixed arguments, no shell.
        completed = subprocess.run(  # noqa: S603
            [find_java(), "-version"], capture_output=True, text=True, timeout=30, check=False
        )
        return (completed.stderr or completed.stdout).splitlines()[0].strip()
    except Exception:
        return "unknown"


def environment(server: Server, seed: int) -> dict[str, Any]:
    """What the figures were measured on and with: machine, versions, source, settings."""
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "source": source_state(),
        "handler": handler_configuration(),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs "
        f"({_cpu_model()})",
        "load_before": _load(),
        "python": platform.python_version(),
        "boto3": boto3.__version__,
        "botocore": botocore.__version__,
        "dynamodb_local": server.version,
        "java": _java_version(),
        "seed": seed,
    }


def describe(context: dict[str, Any], server: Server) -> list[str]:
    return [
        f"machine: {context['machine']}; load average {context['load_before']}",
        f"Python {context['python']}, boto3 {context['boto3']}, botocore {context['botocore']}",
        f"DynamoDB Local {context['dynamodb_local']} ({context['java']}) at {server.endpoint}",
        f"{report.source_text(context['source'])}; seed {context['seed']}",
        f"handler: {json.dumps(context['handler'])}",
        "note: a short run sized for 2 busy cores; quote ratios and medians, not rates",
    ]


def warm_up(stream: Stream, endpoint: str) -> None:
    """Let DynamoDB Local's JIT and both code paths warm up before anything is timed."""
    prefix = Stream(
        seed=stream.seed,
        shape=stream.shape,
        deliveries=stream.deliveries[:150],
        latest=stream.latest,
    )
    for implementation in (HANDLER, BASELINE):
        replay(prefix, implementation, 1, endpoint)


def run_configurations(stream: Stream, workers: list[int], endpoint: str) -> list[Result]:
    results = []
    for index, count in enumerate(workers):
        # Alternate which one goes first, so neither always meets the same background load.
        order = (HANDLER, BASELINE) if index % 2 == 0 else (BASELINE, HANDLER)
        for implementation in order:
            result, _ = replay(stream, implementation, count, endpoint)
            results.append(result)
            print(
                f"{implementation:8} workers={count:<3} {result.events_per_second:8.1f} events/s "
                f"requests/event={result.requests_per_event:.2f} p50={result.p50_ms:.1f} ms "
                f"p99={result.p99_ms:.1f} ms final-state errors={result.final_state_errors} "
                f"({result.seconds:.1f} s)",
                flush=True,
            )
    order = {HANDLER: 0, BASELINE: 1}
    return sorted(results, key=lambda result: (order[result.implementation], result.workers))


def run_coldstart(endpoint: str, repeats: int, count_instructions: bool) -> coldstart.ColdStart:
    admin = admin_client(endpoint)
    tables = create_tables(admin, "coldstart")
    events = [
        samples.task_event(samples.task_arn(uuid.uuid4().hex), 1, "PENDING")
        for _ in range(2 * repeats)
    ]
    try:
        return coldstart.measure(
            endpoint,
            {"task": tables.task, "container_instance": tables.container_instance},
            events,
            repeats,
            count_instructions,
        )
    finally:
        delete_tables(admin, tables)


def run_faults(seed: int, endpoint: str, workers: int, quick: bool) -> dict[str, Any]:
    """A stream with 10 % of sends faulted and real backoff pauses: how often the client's
    retries save an invocation, how long they pause, and what Lambda's retries leave to the
    dead-letter queue. What such a run must end with is tests/bench/test_faults.py's to
    prove; this only measures."""
    admin = admin_client(endpoint)
    shape = StreamShape(
        resources=30 if quick else 60,
        hot_resources=2,
        hot_versions=20 if quick else 30,
        cold_versions=(2, 6),
    )
    stream = build_stream(seed + 1, shape)
    tables = create_tables(admin, "faults")
    settings = handler_settings(tables)
    # Only fast-backoff faults are permanent here: a permanently throttled event takes
    # tens of seconds of real pauses per invocation (see the exhaustion table).
    doomed = faults.doomed_events(
        stream, (faults.SERVER_ERROR, faults.READ_TIMEOUT, faults.CONNECT_TIMEOUT), seed
    )
    injector = faults.FaultInjector(seed, rate=0.1, doomed=doomed)
    print(
        f"faults: {len(stream.deliveries)} deliveries, {workers} workers, 10% of sends faulted, "
        f"{len(doomed)} events failing every send; backoff pauses are real",
        flush=True,
    )
    began = time.perf_counter()
    try:
        result = faults.run_deliveries(
            stream.deliveries,
            lambda _worker: handler_process(settings, injector),
            injector,
            LAMBDA_RETRIES,
            workers,
        )
    finally:
        delete_tables(admin, tables)
    seconds = time.perf_counter() - began

    invocations = injector.invocations
    return {
        "deliveries": len(stream.deliveries),
        "workers": workers,
        "seconds": round(seconds, 1),
        "sends": sum(len(invocation.sends) for invocation in invocations),
        "injected": dict(injector.injected),
        "invocations": len(invocations),
        "invocations_with_retries": sum(1 for i in invocations if len(i.sends) > 1),
        "recovered_by_client_retries": sum(
            1 for i in invocations if len(i.sends) > 1 and i.outcome is not None
        ),
        "invocations_raised": result.raised,
        "recovered_by_lambda_retry": sum(
            1 for i in invocations if i.attempt > 0 and i.outcome is not None
        ),
        "dead_lettered": len(result.dead_letters),
        "dead_letter_errors": sorted(
            {error for _, _, errors in result.dead_letters for error in errors}
        ),
        "writes_applied_behind_lost_response": sum(
            1 for invocation in invocations for send in invocation.sends if send.applied
        ),
        "outcomes": dict(Counter(result.outcomes.values())),
        **faults.retry_summary(injector),
    }


def handler_process(
    settings: Settings, injector: faults.FaultInjector | None = None
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """One execution environment of the handler: its client (faulted or not) and telemetry."""
    client = dynamodb_client(settings)
    if injector is not None:
        injector.attach(client)
    telemetry = Telemetry.from_settings(settings, NullStream())

    def process(event: dict[str, Any]) -> dict[str, Any]:
        return process_event(event, settings, client, telemetry)

    return process


def run_exhaustion(endpoint: str) -> list[dict[str, Any]]:
    """One event whose every send fails, per kind: attempts, pauses asked for, what raised."""
    admin = admin_client(endpoint)
    tables = create_tables(admin, "exhaustion")
    settings = handler_settings(tables)
    rows = []
    try:
        for kind in faults.KINDS:
            event = samples.task_event(samples.task_arn(uuid.uuid4().hex), 7)
            arn = event["detail"]["taskArn"]
            injector = faults.FaultInjector(0, doomed={(arn, 7): kind})

            with faults.recorded_backoff() as pauses:
                result = faults.run_deliveries(
                    [event],
                    lambda _worker, i=injector: handler_process(settings, i),
                    injector,
                    LAMBDA_RETRIES,
                )
            stored = read_items(admin, tables).get(arn)
            first = injector.invocations[0]
            rows.append(
                {
                    "fault": kind,
                    "attempts_per_invocation": [len(i.sends) for i in injector.invocations],
                    "raised": sorted({i.error for i in injector.invocations if i.error}),
                    "pauses_first_invocation_s": [
                        round(pause, 3) for pause in pauses[: len(first.sends) - 1]
                    ],
                    "pause_total_per_invocation_s": round(
                        sum(pauses) / len(injector.invocations), 2
                    ),
                    "dead_lettered": len(result.dead_letters),
                    "stored_version": int(stored["version"]["N"]) if stored else None,
                }
            )
    finally:
        delete_tables(admin, tables)
    return rows


if __name__ == "__main__":
    sys.exit(main())
