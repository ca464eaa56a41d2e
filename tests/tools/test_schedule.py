"""The suite's schedule (tests/conftest.py): the long tests it starts first exist, and the
order it gives pytest-xdist starts each of them on a worker of its own."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

from tests import conftest


def test_every_long_running_entry_names_a_collected_test():
    """A renamed or deleted test would silently drop out of the schedule."""
    files = sorted({nodeid.split("::")[0] for nodeid in conftest.LONG_RUNNING})
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:xdist", *files],
        cwd=conftest.ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert set(conftest.LONG_RUNNING) <= set(collected)
    assert len(set(conftest.LONG_RUNNING)) == len(conftest.LONG_RUNNING)


def test_long_tests_alternate_with_short_ones_longest_first():
    items = [SimpleNamespace(nodeid=f"tests/a/test_short.py::test_{n}") for n in range(5)]
    long = [SimpleNamespace(nodeid=nodeid) for nodeid in reversed(conftest.LONG_RUNNING[:3])]
    collected = items[:2] + long + items[2:]
    conftest.pytest_collection_modifyitems(collected)
    assert [item.nodeid for item in collected] == [
        conftest.LONG_RUNNING[0],
        items[0].nodeid,
        conftest.LONG_RUNNING[1],
        items[1].nodeid,
        conftest.LONG_RUNNING[2],
        items[2].nodeid,
        items[3].nodeid,
        items[4].nodeid,
    ]
