"""Benchmark and fault harness: the shipped handler side by side with a read-then-write baseline.

Run it from the repository root with ``python -m bench.run``; see bench/README.md.
"""

import sys
from pathlib import Path

# The Lambda package's root, so that `python -m bench.run` imports ecs_state exactly as the
# function does (pytest gets the same path from pyproject.toml).
_FUNCTION_DIR = str(Path(__file__).resolve().parents[1] / "function")
if _FUNCTION_DIR not in sys.path:
    sys.path.append(_FUNCTION_DIR)
