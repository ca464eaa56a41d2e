"""The module as a release ships it, installed through the module registry protocol.

A root module outside the checkout names it only by `<host>/<namespace>/ecs-state/aws`
and `~> 0.1`; OpenTofu and Terraform discover the registry, pick the version, download
the archive over TLS, then validate and plan both modes against moto. This is the one
place where the module runs from what a release holds instead of from the checkout, so a
file the module needs but git does not track, or a path that only resolves inside the
checkout, fails here. Providers still come from the offline mirror of TF_CLI_CONFIG_FILE,
which names no module registry host: the module address alone leads the CLIs here.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import uuid
from pathlib import Path

import boto3
import pytest

from tests.registry.conftest import EXPECTED_VERSION, ROOT
from tests.registry.registry import DISCOVERY_PATH
from tools.emulators import aws_env, provider_override_tf

pytestmark = pytest.mark.module
REGION = "us-east-1"
# What a consumer of the module must find in the archive: the Terraform files and the
# committed Lambda package they deploy.
MODULE_FILES = {"main.tf", "variables.tf", "outputs.tf", "versions.tf", "function.zip"}

CONSUMER_TF = """
variable "launch_type" {
  type = string
}

variable "name" {
  type = string
}

variable "dead_letter_queue_arn" {
  type    = string
  default = null
}

module "ecs_state" {
  source  = "%(source)s"
  version = "~> 0.1"

  name                        = var.name
  launch_type                 = var.launch_type
  cluster_arns                = ["arn:aws:ecs:us-east-1:123456789012:cluster/web"]
  deletion_protection_enabled = false
  create_dead_letter_queue    = var.dead_letter_queue_arn == null
  dead_letter_queue_arn       = var.dead_letter_queue_arn
}

output "task_table_name" {
  value = module.ecs_state.task_table_name
}
"""


class Consumer:
    """A fresh root module that uses the module from the registry, run by one CLI."""

    def __init__(self, directory: Path, binary: str, registry, ca_bundle: Path, moto_endpoint):
        self.dir = directory
        self.binary = binary
        (directory / "main.tf").write_text(CONSUMER_TF % {"source": registry.source})
        # Against moto, with the endpoints in the environment: the faster provider start.
        (directory / "emulator_provider.tf").write_text(
            provider_override_tf(moto_endpoint, inline_endpoints=False)
        )
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in ("TF_DATA_DIR", "AWS_PROFILE")},
            **aws_env(moto_endpoint),
            # Go reads SSL_CERT_FILE on Linux: the throwaway CA is trusted by this process
            # alone, and the CLI configuration stays the project's own.
            "SSL_CERT_FILE": str(ca_bundle),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
        }

    def run(self, *args: str, expect_failure: bool = False, **variables: str) -> str:
        """Run a CLI command; its output, or with expect_failure, its errors."""
        command, *rest = args
        var_flags = [f"-var={name}={value}" for name, value in variables.items()]
        result = subprocess.run(
            [self.binary, command, "-no-color", *var_flags, *rest],
            cwd=self.dir,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if expect_failure:
            assert result.returncode != 0, result.stdout
            return result.stderr
        assert result.returncode == 0, (
            f"{Path(self.binary).name} {command} failed:\n{result.stdout}\n{result.stderr}"
        )
        return result.stdout

    def installed_version(self) -> str:
        """The version the CLI recorded for the module it installed."""
        manifest = json.loads((self.dir / ".terraform" / "modules" / "modules.json").read_text())
        (entry,) = [m for m in manifest["Modules"] if m["Key"] == "ecs_state"]
        return entry["Version"]

    def plan(self, **variables: str) -> dict:
        """The JSON plan, with each planned resource by address."""
        self.run("plan", "-input=false", "-out=consumer.tfplan", **variables)
        shown = json.loads(self.run("show", "-json", "consumer.tfplan"))
        return {change["address"]: change["change"] for change in shown["resource_changes"]}


def committed_package_hash() -> str:
    digest = hashlib.sha256((ROOT / "function.zip").read_bytes()).digest()
    return base64.b64encode(digest).decode()


@pytest.fixture
def tofu_cli(request, moto) -> str:
    """OpenTofu as the rest of the suite runs it; `moto` has checked it is there."""
    return request.config.getoption("dest_tf_binary") or shutil.which("tofu")


@pytest.fixture(params=["tofu", "terraform"])
def cli(request) -> str:
    return request.getfixturevalue("tofu_cli" if request.param == "tofu" else "terraform_cli")


def test_release_archive_is_the_tracked_files(release):
    """What the registry serves is the tracked tree: the module's files and the committed
    package byte for byte, and nothing git ignores (state, plans, .terraform)."""
    with tarfile.open(release.archive) as archive:
        names = archive.getnames()
        package = archive.extractfile("function.zip").read()
    assert names == release.members
    assert set(names) >= MODULE_FILES, MODULE_FILES - set(names)
    assert package == (ROOT / "function.zip").read_bytes()
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", "--stdin"],
        cwd=ROOT,
        input="\n".join(names),
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    assert ignored == []


def test_registry_is_trusted_through_the_test_ca_alone(tofu_cli, moto, registry, release, tmp_path):
    """Without the CA bundle the CLI refuses the registry: the round trip below really
    verifies the server's certificate, and nothing else on the machine trusts it."""
    consumer = Consumer(tmp_path, tofu_cli, registry, release.certificates.ca_bundle, moto.endpoint)
    del consumer.env["SSL_CERT_FILE"]
    refused = consumer.run("init", "-input=false", expect_failure=True)
    assert "certificate signed by unknown authority" in refused, refused
    assert registry.downloads() == []


def test_installs_validates_and_plans_both_modes(cli, moto, registry, release, tmp_path):
    consumer = Consumer(tmp_path, cli, registry, release.certificates.ca_bundle, moto.endpoint)
    name = f"reg-{uuid.uuid4().hex[:8]}"

    consumer.run("init", "-input=false")
    # The CLI found the registry by service discovery, as it would the public registry,
    # and not through a `host` block of its configuration.
    assert registry.requests[0] == DISCOVERY_PATH, registry.requests
    # `~> 0.1` is >= 0.1, < 1.0: the newest 0.x, never 1.0.0, never the older 0.1.0.
    assert consumer.installed_version() == EXPECTED_VERSION
    assert registry.downloads() == [EXPECTED_VERSION]
    assert registry.archives_fetched() == [f"{EXPECTED_VERSION}.tar.gz"]
    consumer.run("validate")

    tables = 'module.ecs_state.aws_dynamodb_table.this["%s"]'
    function = "module.ecs_state.aws_lambda_function.this"
    for launch_type, kinds in (("EC2", {"task", "container_instance"}), ("FARGATE", {"task"})):
        planned = consumer.plan(launch_type=launch_type, name=name)
        made = {kind for kind in ("task", "container_instance") if tables % kind in planned}
        assert made == kinds, (launch_type, sorted(planned))
        lambda_after = planned[function]["after"]
        assert lambda_after["environment"][0]["variables"]["LAUNCH_TYPE"] == launch_type
        # The function deploys the package from the installed copy, and it is the committed
        # one: the hash a plan from the checkout would show.
        assert lambda_after["filename"] == ".terraform/modules/ecs_state/function.zip"
        assert lambda_after["source_code_hash"] == committed_package_hash()


def test_applies_from_the_registry(tofu_cli, moto, registry, release, tmp_path):
    """One apply of the installed module (FARGATE, with a queue of the caller's own, which
    spares the provider's SQS propagation waits), then a clean second plan and a destroy."""
    consumer = Consumer(tmp_path, tofu_cli, registry, release.certificates.ca_bundle, moto.endpoint)
    name = f"reg-{uuid.uuid4().hex[:8]}"
    sqs = boto3.client("sqs", endpoint_url=moto.endpoint, region_name=REGION)
    queue_url = sqs.create_queue(QueueName=f"{name}-own-dlq")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    variables = {"launch_type": "FARGATE", "name": name, "dead_letter_queue_arn": queue_arn}

    consumer.run("init", "-input=false")
    assert consumer.installed_version() == EXPECTED_VERSION
    consumer.run("apply", "-input=false", "-auto-approve", **variables)
    try:
        lambda_client = boto3.client("lambda", endpoint_url=moto.endpoint, region_name=REGION)
        function = lambda_client.get_function(FunctionName=f"{name}-ecs-state")["Configuration"]
        assert function["Handler"] == "ecs_state.handler.lambda_handler"
        assert function["CodeSha256"] == committed_package_hash()
        assert function["Environment"]["Variables"]["LAUNCH_TYPE"] == "FARGATE"
        tables = boto3.client("dynamodb", endpoint_url=moto.endpoint, region_name=REGION)
        assert f"{name}-tasks" in tables.list_tables()["TableNames"]
        # No perpetual diff in the installed module either.
        consumer.run("plan", "-input=false", "-detailed-exitcode", **variables)
    finally:
        consumer.run("destroy", "-input=false", "-auto-approve", **variables)
