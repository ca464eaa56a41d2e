"""Benchmark the shipped handler side by side with the read-then-write baseline.

    python -m bench.run [--seed N] [--workers 1,4,16] [--quick]

Everything runs against DynamoDB Local on this machine, in one run, so the figures to quote
are the ratios and medians; absolute rates say more about the machine than the code.
Writes docs/benchmarks/results.md, results.png and results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import botocore

from bench import coldstart, faults, report
from bench.local import (
    Server,
    admin_client,
    aws_environment,
    create_tables,
    delete_tables,
    dynamodb_local,
    final_state_errors,
    read_items,
)
from bench.replay import BASELINE, HANDLER, NullStream, Result, handler_settings, replay
from bench.stream import StreamShape, build_stream
from ecs_state.events import parse
from ecs_state.items import build_item
from ecs_state.processor import process_event
from ecs_state.store import dynamodb_client
from ecs_state.telemetry import Outcome, Telemetry
from scripts import ecs_events as samples

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "docs" / "benchmarks"
DEFAULT_SEED = 20261122
LAMBDA_RETRIES = 2


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
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
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
        for line in context["lines"]:
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
            fault_report = run_faults(args.seed, server.endpoint, args.fault_workers, args.quick)
            print(json.dumps(fault_report["stream"], default=str), flush=True)
    context["elapsed_s"] = round(time.perf_counter() - started, 1)
    context["load_after"] = _load()
    print(f"total {context['elapsed_s']} s; load average now {context['load_after']}", flush=True)

    args.output.mkdir(parents=True, exist_ok=True)
    report.write_chart(args.output / "results.png", results, cold)
    page = markdown(context, stream, results, cold, fault_report)
    (args.output / "results.md").write_text(page)
    (args.output / "results.json").write_text(
        json.dumps(
            {
                "context": {key: value for key, value in context.items() if key != "lines"},
                "stream": stream.describe(),
                "results": [result.as_dict() for result in results],
                "coldstart": cold,
                "faults": fault_report,
            },
            indent=2,
            default=str,
        )
        + "\n"
    )
    print(f"wrote {args.output / 'results.md'} and results.png", flush=True)
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
    context = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
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
    context["lines"] = [
        f"machine: {context['machine']}; load average {context['load_before']}",
        f"Python {context['python']}, boto3 {context['boto3']}, botocore {context['botocore']}",
        f"DynamoDB Local {context['dynamodb_local']} ({context['java']}) at {server.endpoint}",
        f"seed: {seed}",
        "note: a short run sized for 2 busy cores; quote ratios and medians, not rates",
    ]
    return context


def warm_up(stream, endpoint: str) -> None:
    """Let DynamoDB Local's JIT and both code paths warm up before anything is timed."""
    prefix = type(stream)(
        seed=stream.seed,
        shape=stream.shape,
        deliveries=stream.deliveries[:150],
        latest=stream.latest,
    )
    for implementation in (HANDLER, BASELINE):
        replay(prefix, implementation, 1, endpoint)


def run_configurations(stream, workers: list[int], endpoint: str) -> list[Result]:
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
    """A faulted stream with real backoff, then retry exhaustion per kind of fault."""
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
    rng = random.Random(seed)
    hot = stream.hot[0]
    doomed_events = [(hot, stream.latest[hot][1])]
    doomed_events += rng.sample(sorted(set(stream.events) - set(doomed_events)), 2)
    # Only fast-backoff faults are permanent here: a permanently throttled event takes
    # tens of seconds of real pauses per invocation (see the exhaustion table).
    doomed = dict(
        zip(
            doomed_events,
            (faults.SERVER_ERROR, faults.READ_TIMEOUT, faults.CONNECT_TIMEOUT),
            strict=True,
        )
    )
    injector = faults.FaultInjector(seed, rate=0.1, doomed=doomed)

    def make_process(_worker: int, attach: bool = True):
        return handler_process(settings, injector if attach else None)

    def expected_item(event):
        return build_item(parse(event, settings), settings, time.time())

    print(
        f"faults: {len(stream.deliveries)} deliveries, {workers} workers, 10% of sends faulted, "
        f"{len(doomed)} events failing every send; backoff pauses are real",
        flush=True,
    )
    began = time.perf_counter()
    result = faults.run_deliveries(
        stream.deliveries, make_process, injector, workers, LAMBDA_RETRIES
    )
    seconds = time.perf_counter() - began
    verdict = faults.verify(
        stream.deliveries, result, injector, read_items(admin, tables), expected_item
    )
    below_before = final_state_errors(read_items(admin, tables), stream.latest)

    injector.enabled = False
    redriven = faults.run_deliveries(
        [event for _, event, _ in result.dead_letters],
        lambda worker: make_process(worker, attach=False),
        None,
        workers=2,
    )
    after = read_items(admin, tables)
    after_verdict = faults.verify(
        stream.deliveries,
        faults.LambdaResult(outcomes=dict.fromkeys(range(len(stream.deliveries)), Outcome.STALE)),
        None,
        after,
        expected_item,
    )
    delete_tables(admin, tables)

    invocations = injector.invocations
    landed_then_lost = sum(
        1 for invocation in invocations for send in invocation.sends if send.applied
    )
    stream_report = {
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
        "writes_applied_behind_lost_response": landed_then_lost,
        "outcomes": _count(result.outcomes.values()),
        "unaccounted": len(verdict.unaccounted),
        "table_differs_from_accepted_writes": len(verdict.wrong_version),
        "processed_event_above_table": len(verdict.not_superseded),
        "half_written_items": len(verdict.half_written),
        "below_latest_before_redrive": below_before["below"] + below_before["missing"],
        "redriven": len(result.dead_letters),
        "redrive_dead_lettered": len(redriven.dead_letters),
        "final_state_errors_after_redrive": sum(
            final_state_errors(after, stream.latest)[name] for name in ("below", "missing")
        ),
        "half_written_after_redrive": len(after_verdict.half_written),
        **faults.retry_summary(injector),
    }
    return {"stream": stream_report, "exhaustion": run_exhaustion(endpoint)}


def handler_process(settings, injector: faults.FaultInjector | None = None):
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
                    [event], lambda _worker, i=injector: handler_process(settings, i), injector
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


def _count(values) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


def markdown(
    context: dict[str, Any],
    stream,
    results: list[Result],
    cold: dict[str, Any] | None,
    fault_report: dict[str, Any] | None,
) -> str:
    by_key = {(result.implementation, result.workers): result for result in results}
    lines = [
        "# Benchmark: handler vs read-then-write baseline",
        "",
        "Generated by `python -m bench.run`; see [bench/README.md](../../bench/README.md) for "
        "what each figure means. Both implementations ran side by side in one run against "
        "DynamoDB Local on this machine, which was busy with other work: quote the ratios "
        "and medians, not the absolute rates.",
        "",
        f"- date: {context['date']}; total run time {context['elapsed_s']} s",
        f"- machine: {context['machine']}; load average {context['load_before']} before, "
        f"{context['load_after']} after",
        f"- Python {context['python']}, boto3 {context['boto3']}, botocore {context['botocore']}",
        f"- DynamoDB Local {context['dynamodb_local']} ({context['java']})",
        f"- seed {context['seed']}; stream: {stream.describe()}",
        "",
        "## Throughput, requests, latency, capacity, correctness",
        "",
        report.results_table(results),
        "Final-state errors: records missing or below the highest version the stream "
        "carried for them. WCU reported: what DynamoDB Local returned with "
        "`ReturnConsumedCapacity=TOTAL` (a failed condition returns no figure); WCU billed "
        "(est.): reported plus, for each failed condition, the item's size in 1 KB units, "
        "since DynamoDB bills a failed conditional write.",
        "",
        "### Ratios",
        "",
        report.ratio_table(results),
    ]
    handler_one, baseline_one = by_key.get((HANDLER, 1)), by_key.get((BASELINE, 1))
    if handler_one and baseline_one:
        lines += [
            "### Targets",
            "",
            *_targets(results, handler_one, baseline_one, cold),
            "",
        ]
    if cold:
        lines += [
            "## Cold start (fresh processes)",
            "",
            coldstart.__doc__.split("\n\n", 1)[1].strip(),
            "",
            coldstart_table_text(cold),
        ]
    if fault_report:
        lines += fault_section(fault_report)
    lines += ["", "![results](results.png)", ""]
    return "\n".join(lines)


def coldstart_table_text(cold: dict[str, Any]) -> str:
    return (
        report.coldstart_table(cold)
        + f"\nMedians of {cold['repeats']} runs each. Handler import / (`import boto3` + one "
        f"client): **{cold['handler_import_over_boto3_client']:.2f}x** as a ratio of medians, "
        f"{cold['handler_import_over_boto3_client_paired']:.2f}x as the median of per-round "
        "ratios; the handler's own modules, timed alone, cost "
        f"{cold['handler_own_modules_over_boto3_client']:.0%} of `import boto3` + one client. "
        f"{_instruction_text(cold)}Baseline first event / "
        f"handler first event: **{cold['baseline_first_event_over_handler']:.2f}x**. "
        f"Zip of function/ecs_state/*.py: **{cold['zip_bytes']:,} bytes** "
        f"({len(cold['zip_files'])} files).\n"
    )


def _instruction_text(cold: dict[str, Any]) -> str:
    counts = cold.get("instructions")
    if not counts:
        return "Valgrind was not available to count instructions. "
    return (
        f"Counted in instructions (valgrind callgrind, one run each, net of the "
        f"{counts['interpreter_start_up'] / 1e6:,.0f} M of interpreter start-up), which other "
        f"load cannot distort: handler import {counts['handler_import'] / 1e6:,.0f} M, "
        f"`import boto3` + one client {counts['boto3_import_and_client'] / 1e6:,.0f} M, "
        f"ratio **{cold['handler_import_over_boto3_client_instructions']:.3f}x**. "
    )


def _targets(results, handler_one: Result, baseline_one: Result, cold) -> list[str]:
    def mark(ok: bool) -> str:
        return "met" if ok else "NOT met"

    handler_rows = [r for r in results if r.implementation == HANDLER]
    baseline_rows = [r for r in results if r.implementation == BASELINE]
    ratio = handler_one.events_per_second / baseline_one.events_per_second
    handler_requests = {round(r.requests_per_event, 3) for r in handler_rows}
    baseline_applied = {round(r.requests_per(Outcome.APPLIED), 3) for r in baseline_rows}
    handler_errors = [r.final_state_errors for r in handler_rows]
    racing = [(r.workers, r.final_state_errors) for r in baseline_rows if r.workers >= 4]
    lines = [
        f"- handler requests per event: {sorted(handler_requests)} "
        f"({mark(handler_requests == {1.0})}: exactly 1)",
        f"- baseline requests per applied event: {sorted(baseline_applied)}, per event "
        f"overall: {[round(r.requests_per_event, 2) for r in baseline_rows]} "
        f"({mark(baseline_applied == {2.0})}: 2 per applied event; a stale or duplicate "
        "event costs it the GetItem alone)",
        f"- handler final-state errors at {[r.workers for r in handler_rows]} workers: "
        f"{handler_errors} ({mark(not any(handler_errors))}: 0 everywhere)",
        f"- baseline final-state errors at 4+ workers: "
        f"{', '.join(f'{w} workers: {e}' for w, e in racing)} "
        f"({mark(all(e > 0 for _, e in racing))}: the race shows)",
        f"- handler / baseline throughput at 1 worker: {ratio:.2f}x ({mark(ratio >= 2.0)}: >= 2x)",
    ]
    if cold:
        import_ratio = cold["handler_import_over_boto3_client"]
        paired = cold["handler_import_over_boto3_client_paired"]
        lines += [
            f"- handler import / (import boto3 + one client): {import_ratio:.2f}x as a ratio of "
            f"medians, {paired:.2f}x paired, own modules "
            f"+{cold['handler_own_modules_over_boto3_client']:.0%}"
            + (
                f", {cold['handler_import_over_boto3_client_instructions']:.3f}x in instructions"
                if cold.get("instructions")
                else ""
            )
            + f" ({mark(import_ratio <= 1.1)}: <= 1.1x, judged on the ratio of medians)",
            f"- zip size: {cold['zip_bytes']:,} bytes ({mark(cold['zip_bytes'] < 50 * 1024)}: "
            "< 50 KB)",
        ]
    return lines


def fault_section(fault_report: dict[str, Any]) -> list[str]:
    stream = fault_report["stream"]
    lines = [
        "",
        "## Faults",
        "",
        "Faults are injected with a botocore `before-send` hook on the handler's own client "
        "(bench/faults.py); the handler's code and retry configuration run unchanged. An "
        "invocation that raises is retried like Lambda's asynchronous invocation "
        f"({LAMBDA_RETRIES} retries), then its event goes to a simulated dead-letter list, "
        "which is finally redriven with the faults gone.",
        "",
        f"### Faulted stream ({stream['deliveries']} deliveries, {stream['workers']} workers, "
        f"real backoff pauses, {stream['seconds']} s)",
        "",
        "| measure | value |",
        "|---|--:|",
    ]
    labels = [
        ("sends", "HTTP requests attempted"),
        ("injected", "faults injected, by kind"),
        ("invocations", "invocations (first tries and Lambda retries)"),
        ("invocations_with_retries", "invocations that needed client retries"),
        ("recovered_by_client_retries", "... of which succeeded after retrying"),
        ("attempts_per_invocation", "attempts per invocation: number of invocations"),
        ("invocations_raised", "invocations that raised after exhausting retries"),
        ("recovered_by_lambda_retry", "events saved by a Lambda retry"),
        ("dead_lettered", "events dead-lettered"),
        ("dead_letter_errors", "errors that sent events to the DLQ"),
        ("writes_applied_behind_lost_response", "writes applied whose response was lost"),
        ("outcomes", "outcomes of processed deliveries"),
        ("unaccounted", "deliveries neither processed nor dead-lettered"),
        (
            "table_differs_from_accepted_writes",
            "records differing from the writes DynamoDB accepted",
        ),
        ("processed_event_above_table", "processed events above their stored version"),
        ("half_written_items", "stored items not equal to their event's full item"),
        ("below_latest_before_redrive", "records below their latest version before redrive"),
        ("redriven", "events redriven from the DLQ"),
        ("redrive_dead_lettered", "events dead-lettered again by the redrive"),
        ("final_state_errors_after_redrive", "records below their latest version after redrive"),
        ("half_written_after_redrive", "half-written items after redrive"),
    ]
    for key, label in labels:
        value = stream[key]
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in value.items())
        elif isinstance(value, list):
            value = ", ".join(map(str, value))
        lines.append(f"| {label} | {value} |")
    lines += [
        "",
        "Observed pause before each retry (time between one attempt and the next, seconds):",
        "",
        "| after | retry | count | median | max |",
        "|---|--:|--:|--:|--:|",
    ]
    for key, label in (
        ("delay_after_throttling_s", "throttling"),
        ("delay_after_other_faults_s", "5xx / timeout"),
    ):
        for retry, row in stream[key].items():
            lines.append(
                f"| {label} | {retry} | {row['count']} | {row['median']:.3f} | {row['max']:.3f} |"
            )
    lines += [
        "",
        "### Retries exhausted, per kind of fault (one event failing every send)",
        "",
        "Pauses are the ones botocore's standard retry mode asked for, recorded instead of "
        "slept (a throttled event would otherwise take tens of seconds per invocation).",
        "",
        "| fault | attempts per invocation | raised | pauses of the first invocation (s) "
        "| pauses per invocation (s) | dead-lettered | stored version |",
        "|---|---|---|---|--:|--:|--:|",
    ]
    for row in fault_report["exhaustion"]:
        pauses = ", ".join(map(str, row["pauses_first_invocation_s"]))
        lines.append(
            f"| {row['fault']} | {', '.join(map(str, row['attempts_per_invocation']))} "
            f"| {', '.join(row['raised'])} | {pauses} "
            f"| {row['pause_total_per_invocation_s']} | {row['dead_lettered']} "
            f"| {row['stored_version'] if row['stored_version'] is not None else 'none'} |"
        )
    lines += [
        "",
        "A read timeout here means the request reached DynamoDB and was applied, and only "
        "the answer was lost: the stored version is the event's own, complete, and the "
        "client's retries fail the condition harmlessly.",
    ]
    return lines


if __name__ == "__main__":
    sys.exit(main())
