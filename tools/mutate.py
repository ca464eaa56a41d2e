"""Mutation testing of the Lambda package: `make mutate` (see docs/mutation.md).

mutmut writes into the folder it runs in: a mutants/ copy of the project, its meta files
and caches. None of that belongs in the checkout, so it runs in a copy of the project
under $ECS_STATE_CACHE/mutate, with the package laid out as src/ecs_state/ (mutmut names
a mutant after its file's path with a leading `src.` removed, and that name must be the
module the tests import: `ecs_state.items`, not `function.ecs_state.items`). The only
file written in the checkout is the report, docs/mutation.md.

  python -m tools.mutate [--ref COMMIT] [--report PATH] [--max-children N] [--report-only]

--ref takes the package and the tests from a commit instead of the working tree (to
measure the score of an earlier state); --report-only rewrites the report from the last
run, after a change to EQUIVALENT or NOT_REACHED. mutmut itself comes from
`tools/bootstrap.sh mutate`, which links it into $ECS_STATE_CACHE/bin.
"""

from __future__ import annotations

import argparse
import ast
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "function/ecs_state"
# What the selected tests need besides the package: tests/conftest.py imports
# tools.emulators (lazily) and the tests build their events with scripts.ecs_events.
COPIED = (
    PACKAGE,
    "tests",
    "scripts",
    "tools/__init__.py",
    "tools/emulators.py",
    "pyproject.toml",
    "variables.tf",  # tests/support/module.py reads the module's defaults from it
)
# Where prepare() records source(): the report states what it measured.
SOURCE = "MEASURED_SOURCE"
TESTS = "tests/handler"
# Two tests start a second interpreter in function/: there the package runs without the
# mutation in force (mutmut switches mutants inside its own process), so they can kill
# nothing, and mutmut's instrumentation is itself the third-party import that
# test_imports.py exists to refuse.
DESELECTED = (
    "tests/handler/test_imports.py::test_handler_loads_only_stdlib_boto3_botocore_and_itself",
    "tests/handler/test_config.py::test_handler_fails_at_start_on_unknown_launch_type",
)
# The DynamoDB Local and module tiers take minutes per run; mutmut runs the selected
# tests of a function once per mutant.
MARKERS = "not dynamodb_local and not module"
# mutmut bounds each mutant's run by the tests' measured call time, which leaves out
# fixture setup: here a fresh moto table for each test, most of the cost, and slower still
# on a busy machine. With its default bounds, mutants whose tests all pass were stopped
# and counted as killed by a time-out. No function of the handler loops on its input, so
# a generous bound costs nothing: (estimate + 60 s) x 2, in CPU seconds, half that wall.
TIMEOUT_CONSTANT = 60
TIMEOUT_MULTIPLIER = 2

KILLED = ("killed", "timeout")
# The handler and every module it imports: what the selected tests exercise. Other modules
# of the package (the reader, the reconciler) have their own tiers, which need emulators.
ENTRY = "handler"


@dataclass(frozen=True)
class Equivalent:
    """A mutant that no test can kill because it does not change behaviour."""

    function: str  # module.function, as mutmut names it without the class part
    removed: str  # the original line, stripped
    added: str | None  # the mutated line, stripped; None: any change to that line
    why: str


# Matched by their text, not by mutmut's numbering, which shifts whenever a function
# changes; one that no longer matches shows up as a survivor, not as a silent exclusion.
EQUIVALENT: tuple[Equivalent, ...] = (
    Equivalent(
        "ecs_state.config.from_env",
        'launch_type = env.get("LAUNCH_TYPE", "").strip().upper()',
        'launch_type = env.get("LAUNCH_TYPE", "XXXX").strip().upper()',
        "an unset LAUNCH_TYPE is refused either way, and the message quotes the environment's "
        "own value, not the default",
    ),
    Equivalent(
        "ecs_state.config.from_env",
        'log_level = env.get("LOG_LEVEL", "INFO").strip().upper()',
        'log_level = env.get("LOG_LEVEL", "info").strip().upper()',
        "the default is upper-cased on the same line",
    ),
    Equivalent(
        "ecs_state.attributes._number",
        'raise InvalidEventError(f"{path} is not a number: {value!r}") from None',
        None,
        "unreachable: Decimal() accepts every int and Decimal, and the repr() of every float",
    ),
    Equivalent(
        "ecs_state.attributes._number",
        "return str(value) if isinstance(value, int) else str(number)",
        "return str(value) if (isinstance(value, int)) and False else str(number)",
        "str(Decimal(n)) is str(n) for every int n",
    ),
    Equivalent(
        "ecs_state.attributes._value_size",
        'raise ValueError(f"unexpected attribute type {kind}")',
        None,
        "unreachable: to_attribute builds only the types handled above it",
    ),
    Equivalent(
        "ecs_state.store.insert_or_newer",
        '"attribute_not_exists(#pk) OR #version < :version",',
        '"attribute_not_exists(#pk) or #version < :version",',
        "DynamoDB's expression keywords are case-insensitive",
    ),
    *(
        Equivalent(
            "ecs_state.processor.process_event",
            'code = error.response.get("Error", {}).get("Code", "")',
            f'code = error.response.get("Error", {{}}).get("Code", {default})',
            "None and '' are both false and neither is a code: either way the reason falls "
            "back to the error's text",
        )
        for default in ("None", "")
    ),
    *(
        Equivalent(
            "ecs_state.items.build_item",
            'item["version"] = {"N": str(change.version)}',
            f'item["{key}"] = {{"N": str(change.version)}}',
            "the detail's own version field, already in the item, holds the same number",
        )
        for key in ("XXversionXX", "VERSION")
    ),
)
# Functions of the mutated modules that the handler never calls, so its tests cannot
# reach them; their tiers need emulators this run leaves out.
NOT_REACHED = {
    "ecs_state.telemetry.summary": "the reconciler's per-run line, tested in tests/reconcile",
}


@dataclass
class Mutant:
    name: str
    status: str
    path: str = ""  # in the checkout, function/ecs_state/...
    line: int = 0
    removed: str = ""
    added: str = ""
    equivalent: Equivalent | None = None

    @property
    def function(self) -> str:
        """module.function of the mutant's name, without any class part."""
        mangled = self.name.partition("__mutmut_")[0]
        module, _, function = mangled.rpartition(".")
        return f"{module}.{re.split('ǁ|^x_', function)[-1]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ref", help="take the package and tests from this commit")
    parser.add_argument("--report", type=Path, default=ROOT / "docs" / "mutation.md")
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--report-only", action="store_true", help="rewrite the report from the last run's results"
    )
    args = parser.parse_args(argv)

    cache = Path(os.environ.get("ECS_STATE_CACHE") or Path.home() / ".cache" / "ecs-state")
    work = cache / "mutate" / "work"
    mutmut = shutil.which("mutmut")
    if mutmut is None:
        sys.exit("mutmut is not on PATH: run `bash tools/bootstrap.sh mutate` (or `make mutate`)")

    started = time.monotonic()
    if not args.report_only:
        prepare(work, args.ref)
        log = cache / "mutate" / "mutmut-run.log"
        print(f"mutate: mutmut run in {work} (log: {log})", flush=True)
        with log.open("w") as out:
            run = subprocess.run(
                [mutmut, "run", "--max-children", str(args.max_children)],
                cwd=work,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if run.returncode != 0:
            print(log.read_text()[-4000:], file=sys.stderr)
            sys.exit(f"mutate: mutmut run failed (exit {run.returncode}); full log: {log}")
    minutes = (time.monotonic() - started) / 60

    mutants = results(mutmut, work)
    for mutant in mutants:
        if mutant.status not in (*KILLED, "no tests"):
            locate(mutmut, work, mutant)
    text = report(mutants, handler_modules(work / "src" / "ecs_state"), (work / SOURCE).read_text())
    args.report.write_text(text)
    print(text.split("\n## ")[0].strip())
    print(f"mutate: {len(mutants)} mutants, {minutes:.1f} min; report: {args.report}")
    return 0


def prepare(work: Path, ref: str | None) -> None:
    """A fresh copy of the package (as src/ecs_state), what its tests need, mutmut's
    configuration."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    (work / SOURCE).write_text(source(ref))
    for relative, data in files(ref):
        target = work / relative.replace(PACKAGE, "src/ecs_state", 1)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    mutated = handler_modules(work / "src" / "ecs_state")
    options = ["-m", MARKERS]
    for test in DESELECTED:
        options += ["--deselect", test]
    (work / "setup.cfg").write_text(
        "[mutmut]\n"
        "source_paths = src/ecs_state\n"
        "also_copy =\n    scripts\n    tools\n    variables.tf\n"
        f"timeout_constant = {TIMEOUT_CONSTANT}\n"
        f"timeout_multiplier = {TIMEOUT_MULTIPLIER}\n"
        "only_mutate =\n"
        + "".join(f"    src/ecs_state/{module}.py\n" for module in mutated)
        + f"pytest_add_cli_args_test_selection = {TESTS}\n"
        "pytest_add_cli_args =\n" + "".join(f"    {option}\n" for option in options)
    )


def handler_modules(package: Path) -> list[str]:
    """The entry module and, transitively, every module of the package it imports."""
    found, pending = set(), [ENTRY]
    while pending:
        module = pending.pop()
        if module in found or not (package / f"{module}.py").is_file():
            continue
        found.add(module)
        for node in ast.walk(ast.parse((package / f"{module}.py").read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "ecs_state":
                pending += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ecs_state."):
                pending.append(node.module.split(".")[1])
            elif isinstance(node, ast.Import):
                pending += [
                    alias.name.split(".")[1]
                    for alias in node.names
                    if alias.name.startswith("ecs_state.")
                ]
    return sorted(found)


def source(ref: str | None) -> str:
    """The commit the copy is taken from, and whether the working tree differed from it."""
    commit = git("rev-parse", "--short", f"{ref or 'HEAD'}^{{commit}}")
    if ref is None and git("status", "--porcelain", "--", *COPIED):
        return f"commit `{commit}` with uncommitted changes to {', '.join(COPIED)}"
    return f"commit `{commit}`"


def git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


def files(ref: str | None):
    """(path, bytes) of every file to copy: from a commit, or tracked and new files of the
    working tree (so ignored caches stay behind)."""
    if ref:
        archive = subprocess.run(
            ["git", "archive", "--format=tar", ref, "--", *COPIED],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            for member in tar.getmembers():
                if member.isfile():
                    yield member.name, tar.extractfile(member).read()
        return
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *COPIED],
        cwd=ROOT,
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    for relative in sorted(set(filter(None, listed.split("\0")))):
        path = ROOT / relative
        if path.is_file():  # a tracked file deleted in the working tree is listed too
            yield relative, path.read_bytes()


def results(mutmut: str, work: Path) -> list[Mutant]:
    listed = subprocess.run(
        [mutmut, "results", "--all", "true"], cwd=work, capture_output=True, text=True, check=True
    ).stdout
    mutants = []
    for line in listed.splitlines():
        name, separator, status = line.strip().rpartition(": ")
        if separator and "__mutmut_" in name:
            mutants.append(Mutant(name, status))
    if not mutants:
        sys.exit(f"mutate: `mutmut results` listed no mutants:\n{listed}")
    return mutants


def locate(mutmut: str, work: Path, mutant: Mutant) -> None:
    """File, line and changed text of a mutant, from `mutmut show`'s diff of its function."""
    diff = subprocess.run(
        [mutmut, "show", mutant.name], cwd=work, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    source = next(line[4:].strip() for line in diff if line.startswith("--- "))
    mutant.path = source.replace("src/ecs_state", PACKAGE, 1)
    removed = [line[1:] for line in diff if line.startswith("-") and not line.startswith("---")]
    added = [line[1:] for line in diff if line.startswith("+") and not line.startswith("+++")]
    mutant.removed = " ".join(line.strip() for line in removed)
    mutant.added = " ".join(line.strip() for line in added)
    hunk = next((line for line in diff if line.startswith("@@")), "@@ -1 @@")
    offset = int(re.match(r"@@ -(\d+)", hunk).group(1))
    context = 0
    for line in diff[diff.index(hunk) + 1 :]:
        if line.startswith("-"):
            break
        context += 1
    mutant.line = _line_of(work / source, mutant, offset + context, removed[:1])
    mutant.equivalent = next(
        (
            known
            for known in EQUIVALENT
            if (known.function, known.removed) == (mutant.function, mutant.removed)
            and known.added in (None, mutant.added)
        ),
        None,
    )


def _line_of(source: Path, mutant: Mutant, line_in_function: int, removed: list[str]) -> int:
    """Line in the file of a line of the function's text, checked against the text itself."""
    text = source.read_text()
    name = mutant.function.rpartition(".")[2]
    node = next(
        (
            node
            for node in ast.walk(ast.parse(text))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name
        ),
        None,
    )
    if node is None:
        return 0
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    guess = first + line_in_function - 1
    if not removed:
        return guess
    lines = text.splitlines()
    matches = [
        number
        for number in range(first, (node.end_lineno or first) + 1)
        if lines[number - 1] == removed[0]
    ]
    return min(matches, key=lambda number: abs(number - guess)) if matches else guess


def report(mutants: list[Mutant], mutated: list[str], measured: str) -> str:
    equivalent = [m for m in mutants if m.equivalent is not None]
    unreached = [m for m in mutants if m.status == "no tests"]
    killed = [m for m in mutants if m.status in KILLED]
    timed_out = [m for m in killed if m.status == "timeout"]
    left = sorted(
        (m for m in mutants if m.status not in (*KILLED, "no tests") and m.equivalent is None),
        key=lambda m: (m.path, m.line, m.name),
    )
    counted = len(killed) + len(left)
    score = 100 * len(killed) / counted if counted else 0.0
    lines = [
        "# Mutation testing",
        "",
        "Written by `make mutate` (tools/mutate.py); do not edit by hand. mutmut makes one",
        "small change at a time to the handler's modules in function/ecs_state/ and runs the",
        f"tests of {TESTS}/ that reach the changed function (pytest `-m '{MARKERS}'`); a",
        "mutant is killed when one of them fails. The score leaves out equivalent mutants",
        "(no behaviour changes, listed with the reason) and functions the handler never",
        "calls (listed too).",
        "",
        "Mutated: " + ", ".join(f"`{module}.py`" for module in mutated) + ".",
        f"Measured on {measured}.",
        "",
        "| mutants | count |",
        "| --- | ---: |",
        f"| all | {len(mutants)} |",
        f"| killed (of which by a time-out) | {len(killed)} ({len(timed_out)}) |",
        f"| survived | {len(left)} |",
        f"| equivalent, left out | {len(equivalent)} |",
        f"| in functions the handler never calls, left out | {len(unreached)} |",
        f"| **score**: killed / (killed + survived) | **{score:.1f} %** |",
        "",
        "## Survivors",
        "",
    ]
    if left:
        lines += ["| location | status | mutation |", "| --- | --- | --- |"]
        lines += [
            f"| {m.path}:{m.line} `{m.name.split('.', 2)[-1]}` | {m.status} | "
            f"{_code(m.removed)} → {_code(m.added)} |"
            for m in left
        ]
    else:
        lines.append("None.")
    lines += ["", "## Equivalent mutants left out", ""]
    if equivalent:
        lines += ["| location | mutation | why it changes nothing |", "| --- | --- | --- |"]
        lines += [
            f"| {m.path}:{m.line} | {_code(m.removed)} → {_code(m.added)} | {m.equivalent.why} |"
            for m in sorted(equivalent, key=lambda m: (m.path, m.line, m.name))
        ]
    else:
        lines.append("None.")
    lines += ["", "## Functions the handler never calls", ""]
    by_function: dict[str, int] = {}
    for mutant in unreached:
        by_function[mutant.function] = by_function.get(mutant.function, 0) + 1
    if by_function:
        lines += ["| function | mutants | why |", "| --- | ---: | --- |"]
        for function, count in sorted(by_function.items()):
            why = NOT_REACHED.get(function, "not reached by these tests")
            lines.append(f"| `{function}` | {count} | {why} |")
    else:
        lines.append("None.")
    return "\n".join(lines) + "\n"


def _code(text: str) -> str:
    if not text:
        return "(removed)"
    return "`" + text.replace("|", "\\|").replace("`", "'") + "`"


if __name__ == "__main__":
    sys.exit(main())
