"""Replay one stream through one implementation with N concurrent workers.

A worker is one Lambda execution environment: a thread with its own boto3 state. The
shipped handler gets a client built once per worker (Lambda reuses it between
invocations); the baseline gets a boto3 session per worker (the environment's default
session) and builds its client on every invocation, as the AWS example does.
"""

from __future__ import annotations

import queue
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3

from bench import baseline
from bench.instrument import RequestStats, instrument
from bench.local import TablePair, admin_client, create_tables, delete_tables, final_state_errors
from bench.local import read_items as read_all_items
from bench.stream import Stream
from ecs_state.config import Settings
from ecs_state.processor import process_event
from ecs_state.store import dynamodb_client
from ecs_state.telemetry import Outcome, Telemetry

HANDLER = "handler"
BASELINE = "baseline"
IMPLEMENTATIONS = (HANDLER, BASELINE)


class NullStream:
    """Where log lines go during a measurement: formatted, then dropped."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


@dataclass
class Result:
    implementation: str
    workers: int
    deliveries: int
    seconds: float
    stats: RequestStats
    latencies_ms: list[float]
    outcomes: Counter
    invocation_errors: Counter
    final_errors: dict[str, int]
    # outcome -> HTTP requests sent while processing events with that outcome
    requests_by_outcome: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    @property
    def events_per_second(self) -> float:
        return self.deliveries / self.seconds if self.seconds else 0.0

    @property
    def requests_per_event(self) -> float:
        return self.stats.sent / self.deliveries

    def requests_per(self, outcome: str) -> float:
        events = self.outcomes.get(outcome, 0)
        return self.requests_by_outcome[outcome] / events if events else float("nan")

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies_ms, 50)

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies_ms, 99)

    @property
    def wcu_per_event(self) -> float:
        return self.stats.write_units / self.deliveries

    @property
    def wcu_billed_per_event(self) -> float:
        return (self.stats.write_units + self.stats.failed_condition_units) / self.deliveries

    @property
    def rcu_per_event(self) -> float:
        return self.stats.read_units / self.deliveries

    @property
    def final_state_errors(self) -> int:
        return self.final_errors["missing"] + self.final_errors["below"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "implementation": self.implementation,
            "workers": self.workers,
            "deliveries": self.deliveries,
            "seconds": round(self.seconds, 3),
            "events_per_second": round(self.events_per_second, 1),
            "requests_per_event": round(self.requests_per_event, 3),
            "requests_by_operation": dict(self.stats.sent_by_operation),
            "requests_per_applied_event": round(self.requests_per(Outcome.APPLIED), 3),
            "requests_per_stale_or_duplicate_event": round(self.requests_per(Outcome.STALE), 3),
            "p50_ms": round(self.p50_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
            "wcu_per_event_reported": round(self.wcu_per_event, 3),
            "wcu_per_event_billed_estimate": round(self.wcu_billed_per_event, 3),
            "rcu_per_event_reported": round(self.rcu_per_event, 3),
            "capacity_reports": self.stats.capacity_reports,
            "failed_conditions": self.stats.failed_conditions,
            "outcomes": dict(self.outcomes),
            "invocation_errors": dict(self.invocation_errors),
            "final_state": self.final_errors,
        }


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(pct) - 1]


def handler_settings(tables: TablePair) -> Settings:
    return Settings(
        launch_type="EC2",
        task_table=tables.task,
        container_instance_table=tables.container_instance,
    )


def make_worker(
    implementation: str, tables: TablePair, stats: RequestStats
) -> Callable[[dict[str, Any]], str]:
    """Build one execution environment's state and return its per-event function."""
    if implementation == HANDLER:
        settings = handler_settings(tables)
        client = dynamodb_client(settings)  # once per environment, as in the handler module
        instrument(client.meta.events, stats)
        telemetry = Telemetry.from_settings(settings, NullStream())

        def run_handler(event: dict[str, Any]) -> str:
            return process_event(event, settings, client, telemetry)["outcome"]

        return run_handler
    if implementation == BASELINE:
        session = boto3.session.Session()
        instrument(session.events, stats)
        baseline_tables = baseline.Tables(tables.task, tables.container_instance)
        log = NullStream()

        def run_baseline(event: dict[str, Any]) -> str:
            return baseline.handle(event, baseline_tables, session=session, log=log)

        return run_baseline
    raise ValueError(f"unknown implementation {implementation!r}")


def replay(
    stream: Stream, implementation: str, workers: int, endpoint: str, keep_tables: bool = False
) -> tuple[Result, TablePair]:
    """Replay the stream against fresh tables; the process env must point at the endpoint."""
    admin = admin_client(endpoint)
    tables = create_tables(admin, f"{implementation}-{workers}")
    work: queue.SimpleQueue = queue.SimpleQueue()
    for event in stream.deliveries:
        work.put(event)
    per_worker = [RequestStats() for _ in range(workers)]
    latencies: list[list[float]] = [[] for _ in range(workers)]
    outcomes: list[Counter] = [Counter() for _ in range(workers)]
    failures: list[Counter] = [Counter() for _ in range(workers)]
    sent_by_outcome: list[Counter] = [Counter() for _ in range(workers)]
    functions = [make_worker(implementation, tables, per_worker[i]) for i in range(workers)]
    start = threading.Barrier(workers + 1)

    def work_loop(index: int) -> None:
        run = functions[index]
        timings = latencies[index]
        stats = per_worker[index]
        start.wait()
        while True:
            try:
                event = work.get_nowait()
            except queue.Empty:
                return
            sent_before = stats.sent
            began = time.perf_counter()
            try:
                outcome = run(event)
            except Exception as error:  # counted and reported; the run goes on
                outcome = "error"
                failures[index][type(error).__name__] += 1
            timings.append((time.perf_counter() - began) * 1000.0)
            outcomes[index][outcome] += 1
            # A worker runs one event at a time, so the delta is this event's requests.
            sent_by_outcome[index][outcome] += stats.sent - sent_before

    threads = [
        threading.Thread(target=work_loop, args=(i,), name=f"{implementation}-{i}")
        for i in range(workers)
    ]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began

    total = RequestStats()
    for stats in per_worker:
        total.merge(stats)
    items = read_all_items(admin, tables)
    result = Result(
        implementation=implementation,
        workers=workers,
        deliveries=len(stream.deliveries),
        seconds=seconds,
        stats=total,
        latencies_ms=[value for timings in latencies for value in timings],
        outcomes=sum(outcomes, Counter()),
        invocation_errors=sum(failures, Counter()),
        final_errors=final_state_errors(items, stream.latest),
        requests_by_outcome=sum(sent_by_outcome, Counter()),
    )
    if not keep_tables:
        delete_tables(admin, tables)
    return result, tables
