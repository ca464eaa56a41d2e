"""Structured JSON log lines that are also CloudWatch embedded-metric-format documents.

One line per event: CloudWatch Logs keeps it for reading, and CloudWatch Metrics
extracts the counters from it without any API call from the function.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

APPLIED = "applied"
STALE = "stale-or-duplicate"
REJECTED = "rejected"
FAILED = "failed"

# Metric names per outcome. FAILED is an infrastructure error after the client's retries.
METRIC_NAMES = {
    APPLIED: "Applied",
    STALE: "StaleOrDuplicate",
    REJECTED: "Rejected",
    FAILED: "Failed",
}
_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}


class Telemetry:
    def __init__(self, level: str, namespace: str, launch_type: str, stream: TextIO | None = None):
        self.threshold = _LEVELS[level]
        self.launch_type = launch_type
        self.stream = stream
        # The metric directive is the same on every line; build it once.
        self.directive = [
            {
                "Namespace": namespace,
                "Dimensions": [["LaunchType", "ResourceType"]],
                "Metrics": [
                    *({"Name": name, "Unit": "Count"} for name in METRIC_NAMES.values()),
                    {"Name": "ProcessingTime", "Unit": "Milliseconds"},
                ],
            }
        ]

    def enabled(self, level: str) -> bool:
        return _LEVELS[level] >= self.threshold

    def log(self, level: str, message: str, **fields: Any) -> None:
        if self.enabled(level):
            self._write({"level": level, "message": message, **fields})

    def outcome(self, outcome: str, resource: str, duration_ms: float, **fields: Any) -> None:
        """The per-event line: always written (ERROR for failures, INFO otherwise)."""
        level = "ERROR" if outcome in (REJECTED, FAILED) else "INFO"
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
            **{metric: int(name == outcome) for name, metric in METRIC_NAMES.items()},
            "ProcessingTime": duration_ms,
        }
        self._write(record)

    def _write(self, record: dict[str, Any]) -> None:
        stream = self.stream or sys.stdout
        stream.write(json.dumps(record, default=str, separators=(",", ":")) + "\n")
