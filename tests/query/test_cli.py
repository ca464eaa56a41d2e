"""The ecs-state command line: output formats, error messages and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ecs_state.events import CONTAINER_INSTANCE, TASK
from ecs_state.query import ExitCode, main
from tests.query.conftest import JOBS, MISSING_AT, WEB

pytestmark = pytest.mark.dynamodb_local

ROOT = Path(__file__).resolve().parents[2]


def run(state_tables, capsys, *argv: str) -> tuple[int, list[str], str]:
    """main() in this process: exit code, stdout lines, stderr."""
    code = main([*argv, "--endpoint-url", state_tables.endpoint, "--region", "us-east-1"])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def columns(line: str) -> list[str]:
    return line.split()


def test_tasks_as_a_table(state_tables, capsys):
    table = state_tables.tables["INCLUDE"][TASK]
    code, lines, err = run(
        state_tables, capsys, "tasks", "--table", table, "--cluster", WEB, "--status", "RUNNING"
    )
    assert (code, err) == (ExitCode.OK, "")
    header, *rows = lines
    assert header.split("  ")[0] == "TASK"
    for title in ("STATUS", "DESIRED", "VERSION", "TASK DEFINITION", "STARTED BY", "MISSING SINCE"):
        assert title in header
    expected = state_tables.expected
    arns = expected.task_arns(cluster=WEB, lastStatus="RUNNING")
    assert sorted(columns(row)[0] for row in rows) == sorted(arn.rsplit("/", 1)[1] for arn in arns)
    by_id = {columns(row)[0]: columns(row) for row in rows}
    (missing,) = expected.missing
    for arn in arns:
        status, desired, version, definition, started_by, since = by_id[arn.rsplit("/", 1)[1]][1:]
        stored = expected.tasks[arn]
        assert (status, desired, version) == ("RUNNING", "RUNNING", str(stored["version"]))
        assert (definition, started_by) == (stored["definition"], stored["startedBy"])
        assert since == (MISSING_AT if arn == missing else "-")


@pytest.mark.parametrize("projection", ["KEYS_ONLY", "NO_INDEX"])
def test_tasks_as_json_lines(state_tables, capsys, projection):
    table = state_tables.tables[projection][TASK]
    code, lines, err = run(
        state_tables,
        capsys,
        *("tasks", "--table", table, "--cluster", JOBS, "--output", "json", "--page-size", "3"),
    )
    assert code == ExitCode.OK
    assert ("scanning the whole table" in err) is (projection == "NO_INDEX")
    records = [json.loads(line) for line in lines]
    assert sorted(record["taskArn"] for record in records) == sorted(
        state_tables.expected.task_arns(cluster=JOBS)
    )
    for record in records:
        # The listing's fields and nothing more, the same whatever the index holds.
        assert set(record) == {
            "taskArn",
            "clusterArn",
            "lastStatus",
            "desiredStatus",
            "version",
            "taskDefinitionArn",
            "startedBy",
            "missing",
        }
        assert record["missing"] is False
        assert record["version"] == state_tables.expected.tasks[record["taskArn"]]["version"]


def test_full_json_lines_hold_whole_items(state_tables, capsys):
    table = state_tables.tables["INCLUDE"][TASK]
    code, lines, _ = run(
        state_tables,
        capsys,
        *("tasks", "--table", table, "--cluster", WEB, "--output", "json", "--full"),
        *("--started-by", "ecs-svc/web", "--family", "web:7"),
    )
    assert code == ExitCode.OK
    records = [json.loads(line) for line in lines]
    assert sorted(record["taskArn"] for record in records) == sorted(
        state_tables.expected.task_arns(cluster=WEB, startedBy="ecs-svc/web", definition="web:7")
    )
    assert all(record["containers"][0]["name"] == "web" for record in records)
    (missing,) = state_tables.expected.missing
    flagged = [record for record in records if record["missing"]]
    assert [(record["taskArn"], record["_missingSince"]) for record in flagged] == [
        (missing, MISSING_AT)
    ]


def test_instances_by_status(state_tables, capsys):
    table = state_tables.tables["ALL"][CONTAINER_INSTANCE]
    code, lines, _ = run(
        state_tables, capsys, "instances", "--table", table, "--cluster", WEB, "--status", "active"
    )
    assert code == ExitCode.OK
    header, *rows = lines
    assert columns(header)[:6] == ["INSTANCE", "STATUS", "AGENT", "VERSION", "RUNNING", "PENDING"]
    assert sorted(columns(row)[0] for row in rows) == sorted(
        arn.rsplit("/", 1)[1]
        for arn in state_tables.expected.instance_arns(cluster=WEB, status="ACTIVE")
    )
    assert {tuple(columns(row)[1:]) for row in rows} == {
        ("ACTIVE", "yes", "2", "4", "1", "i-0123456789abcdef0", "-")
    }


def test_one_task_and_one_instance_by_arn(state_tables, capsys):
    tables = state_tables.tables["ALL"]
    (missing,) = state_tables.expected.missing
    code, lines, _ = run(
        state_tables, capsys, "task", missing, "--table", tables[TASK], "--output", "json"
    )
    assert code == ExitCode.OK
    (line,) = lines
    task = json.loads(line)
    assert (task["taskArn"], task["missing"], task["_missingSince"]) == (missing, True, MISSING_AT)
    assert task["overrides"]["containerOverrides"][0]["name"] == "web"
    instance = sorted(state_tables.expected.instance_arns(status="DRAINING"))[0]
    code, lines, _ = run(
        state_tables, capsys, "instance", instance, "--table", tables[CONTAINER_INSTANCE]
    )
    assert code == ExitCode.OK
    assert columns(lines[1])[:4] == [instance.rsplit("/", 1)[1], "DRAINING", "no", "3"]


def test_an_empty_listing_succeeds(state_tables, capsys):
    table = state_tables.tables["ALL"][TASK]
    code, lines, err = run(
        state_tables, capsys, "tasks", "--table", table, "--cluster", JOBS, "--status", "PENDING"
    )
    assert (code, len(lines), err) == (ExitCode.OK, 1, "")


def error_cases(state_tables) -> list[tuple[list[str], int, str]]:
    tasks = state_tables.tables["ALL"][TASK]
    absent = WEB.replace("cluster/web", "task/web/00000000000000000000000000000000")
    return [
        (
            ["task", absent, "--table", tasks],
            ExitCode.NOT_FOUND,
            f"ecs-state: error: no task {absent} in table {tasks}\n",
        ),
        (
            ["task", "web/1234", "--table", tasks],
            ExitCode.USAGE,
            "ecs-state: error: bad task ARN 'web/1234': "
            "expected arn:PARTITION:ecs:REGION:ACCOUNT:task/CLUSTER/ID\n",
        ),
        (
            ["tasks", "--table", tasks, "--cluster", "arn:aws:ecs:us-east-1:1:cluster/x"],
            ExitCode.USAGE,
            "ecs-state: error: bad cluster ARN 'arn:aws:ecs:us-east-1:1:cluster/x': "
            "expected arn:PARTITION:ecs:REGION:ACCOUNT:cluster/NAME\n",
        ),
        (
            ["tasks", "--table", tasks, "--cluster", WEB, "--status", "UP"],
            ExitCode.USAGE,
            "ecs-state: error: unknown task status 'UP': expected one of ACTIVATING, "
            "DEACTIVATING, DELETED, DEPROVISIONING, PENDING, PROVISIONING, RUNNING, "
            "STOPPED, STOPPING\n",
        ),
        (
            ["tasks", "--table", "no-such-table", "--cluster", WEB],
            ExitCode.NO_TABLE,
            "ecs-state: error: table 'no-such-table' does not exist in us-east-1 "
            "(Cannot do operations on a non-existent table)\n",
        ),
        (
            # Shorter than DynamoDB's 3 characters: refused by the service, not by us.
            ["tasks", "--table", "ab", "--cluster", WEB],
            ExitCode.AWS_ERROR,
            "ecs-state: error: DescribeTable on table 'ab' failed: ValidationException: ",
        ),
    ]


def test_each_error_has_one_line_and_its_exit_code(state_tables, capsys):
    for argv, exit_code, message in error_cases(state_tables):
        code, lines, err = run(state_tables, capsys, *argv)
        assert (code, lines) == (exit_code, []), argv
        assert err.startswith(message), (argv, err)
        assert err.count("\n") == 1, err


def test_no_credentials(state_tables, capsys, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    # No instance metadata either: nothing here has a role to find.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    table = state_tables.tables["ALL"][TASK]
    code, lines, err = run(state_tables, capsys, "tasks", "--table", table, "--cluster", WEB)
    assert (code, lines) == (ExitCode.CREDENTIALS, [])
    assert err.startswith("ecs-state: error: no AWS credentials found")


def test_no_region(state_tables, capsys, monkeypatch):
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    code = main(["tasks", "--table", "t-1", "--cluster", WEB])
    assert code == ExitCode.CREDENTIALS
    assert capsys.readouterr().err == (
        "ecs-state: error: no AWS region: set AWS_DEFAULT_REGION or a profile's region, "
        "or pass --region\n"
    )


def test_bad_usage_exits_2(capsys):
    with pytest.raises(SystemExit) as raised:
        main(["tasks", "--table", "t"])
    assert raised.value.code == ExitCode.USAGE
    assert "the following arguments are required: --cluster" in capsys.readouterr().err


def test_python_dash_m_runs_the_same_command(state_tables):
    """The module entry point, in a fresh interpreter, with the endpoint taken from boto3's
    own configuration chain as a user would set it."""
    table = state_tables.tables["NO_INDEX"][TASK]
    environment = {
        **os.environ,
        "AWS_ENDPOINT_URL_DYNAMODB": state_tables.endpoint,
        "PYTHONPATH": str(ROOT / "function"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    argv = [sys.executable, "-m", "ecs_state.query", "tasks", "--table", table, "--cluster", WEB]
    done = subprocess.run(
        [*argv, "--status", "STOPPED"], env=environment, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == ExitCode.OK, done.stderr
    assert done.stderr.startswith("ecs-state: warning: table ")
    assert len(done.stdout.splitlines()) == 1 + len(
        state_tables.expected.task_arns(cluster=WEB, lastStatus="STOPPED")
    )
    done = subprocess.run(
        [*argv[:3], "task", "arn:nope", "--table", table],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == ExitCode.USAGE
    assert done.stderr.startswith("ecs-state: error: bad task ARN 'arn:nope'")


def test_importing_the_reader_loads_neither_boto3_nor_anything_outside_the_stdlib():
    """It ships in the function's zip: importing it must stay cheap and dependency-free."""
    probe = (
        "import json, sys; before = set(sys.modules); import ecs_state.query; "
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT / "function",
        env={"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    loaded = {name.split(".")[0] for name in json.loads(done.stdout)}
    assert "ecs_state" in loaded
    assert loaded - {"ecs_state"} <= set(sys.stdlib_module_names), loaded
