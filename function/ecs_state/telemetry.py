"""Structured JSON log lines that are also CloudWatch embedded-metric-format documents.

One line per event: CloudWatch Logs keeps it for reading, and CloudWatch Metrics
extracts the counters from it without any API call from the function.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, TextIO

from ecs_state.config import LOG_LEVELS, Settings


class Outcome(StrEnum):
    """What happened to one event; the value is what log lines and results carry."""

    APPLIED = "applied"
    STALE = "stale-or-duplicate"
    REJECTED = "rejected"
    FAILED = "failed"  # an infrastructure error after the client's retries

    @property
    def metric(self) -> str:
        return _METRIC_NAMES[self]

    @property
    def is_error(self) -> bool:
        return self in (Outcome.REJECTED, Outcome.FAILED)


_METRIC_NAMES = {
    Outcome.APPLIED: "Applied",
    Outcome.STALE: "StaleOrDuplicate",
    Outcome.REJECTED: "Rejected",
    Outcome.FAILED: "Failed",
}


class Telemetry:
    @classmethod
    def from_settings(cls, settings: Settings, stream: TextIO | None = None) -> Telemetry:
        return cls(settings.log_level, settings.metrics_namespace, settings.launch_type, stream)

    def __init__(self, level: str, namespace: str, launch_type: str, stream: TextIO | None = None):
        self.threshold = LOG_LEVELS.index(level)
        self.namespace = namespace
        self.launch_type = launch_type
        self.stream = stream
        # The metric directive is the same on every line; build it once.
        self.directive = [
            {
                "Namespace": namespace,
                "Dimensions": [["LaunchType", "ResourceType"]],
                "Metrics": [
                    *({"Name": outcome.metric, "Unit": "Count"} for outcome in Outcome),
                    {"Name": "ProcessingTime", "Unit": "Milliseconds"},
                ],
            }
        ]

    def enabled(self, level: str) -> bool:
        return LOG_LEVELS.index(level) >= self.threshold

    def log(self, level: str, message: str, **fields: Any) -> None:
        if self.enabled(level):
            self._write({"level": level, "message": message, **fields})

    def outcome(self, outcome: Outcome, resource: str, duration_ms: float, **fields: Any) -> None:
        """The per-event line: always written (ERROR for failures, INFO otherwise)."""
        level = "ERROR" if outcome.is_error else "INFO"
        duration_ms = round(duration_ms, 3)
        record = {
            "level": level,
            "message": "event " + outcome,
            "outcome": outcome,
            "resource": resource,
            **fields,
            "durationMs": duration_ms,
            "LaunchType": self.launch_type,
            "ResourceType": resource,
            "_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": self.directive},
            **{each.metric: int(each is outcome) for each in Outcome},
            "ProcessingTime": duration_ms,
        }
        self._write(record)

    def summary(
        self,
        message: str,
        metrics: Mapping[str, float],
        units: Mapping[str, str],
        *,
        level: str = "INFO",
        **fields: Any,
    ) -> None:
        """One line per run (the reconciler's): always written, with its own metric directive.

        Its only dimension is LaunchType, so its metrics never mix with the per-event ones;
        a metric whose unit is not in ``units`` is a Count.
        """
        record = {
            "level": level,
            "message": message,
            **fields,
            "LaunchType": self.launch_type,
            "_aws": {
                "Timestamp": int(time.time() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": self.namespace,
                        "Dimensions": [["LaunchType"]],
                        "Metrics": [
                            {"Name": name, "Unit": units.get(name, "Count")} for name in metrics
                        ],
                    }
                ],
            },
            **metrics,
        }
        self._write(record)

    def _write(self, record: dict[str, Any]) -> None:
        stream = self.stream or sys.stdout
        stream.write(json.dumps(record, default=str, separators=(",", ":")) + "\n")
