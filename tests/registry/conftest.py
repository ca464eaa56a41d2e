"""The release archive, the throwaway CA and a registry serving the archive per test."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail
from tests.registry.registry import (
    Certificates,
    ModuleRegistry,
    RegistryServer,
    make_certificates,
    pack_release,
)

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "ecs-state-release-test"
# As the public registry names a module from a repository called terraform-aws-ecs-state.
MODULE_NAME = "ecs-state"
TARGET_SYSTEM = "aws"
# Older and newer releases around the one `~> 0.1` must choose: 0.2.0 is the newest 0.x,
# 1.0.0 is past the constraint's upper bound, 0.1.0 is older than what it prefers.
SERVED_VERSIONS = ("0.1.0", "0.2.0", "1.0.0")
EXPECTED_VERSION = "0.2.0"


@dataclass(frozen=True)
class Release:
    archive: Path
    members: list[str]
    certificates: Certificates


@pytest.fixture(scope="session")
def release(tmp_path_factory) -> Release:
    directory = tmp_path_factory.mktemp("release")
    archive = directory / "terraform-aws-ecs-state.tar.gz"
    try:
        members = pack_release(ROOT, archive)
    except (OSError, subprocess.CalledProcessError) as error:
        # A release is what git tracks: without git or a checkout there is nothing to pack.
        skip_or_fail("registry", f"cannot list the tracked files with git: {error}")
    return Release(archive, members, make_certificates(directory))


@pytest.fixture
def registry(release):
    """A fresh registry per test, so its request log is that test's alone. Every version
    serves the same archive: which one the CLI chose is read from the request log and from
    what it recorded in .terraform/modules/modules.json."""
    served = ModuleRegistry(
        namespace=NAMESPACE,
        name=MODULE_NAME,
        system=TARGET_SYSTEM,
        versions=dict.fromkeys(SERVED_VERSIONS, release.archive),
    )
    with RegistryServer(served, release.certificates) as running:
        yield running
