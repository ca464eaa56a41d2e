"""Module tests: real `tofu init/plan/apply/destroy` against moto's server."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.conftest import skip_or_fail


def pytest_configure(config):
    # pytest-terraform refuses to start without a binary; tell it about a missing one here
    # so the module tier can report it as SKIPPED instead of breaking every other tier.
    if not (
        config.getoption("dest_tf_binary") or shutil.which("tofu") or shutil.which("terraform")
    ):
        config.option.dest_tf_binary = "tofu-not-installed"


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
