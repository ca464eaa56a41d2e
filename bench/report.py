"""Write the benchmark's results: a markdown page and a chart (matplotlib, Agg backend)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from bench.replay import BASELINE, HANDLER, Result
from ecs_state.telemetry import Outcome


def _number(value: float, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:,.{digits}f}"


def results_table(results: list[Result]) -> str:
    header = (
        "| implementation | workers | events/s | requests/event | requests per applied "
        "/ stale-or-duplicate event | p50 ms | p99 ms | WCU/event reported | WCU/event billed "
        "(est.) | RCU/event reported | final-state errors | failed invocations |\n"
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n"
    )
    rows = []
    for result in results:
        errors = result.final_errors
        rows.append(
            f"| {result.implementation} | {result.workers} "
            f"| {_number(result.events_per_second)} "
            f"| {_number(result.requests_per_event, 2)} "
            f"| {_number(result.requests_per(Outcome.APPLIED), 2)} / "
            f"{_number(result.requests_per(Outcome.STALE), 2)} "
            f"| {_number(result.p50_ms)} | {_number(result.p99_ms)} "
            f"| {_number(result.wcu_per_event, 2)} | {_number(result.wcu_billed_per_event, 2)} "
            f"| {_number(result.rcu_per_event, 2)} "
            f"| {result.final_state_errors} ({errors['below']} below, {errors['missing']} missing) "
            f"| {sum(result.invocation_errors.values())} |"
        )
    return header + "\n".join(rows) + "\n"


def ratio_table(results: list[Result]) -> str:
    by_key = {(result.implementation, result.workers): result for result in results}
    workers = sorted({result.workers for result in results})
    lines = [
        "| workers | throughput handler / baseline | p50 latency baseline / handler "
        "| p99 latency baseline / handler | requests per event baseline / handler |",
        "|--:|--:|--:|--:|--:|",
    ]
    for count in workers:
        handler, baseline = by_key.get((HANDLER, count)), by_key.get((BASELINE, count))
        if handler is None or baseline is None:
            continue
        lines.append(
            f"| {count} | {handler.events_per_second / baseline.events_per_second:.2f}x "
            f"| {baseline.p50_ms / handler.p50_ms:.2f}x | {baseline.p99_ms / handler.p99_ms:.2f}x "
            f"| {baseline.requests_per_event / handler.requests_per_event:.2f}x |"
        )
    return "\n".join(lines) + "\n"


def coldstart_table(cold: dict[str, Any]) -> str:
    median = cold["median_ms"]
    low, high = cold["min_ms"], cold["max_ms"]
    labels = {
        "handler_first_event": "handler: import + client + first event applied",
        "baseline_first_event": "baseline: import + client + first event applied",
        "handler_import": "`import ecs_state.handler` (builds its client)",
        "boto3_import_and_client": "`import boto3` + one DynamoDB client",
        "handler_own_modules": "the handler's own modules alone (after `import boto3`)",
    }
    lines = ["| probe | median ms | min ms | max ms |", "|---|--:|--:|--:|"]
    for probe, label in labels.items():
        lines.append(f"| {label} | {median[probe]:.0f} | {low[probe]:.0f} | {high[probe]:.0f} |")
    return "\n".join(lines) + "\n"


def write_chart(path: Path, results: list[Result], cold: dict[str, Any] | None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workers = sorted({result.workers for result in results})
    by_key = {(result.implementation, result.workers): result for result in results}
    colours = {HANDLER: "#1f77b4", BASELINE: "#d62728"}
    panels = 4 if cold else 3
    figure, axes = plt.subplots(1, panels, figsize=(4.6 * panels, 4.2))
    positions = range(len(workers))
    width = 0.38

    def bars(axis, metric, title, ylabel, log=False):
        for offset, name in ((-width / 2, HANDLER), (width / 2, BASELINE)):
            values = [metric(by_key[(name, count)]) for count in workers if (name, count) in by_key]
            axis.bar(
                [p + offset for p in positions][: len(values)],
                values,
                width,
                label=name,
                color=colours[name],
            )
        axis.set_xticks(list(positions), [str(count) for count in workers])
        axis.set_xlabel("concurrent workers")
        axis.set_ylabel(ylabel)
        axis.set_title(title)
        if log:
            axis.set_yscale("log")
        axis.legend()

    bars(axes[0], lambda r: r.events_per_second, "Throughput", "events/s")
    bars(axes[1], lambda r: r.p99_ms, "p99 latency per event (p50 hatched)", "ms", log=True)
    for offset, name in ((-width / 2, HANDLER), (width / 2, BASELINE)):
        values = [by_key[(name, count)].p50_ms for count in workers if (name, count) in by_key]
        axes[1].bar(
            [p + offset for p in positions][: len(values)],
            values,
            width,
            fill=False,
            hatch="//",
            edgecolor="black",
        )
    bars(
        axes[2],
        lambda r: r.final_state_errors,
        "Records below their latest version",
        "final-state errors",
    )
    if cold:
        probes = [
            "handler_first_event",
            "baseline_first_event",
            "handler_import",
            "boto3_import_and_client",
        ]
        labels = [
            "handler\nfirst event",
            "baseline\nfirst event",
            "handler\nimport",
            "boto3 +\nclient",
        ]
        axes[3].bar(
            labels,
            [cold["median_ms"][probe] for probe in probes],
            color=[colours[HANDLER], colours[BASELINE], colours[HANDLER], "#7f7f7f"],
        )
        axes[3].set_ylabel("median ms (fresh process)")
        axes[3].set_title(f"Cold start, median of {cold['repeats']}")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
