"""Cold start, measured in fresh Python processes, and the size of the function's zip.

The handler is imported from the committed function.zip, the one the module deploys
(only ecs_state/*.py, no bytecode; tests/module/test_package.py keeps it a fresh build),
with PYTHONDONTWRITEBYTECODE=1: like Lambda, whose package directory is read-only, every
cold start compiles the package's .py files. boto3 and botocore come precompiled from the
environment, as they do from the Lambda runtime. The baseline is a single module copied
beside it under the same rules.

Each probe reports the time from before its first import (for the handler's own modules:
from after ``import boto3``) to after its last step, taken inside the process with
perf_counter, so interpreter start-up (the same for everyone) is left out. Probes are
interleaved round by round (in alternating order) so a burst of background load hits all
of them alike; the report uses medians, and for the import ratio also the median of the
per-round ratios, which is less sensitive to load that changes between rounds.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.local import aws_environment
from ecs_state.telemetry import Outcome
from tools import package

_PRELUDE = """
import json, sys, time
event = json.loads(open(sys.argv[1]).read()) if len(sys.argv) > 1 else None
started = time.perf_counter()
"""
_REPORT = """
elapsed = (time.perf_counter() - started) * 1000.0
print("COLDSTART " + json.dumps({"ms": elapsed, "result": result}))
"""
PROBES = {
    # time to first event applied: import (which builds the client), then one write
    "handler_first_event": (
        "import ecs_state.handler as entry\nresult = entry.lambda_handler(event, None)['outcome']\n"
    ),
    "baseline_first_event": (
        "import baseline as entry\nresult = entry.lambda_handler(event, None)\n"
    ),
    # import cost alone: the handler module builds its client at import
    "handler_import": "import ecs_state.handler\nresult = None\n",
    "boto3_import_and_client": "import boto3\nboto3.client('dynamodb')\nresult = None\n",
    # what the handler adds on top of boto3 + a client: its own modules, compiled from source
    "handler_own_modules": (
        "import boto3\nstarted = time.perf_counter()\n"
        "import ecs_state.config, ecs_state.errors, ecs_state.events, ecs_state.items\n"
        "import ecs_state.processor, ecs_state.store, ecs_state.telemetry\nresult = None\n"
    ),
}
FIRST_EVENT_PROBES = ("handler_first_event", "baseline_first_event")


@dataclass
class ColdStart:
    repeats: int
    samples: dict[str, list[float]] = field(default_factory=dict)
    zip_bytes: int = 0
    zip_files: list[str] = field(default_factory=list)
    # Instructions executed (valgrind callgrind), by probe; None when valgrind is absent.
    instructions: dict[str, int] | None = None

    def median(self, probe: str) -> float:
        return statistics.median(self.samples[probe])

    @property
    def import_ratio(self) -> float:
        return self.median("handler_import") / self.median("boto3_import_and_client")

    @property
    def paired_import_ratio(self) -> float:
        """Median over rounds of handler import / boto3 + client, measured in the same round."""
        return statistics.median(
            handler / reference
            for handler, reference in zip(
                self.samples["handler_import"], self.samples["boto3_import_and_client"], strict=True
            )
        )

    @property
    def own_modules_share(self) -> float:
        """The handler's own modules as a share of `import boto3` + one client (medians)."""
        return self.median("handler_own_modules") / self.median("boto3_import_and_client")

    @property
    def first_event_ratio(self) -> float:
        return self.median("baseline_first_event") / self.median("handler_first_event")

    @property
    def instruction_ratio(self) -> float | None:
        """Handler import / (import boto3 + one client), in instructions net of start-up."""
        if not self.instructions:
            return None
        start_up = self.instructions["interpreter_start_up"]
        return (self.instructions["handler_import"] - start_up) / (
            self.instructions["boto3_import_and_client"] - start_up
        )

    def as_dict(self) -> dict[str, Any]:
        ratio = self.instruction_ratio
        return {
            "repeats": self.repeats,
            "median_ms": {probe: round(self.median(probe), 1) for probe in self.samples},
            "min_ms": {probe: round(min(values), 1) for probe, values in self.samples.items()},
            "max_ms": {probe: round(max(values), 1) for probe, values in self.samples.items()},
            "handler_import_over_boto3_client": round(self.import_ratio, 3),
            "handler_import_over_boto3_client_paired": round(self.paired_import_ratio, 3),
            "handler_own_modules_over_boto3_client": round(self.own_modules_share, 3),
            "baseline_first_event_over_handler": round(self.first_event_ratio, 3),
            "zip_bytes": self.zip_bytes,
            "zip_files": self.zip_files,
            "instructions": self.instructions,
            "handler_import_over_boto3_client_instructions": (
                round(ratio, 3) if ratio is not None else None
            ),
        }


def measure(
    endpoint: str,
    tables: dict[str, str],
    events: list[dict[str, Any]],
    repeats: int,
    count_instructions: bool = True,
) -> ColdStart:
    """Run every probe `repeats` times in fresh processes; `events` holds one event per run."""
    if len(events) < 2 * repeats:
        raise ValueError("need one fresh event per first-event probe run")
    result = ColdStart(repeats=repeats, samples={probe: [] for probe in PROBES})
    with tempfile.TemporaryDirectory(prefix="ecs-state-coldstart-") as scratch:
        work = Path(scratch)
        result.zip_bytes = package.PACKAGE.stat().st_size
        with zipfile.ZipFile(package.PACKAGE) as archive:
            result.zip_files = archive.namelist()
            archive.extractall(work / "task")
        shutil.copy(Path(__file__).with_name("baseline.py"), work / "task" / "baseline.py")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(work / "task"),
            "PYTHONDONTWRITEBYTECODE": "1",
            "LAUNCH_TYPE": "EC2",
            "TASK_TABLE_NAME": tables["task"],
            "CONTAINER_INSTANCE_TABLE_NAME": tables["container_instance"],
            **aws_environment(endpoint),
        }
        pending = iter(events)
        for round_number in range(repeats):
            # Alternate the order, so no probe always runs right after the same other one.
            order = list(PROBES) if round_number % 2 == 0 else list(reversed(PROBES))
            for probe in order:
                event_file = None
                if probe in FIRST_EVENT_PROBES:
                    event_file = work / f"event-{uuid.uuid4().hex}.json"
                    event_file.write_text(json.dumps(next(pending)))
                elapsed, outcome = _run_probe(probe, env, work / "task", event_file)
                if probe in FIRST_EVENT_PROBES and outcome != Outcome.APPLIED:
                    raise RuntimeError(f"{probe} did not apply its event: {outcome!r}")
                result.samples[probe].append(elapsed)
        if count_instructions:
            result.instructions = _count_instructions(env, work / "task")
    return result


def _count_instructions(env: dict[str, str], cwd: Path) -> dict[str, int] | None:
    """Instructions executed by each import probe under callgrind: blind to other load.

    Wall-clock medians on a busy machine move by +-10 % from run to run; an instruction
    count moves by well under 1 %, so it shows what the handler really adds.
    """
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return None
    programs = {
        "interpreter_start_up": "pass",
        "handler_import": _PRELUDE + PROBES["handler_import"] + _REPORT,
        "boto3_import_and_client": _PRELUDE + PROBES["boto3_import_and_client"] + _REPORT,
    }
    counts = {}
    for name, code in programs.items():
        command = [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null"]
        # valgrind from PATH running our own interpreter on a fixed probe; no shell.
        completed = subprocess.run(  # noqa: S603
            [*command, sys.executable, "-c", code],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        found = re.search(r"Collected\s*:\s*(\d+)", completed.stderr)
        if completed.returncode != 0 or found is None:
            return None
        counts[name] = int(found.group(1))
    return counts


def _run_probe(
    probe: str, env: dict[str, str], cwd: Path, event_file: Path | None
) -> tuple[float, Any]:
    code = _PRELUDE + PROBES[probe] + _REPORT
    command = [sys.executable, "-c", code]
    if event_file is not None:
        command.append(str(event_file))
    # Our own interpreter and a fixed probe; no shell.
    completed = subprocess.run(  # noqa: S603
        command, env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"cold-start probe {probe} failed:\n{completed.stderr[-2000:]}")
    for line in reversed(completed.stdout.splitlines()):
        if line.startswith("COLDSTART "):
            report = json.loads(line.removeprefix("COLDSTART "))
            return float(report["ms"]), report["result"]
    raise RuntimeError(f"cold-start probe {probe} printed no report:\n{completed.stdout[-2000:]}")
