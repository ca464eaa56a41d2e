"""Fixtures shared by every test tier: the local emulators and the skip policy.

A tier whose emulator cannot start does not pass quietly: it fails with
"SKIPPED: <tier>: <reason>", unless ECS_STATE_ALLOW_SKIP=1 is set, in which case the
tests are reported as skipped with that same reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest

REGION = "us-east-1"
# Root modules of the module tests. pytest-terraform runs `init` where they are, which
# writes a lock file beside them; each session works on its own copy outside the checkout
# instead, so no lock file lands in the checkout and concurrent sessions never share one.
TF_FIXTURES = Path(__file__).parent / "module" / "terraform"
ROOT = Path(__file__).resolve().parents[1]


def copy_tf_fixtures() -> Path:
    """Copy every fixture root module to a fresh folder; their `source = "../../../.."`
    becomes the relative path from there to the checkout (local sources must start with
    ../ or ./)."""
    copies = Path(tempfile.mkdtemp(prefix="ecs-state-tf-fixtures-"))
    for fixture in sorted(p for p in TF_FIXTURES.iterdir() if p.is_dir()):
        target = copies / fixture.name
        shutil.copytree(fixture, target, ignore=shutil.ignore_patterns(".terraform*"))
        source = os.path.relpath(ROOT, target)
        for config in target.glob("*.tf"):
            config.write_text(config.read_text().replace('"../../../.."', f'"{source}"'))
    return copies


def pytest_configure(config):
    config.option.dest_tf_mod_dir = str(copy_tf_fixtures())
    # pytest-terraform refuses to start without a binary; tell it about a missing one here
    # so the module tier can report it as SKIPPED instead of breaking every other tier.
    if not (
        config.getoption("dest_tf_binary") or shutil.which("tofu") or shutil.which("terraform")
    ):
        config.option.dest_tf_binary = "tofu-not-installed"


@contextmanager
def environment(**values: str):
    """Set environment variables for the duration of a block, then restore them."""
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def skip_or_fail(tier: str, reason: str) -> None:
    message = f"SKIPPED: {tier}: {reason}"
    print(f"\n{message}", flush=True)
    if os.environ.get("ECS_STATE_ALLOW_SKIP") == "1":
        pytest.skip(message)
    pytest.fail(message + " (set ECS_STATE_ALLOW_SKIP=1 to allow skipping)", pytrace=False)


@pytest.fixture(autouse=True)
def _aws_test_environment(monkeypatch):
    """No test may reach real AWS: dummy credentials, a fixed region, no shared config."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture(scope="session")
def dynamodb_local():
    """DynamoDB Local on a free loopback port for the whole session."""
    try:
        from tools.emulators import dynamodb_local as start
    except ImportError as error:  # pragma: no cover - only on a broken checkout
        skip_or_fail("dynamodb-local", f"tools/emulators.py cannot be imported: {error}")
    try:
        manager = start()
        server = manager.__enter__()
    except Exception as error:
        skip_or_fail("dynamodb-local", f"DynamoDB Local did not start: {error}")
    try:
        yield server
    finally:
        manager.__exit__(None, None, None)


@pytest.fixture(scope="session")
def moto_server():
    """moto's server on a free loopback port, with AWS_ENDPOINT_URL pointing at it."""
    try:
        from tools.emulators import moto_server as start

        manager = start()
        server = manager.__enter__()
    except Exception as error:
        skip_or_fail("moto-server", f"moto's server did not start: {error}")
    try:
        with environment(AWS_ENDPOINT_URL=server.endpoint):
            yield server
    finally:
        manager.__exit__(None, None, None)


@pytest.fixture(scope="session")
def local_tables(dynamodb_local):
    """A task table and a container-instance table in DynamoDB Local, unique per session."""
    from ecs_state.events import CONTAINER_INSTANCE, TASK
    from tests.support.tables import client, create_state_tables

    tables = create_state_tables(client("dynamodb", dynamodb_local.endpoint))
    return {
        "endpoint": dynamodb_local.endpoint,
        "task": tables[TASK],
        "container_instance": tables[CONTAINER_INSTANCE],
    }


@pytest.fixture(scope="session")
def moto(request, moto_server):
    """moto's server for `tofu apply`, once a tofu binary and the provider mirror are there."""
    binary = (
        request.config.getoption("dest_tf_binary")
        or shutil.which("tofu")
        or shutil.which("terraform")
    )
    if not binary or not shutil.which(binary):
        skip_or_fail("module", "no tofu or terraform binary (run `make tools` or put one on PATH)")
    if (
        not os.environ.get("TF_CLI_CONFIG_FILE")
        and os.environ.get("ECS_STATE_USE_SYSTEM_TF") != "1"
    ):
        skip_or_fail(
            "module",
            "TF_CLI_CONFIG_FILE is not set: the offline provider mirror is not configured "
            "(run through `make test`, or set ECS_STATE_USE_SYSTEM_TF=1 to use the public "
            "registry)",
        )
    return moto_server


@pytest.fixture(scope="session")
def terraform_cli() -> str:
    """HashiCorp Terraform (TERRAFORM_BIN from env.sh), checked to be Terraform."""
    binary = os.environ.get("TERRAFORM_BIN")
    if not binary or not os.access(binary, os.X_OK):
        skip_or_fail("terraform", f"no Terraform CLI at TERRAFORM_BIN={binary!r}: run `make tools`")
    version = subprocess.run(
        [binary, "version"], capture_output=True, text=True, check=False
    ).stdout.splitlines()
    assert version and version[0].startswith("Terraform v"), (binary, version)
    return binary


def pytest_terminal_summary(terminalreporter):
    """Time per tier (tests/<tier>/) at the end of the run: the span from the tier's first
    test start to its last test end (tiers overlap under xdist) and the tests' summed time."""
    spans: dict[str, list[float]] = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) not in ("setup", "call", "teardown"):
                continue
            parts = report.nodeid.split("/")
            tier = parts[1] if len(parts) > 2 and parts[0] == "tests" else parts[0]
            start, stop = getattr(report, "start", None), getattr(report, "stop", None)
            if start is None or stop is None:
                continue
            span = spans.setdefault(tier, [start, stop, 0.0])
            span[0], span[1] = min(span[0], start), max(span[1], stop)
            span[2] += stop - start
    if not spans:
        return
    terminalreporter.section("time per tier")
    for tier, (start, stop, busy) in sorted(spans.items(), key=lambda item: item[1][0]):
        terminalreporter.write_line(
            f"{tier:<10} {stop - start:7.1f} s from first start to last end, {busy:7.1f} s in tests"
        )


# Tests that take ten seconds or more in a warm run, longest first (`make test` lists the
# slowest) but for one. Most of their time is spent waiting on the aws provider's
# propagation checks against moto, so the run is as short as the longest of them only if
# each starts at once, on a worker of its own, while the short tests fill the other
# workers' waits.
LONG_RUNNING = (
    "tests/module/test_apply.py::test_fargate_mode",
    # Computes rather than waits (1,000 examples against DynamoDB Local): 34 s alone, 111 s
    # when a run handed it out 14th, among the applies; so it starts at once too.
    "tests/handler/test_ordering_property.py::test_final_state_is_the_max_version_state",
    "tests/examples/test_examples.py::test_example_applies_and_destroys[kms-per-cluster]",
    "tests/examples/test_examples.py::test_ec2_example_under_terraform",
    "tests/examples/test_examples.py::test_example_applies_and_destroys[multi-cluster]",
    "tests/examples/test_examples.py::test_example_applies_and_destroys[ec2]",
    "tests/examples/test_examples.py::test_example_applies_and_destroys[fargate]",
    "tests/module/test_apply.py::test_ec2_mode",
    "tests/floors/test_floors.py::test_floor_cli_inits_validates_plans_applies_and_destroys[opentofu-ec2]",
    "tests/floors/test_floors.py::test_floor_cli_inits_validates_plans_applies_and_destroys[terraform-ec2]",
    "tests/floors/test_floors.py::test_floor_cli_inits_validates_plans_applies_and_destroys[opentofu-fargate]",
    "tests/floors/test_floors.py::test_floor_cli_inits_validates_plans_applies_and_destroys[terraform-fargate]",
    "tests/module/test_package.py::test_saved_plan_applies_in_a_fresh_checkout_suite_cli_ec2",
    "tests/examples/test_examples.py::test_example_applies_and_destroys[seed-compatible]",
    "tests/module/test_package.py::test_saved_plan_applies_in_a_fresh_checkout_terraform_fargate",
    "tests/pipeline/test_pipeline.py::test_every_hop_on_aws_engines[fargate]",
    "tests/pipeline/test_pipeline.py::test_every_hop_on_aws_engines[ec2]",
    "tests/module/test_apply.py::test_two_instances_share_one_task_table",
    "tests/registry/test_round_trip.py::test_applies_from_the_registry",
    "tests/module/test_apply.py::test_existing_tables_given_by_name",
    "tests/module/test_native.py::test_plan_facts_under_terraform",
    "tests/handler/test_concurrency.py::test_concurrent_writers_keep_the_latest_version",
    "tests/module/test_native.py::test_plan_facts_under_opentofu",
)


def pytest_collection_modifyitems(items):
    """Long tests first, each followed by a short one.

    `make test` runs pytest-xdist's load scheduler with --maxschedchunk=1: a worker gets two
    tests to start with, then one more each time it finishes one, so it always holds the
    test it runs and the next. Alternating long and short tests starts every long test on a
    worker of its own instead of queueing one behind another.
    """
    rank = {nodeid: position for position, nodeid in enumerate(LONG_RUNNING)}
    long = sorted((item for item in items if item.nodeid in rank), key=lambda i: rank[i.nodeid])
    short = [item for item in items if item.nodeid not in rank]
    ordered = []
    for position, item in enumerate(long):
        ordered.append(item)
        if position < len(short):
            ordered.append(short[position])
    ordered.extend(short[len(long) :])
    items[:] = ordered
