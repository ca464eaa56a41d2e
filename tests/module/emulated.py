"""What the module made, read back through boto3, and checks shared by the module tests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from tests.support.tables import client

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "tests" / "fixtures" / "events"
RULER = ROOT / "tools" / "event-ruler" / "RuleMatch.java"
REGION = "us-east-1"
# Exactly what the function may do, per statement id.
EXPECTED_ACTIONS = {
    "PutStateItems": ["dynamodb:PutItem"],
    "WriteOwnLogs": ["logs:CreateLogStream", "logs:PutLogEvents"],
    "SendFailuresToDeadLetterQueue": ["sqs:SendMessage"],
}


# The created dead-letter queue's addresses in a root module that calls the module
# `ecs_state`. Against moto the provider waits over two minutes for a deleted queue and its
# policy to stop answering, so most tests take them out of the state and delete the queue
# through the API before a destroy; test_apply.py::test_fargate_mode destroys them through
# the provider.
DEAD_LETTER_QUEUE = (
    "module.ecs_state.aws_sqs_queue_policy.dead_letter[0]",
    "module.ecs_state.aws_sqs_queue.dead_letter[0]",
)


class Aws:
    def __init__(self, endpoint: str):
        self.dynamodb = client("dynamodb", endpoint)
        self.awslambda = client("lambda", endpoint)
        self.iam = client("iam", endpoint)
        self.events = client("events", endpoint)
        self.sqs = client("sqs", endpoint)
        self.logs = client("logs", endpoint)

    def table(self, name: str) -> dict:
        return self.dynamodb.describe_table(TableName=name)["Table"]

    def ttl(self, name: str) -> dict:
        return self.dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]

    def pitr(self, name: str) -> str:
        backups = self.dynamodb.describe_continuous_backups(TableName=name)[
            "ContinuousBackupsDescription"
        ]
        return backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"]

    def role_policy(self, role_arn: str, name: str = "ecs-state") -> dict:
        """The role's one inline policy, which must be its only policy."""
        role = role_arn.rsplit("/", 1)[1]
        assert self.iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
        names = self.iam.list_role_policies(RoleName=role)["PolicyNames"]
        assert names == [name], names
        document = self.iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        return json.loads(document) if isinstance(document, str) else document

    def leftovers(self, prefix: str) -> dict:
        """Everything in the emulator whose name starts with prefix."""
        found = {
            "tables": [
                t for t in self.dynamodb.list_tables()["TableNames"] if t.startswith(prefix)
            ],
            "functions": [
                f["FunctionName"]
                for f in self.awslambda.list_functions()["Functions"]
                if f["FunctionName"].startswith(prefix)
            ],
            "roles": [
                r["RoleName"]
                for r in self.iam.list_roles()["Roles"]
                if r["RoleName"].startswith(prefix)
            ],
            "rules": [r["Name"] for r in self.events.list_rules(NamePrefix=prefix)["Rules"]],
            "queues": self.sqs.list_queues(QueueNamePrefix=prefix).get("QueueUrls", []),
            "log_groups": [
                g["logGroupName"]
                for g in self.logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{prefix}")[
                    "logGroups"
                ]
            ],
        }
        return {kind: names for kind, names in found.items() if names}

    def delete_queues(self, prefix: str) -> None:
        """Delete every queue whose name starts with prefix (see DEAD_LETTER_QUEUE)."""
        for url in self.sqs.list_queues(QueueNamePrefix=prefix).get("QueueUrls", []):
            self.sqs.delete_queue(QueueUrl=url)


def statements_by_sid(policy: dict) -> dict:
    result = {}
    for statement in policy["Statement"]:
        actions = statement["Action"]
        resources = statement["Resource"]
        result[statement["Sid"]] = (
            sorted([actions] if isinstance(actions, str) else actions),
            sorted([resources] if isinstance(resources, str) else resources),
        )
    return result


def matching_events(pattern: str) -> set[str]:
    """Names of the fixture events that EventBridge's own matching engine matches."""
    jars = os.environ.get("EVENT_RULER_CLASSPATH")
    if not jars or not shutil.which("java"):
        raise RuntimeError("EVENT_RULER_CLASSPATH or java is missing: run `make tools`")
    files = sorted(EVENTS.glob("*.json"))
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        handle.write(pattern)
    try:
        result = subprocess.run(
            ["java", "-cp", jars, str(RULER), handle.name, *map(str, files)],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        os.unlink(handle.name)
    answers = result.stdout.split()
    assert len(answers) == len(files), result
    return {path.stem for path, answer in zip(files, answers, strict=True) if answer == "true"}


def zip_members(zip_path: str) -> list[str]:
    with zipfile.ZipFile(zip_path) as archive:
        return sorted(archive.namelist())


def package_sources() -> list[str]:
    return sorted(
        str(p.relative_to(ROOT / "function"))
        for p in (ROOT / "function" / "ecs_state").glob("*.py")
    )


DRIVER = """
import json, sys
import ecs_state.handler as handler
assert handler.__file__.startswith(sys.argv[1]), handler.__file__
for path in sys.argv[2:]:
    try:
        print("RESULT", json.dumps(handler.lambda_handler(json.load(open(path)), None)))
    except Exception as error:
        failure = {"outcome": "raised", "error": f"{type(error).__name__}: {error}"}
        print("RESULT", json.dumps(failure))
"""


def run_zip(
    zip_path: str, environment: dict, dynamodb_endpoint: str, events: list[Path]
) -> list[dict]:
    """Import the handler from the built zip, as Lambda would, and feed it events."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": zip_path,
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,  # Lambda sets both
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint,
        **environment,
    }
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, zip_path, *map(str, events)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=tempfile.gettempdir(),
    )
    assert result.returncode == 0, f"the zip's handler failed to run:\n{result.stderr}"
    # Other lines are the handler's own JSON log lines.
    return [
        json.loads(line[7:]) for line in result.stdout.splitlines() if line.startswith("RESULT ")
    ]


def run_cli(fixture, *args: str, **variables: str) -> subprocess.CompletedProcess:
    """Run the fixture's CLI on its module and state, with TF_VAR_* for each variable."""
    runner = fixture.terraform
    env = {
        **os.environ,
        "TF_DATA_DIR": runner.work_dir,
        "TF_IN_AUTOMATION": "1",
        **{f"TF_VAR_{name}": value for name, value in variables.items()},
    }
    # Flags go after the command, and after the subcommand of `state`.
    words = 2 if args[0] == "state" else 1
    command, rest = list(args[:words]), args[words:]
    flags = ["-no-color", *(["-input=false"] if command in (["plan"], ["apply"]) else [])]
    return subprocess.run(
        [runner.tf_bin, *command, *flags, *rest],
        cwd=runner.module_dir or runner.work_dir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def planned_changes(fixture, **variables: str) -> dict[str, list[str]]:
    """Resource address -> planned actions, for every resource a plan would change."""
    plan_file = os.path.join(fixture.terraform.work_dir, "check.tfplan")
    state = f"-state={fixture.terraform.state_path}"
    planned = run_cli(
        fixture, "plan", "-detailed-exitcode", state, f"-out={plan_file}", **variables
    )
    assert planned.returncode in (0, 2), planned.stdout + planned.stderr
    shown = run_cli(fixture, "show", "-json", plan_file)
    assert shown.returncode == 0, shown.stderr
    changes = {
        change["address"]: change["change"]["actions"]
        for change in json.loads(shown.stdout).get("resource_changes", [])
        if change["change"]["actions"] not in (["no-op"], ["read"])
    }
    return changes


def assert_plan_is_clean(fixture) -> None:
    """A second plan right after an apply shows no change (no perpetual diff)."""
    state = f"-state={fixture.terraform.state_path}"
    planned = run_cli(fixture, "plan", "-detailed-exitcode", state)
    assert planned.returncode == 0, "second plan is not clean:\n" + planned.stdout + planned.stderr
