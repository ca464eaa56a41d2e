"""The function package: only the package's modules, the same bytes from any checkout at any
time, committed up to date, and a saved plan that applies in a fresh checkout."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from tests.module.emulated import DEAD_LETTER_QUEUE, ROOT, Aws, package_sources
from tools import package
from tools.emulators import aws_env, provider_override_tf

# 2001-09-09: far from any checkout's own file times.
OLD_MTIME = 1_000_000_000


def copy_function(checkout: Path, *, mode: int, mtime: float) -> Path:
    """function/ as another checkout has it: the same code with its own file modes and times,
    plus what a working copy collects and the zip must leave out."""
    package_dir = checkout / "function" / "ecs_state"
    (package_dir / "__pycache__").mkdir(parents=True)
    for source in (ROOT / "function" / "ecs_state").glob("*.py"):
        (package_dir / source.name).write_bytes(source.read_bytes())
    (package_dir / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"\xa7\r\r\n")
    (package_dir / "handler.py~").write_text("an editor's backup\n")
    (package_dir / "notes.txt").write_text("not code\n")
    for path in package_dir.rglob("*"):
        if path.is_file():
            path.chmod(mode)
            os.utime(path, (mtime, mtime))
    return checkout / "function"


def build_in_subprocess(function_dir: Path, command: list[str], umask: int) -> bytes:
    output = function_dir.parent / "function.zip"
    subprocess.run(
        [sys.executable, *command, "--function-dir", str(function_dir), "--zip", str(output)],
        cwd=ROOT,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        umask=umask,
        check=True,
        capture_output=True,
    )
    return output.read_bytes()


def test_zip_holds_exactly_the_package_modules_with_fixed_metadata():
    data = package.build()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = archive.infolist()
        assert [m.filename for m in members] == package_sources()
        for member in members:
            assert archive.read(member) == (ROOT / "function" / member.filename).read_bytes()
    for member in members:
        assert not member.is_dir()
        assert member.date_time == (1980, 1, 1, 0, 0, 0)
        assert member.external_attr >> 16 == 0o100644
        assert (member.compress_type, member.create_system) == (zipfile.ZIP_STORED, 3)
        assert member.extra == b""


def test_two_checkouts_built_at_different_times_give_the_same_bytes(tmp_path):
    first = copy_function(tmp_path / "a", mode=0o644, mtime=OLD_MTIME)
    second = copy_function(tmp_path / "b" / "deeper" / "checkout", mode=0o600, mtime=time.time())
    (second / "ecs_state" / "handler.py").chmod(0o755)

    first_zip = build_in_subprocess(first, ["-m", "tools.package"], umask=0o022)
    # Zip times have a 2 s resolution: a build that took the clock's time would differ now.
    time.sleep(2.1)
    second_zip = build_in_subprocess(second, ["tools/package.py"], umask=0o077)

    assert package.base64_sha256(first_zip) == package.base64_sha256(second_zip)
    assert first_zip == second_zip == package.build()


def test_committed_zip_is_a_fresh_build_of_function():
    assert package.PACKAGE.read_bytes() == package.build(), package.OUT_OF_DATE


def test_check_fails_and_says_what_to_run_when_function_changed(tmp_path):
    function_dir = copy_function(tmp_path, mode=0o644, mtime=OLD_MTIME)
    zip_path = package.write(tmp_path / "function.zip", function_dir)

    paths = ["--function-dir", str(function_dir), "--zip", str(zip_path)]

    def check() -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "tools.package", "--check", *paths],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )

    assert check().returncode == 0
    with (function_dir / "ecs_state" / "handler.py").open("a") as handler:
        handler.write("# changed\n")
    stale = check()
    assert stale.returncode == 1
    assert "function.zip is out of date with function/: run `make package`" in stale.stderr


# ---------------------------------------------------------------------------------------
# Plan in one job, apply in another
# ---------------------------------------------------------------------------------------
def checkout(job: Path, example: str, endpoint: str) -> Path:
    """What a CI job has after checking out this commit: the module's configuration and the
    committed zip (function/ itself is not needed), and the example, which refers to the
    module as "../.." as written. The override points it at the emulator and leaves the
    alarms out: moto does not serve the protocol the provider speaks to CloudWatch."""
    job.mkdir()
    for path in [*ROOT.glob("*.tf"), package.PACKAGE]:
        shutil.copy(path, job)
    example_dir = job / "examples" / example
    example_dir.mkdir(parents=True)
    for path in (ROOT / "examples" / example).glob("*.tf"):
        shutil.copy(path, example_dir)
    (example_dir / "emulator_override.tf").write_text(
        provider_override_tf(endpoint, inline_endpoints=False)
        + 'module "ecs_state" {\n  create_alarms = false\n}\n'
    )
    return example_dir


def cli_runner(binary: str, endpoint: str):
    env = {**os.environ, **aws_env(endpoint), "TF_IN_AUTOMATION": "1", "TF_INPUT": "0"}
    for name in ("AWS_PROFILE", "TF_DATA_DIR"):
        env.pop(name, None)

    def run(cwd: Path, *args: str, check: bool = True) -> str:
        result = subprocess.run(
            [binary, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0 or not check, (
            f"{binary} {' '.join(args)} exited {result.returncode} in {cwd}:\n"
            f"{result.stdout}\n{result.stderr}"
        )
        return result.stdout

    return run


def plan_then_apply_elsewhere(moto, binary: str, example: str, tmp_path: Path) -> None:
    aws = Aws(moto.endpoint)
    name = EXAMPLE_NAMES[example]
    run = cli_runner(binary, moto.endpoint)
    plan_dir = checkout(tmp_path / "plan-job", example, moto.endpoint)
    run(plan_dir, "init", "-no-color")
    run(plan_dir, "plan", "-no-color", "-out=plan.bin")

    apply_dir = checkout(tmp_path / "apply-job", example, moto.endpoint)
    for artefact in (".terraform.lock.hcl", "plan.bin"):
        shutil.copy(plan_dir / artefact, apply_dir)
    # Nothing of the plan job may be read at apply: gone, as on another runner.
    shutil.rmtree(tmp_path / "plan-job")

    run(apply_dir, "init", "-no-color")
    try:
        # Flags before the plan file: the CLIs stop reading flags at the first argument.
        run(apply_dir, "apply", "-no-color", "plan.bin")
        function = aws.awslambda.get_function_configuration(FunctionName=f"{name}-ecs-state")
        assert function["CodeSha256"] == package.base64_sha256(package.PACKAGE.read_bytes())
        # Exit code 0 is "no changes": this checkout's zip hashes as the plan job's did.
        run(apply_dir, "plan", "-no-color", "-detailed-exitcode")
    finally:
        # Clean-up, partly through the API. The examples keep the module's default,
        # deletion protection on, which is turned off here so that what was planned is that
        # default. The queue leaves the state and is deleted directly (DEAD_LETTER_QUEUE).
        for table in aws.dynamodb.list_tables()["TableNames"]:
            if table.startswith(f"{name}-"):
                aws.dynamodb.update_table(TableName=table, DeletionProtectionEnabled=False)
        queue_in_state = set(run(apply_dir, "state", "list", check=False).split()) & set(
            DEAD_LETTER_QUEUE
        )
        if queue_in_state:
            run(apply_dir, "state", "rm", *sorted(queue_in_state))
        aws.delete_queues(f"{name}-")
        run(apply_dir, "destroy", "-no-color", "-auto-approve")
    assert aws.leftovers(name) == {}


# The `name` each example gives the module, which prefixes what it creates.
EXAMPLE_NAMES = {"ec2": "web", "fargate": "jobs"}


# One example per CLI keeps the suite's wall time down (each apply waits about 50 s on the
# dead-letter queue's propagation checks); together they cover both launch types and both
# CLIs, and the ec2 example makes every kind of resource the module has but the alarms.
@pytest.mark.module
def test_saved_plan_applies_in_a_fresh_checkout_suite_cli_ec2(moto, request, tmp_path):
    binary = request.config.getoption("dest_tf_binary") or shutil.which("tofu")
    plan_then_apply_elsewhere(moto, binary, "ec2", tmp_path)


@pytest.mark.module
def test_saved_plan_applies_in_a_fresh_checkout_terraform_fargate(moto, terraform_cli, tmp_path):
    plan_then_apply_elsewhere(moto, terraform_cli, "fargate", tmp_path)
