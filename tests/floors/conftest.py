"""The floor tests run only under `make test-floors` (ECS_STATE_FLOORS=1): the floor CLIs
are not part of `tools/bootstrap.sh all`, and an apply per CLI and mode would add minutes
to `make test`. Elsewhere they are deselected, which pytest reports as such."""

from __future__ import annotations

import os
from pathlib import Path

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    if os.environ.get("ECS_STATE_FLOORS") == "1":
        return
    floors = [item for item in items if HERE in item.path.parents]
    if floors:
        config.hook.pytest_deselected(items=floors)
        items[:] = [item for item in items if HERE not in item.path.parents]
