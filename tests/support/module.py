"""Facts the module's Terraform files state, read from them rather than restated (the
tests and bench/ use them)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

VARIABLES_TF = Path(__file__).resolve().parents[2] / "variables.tf"


def module_default(variable: str) -> Any:
    """The default of a variable in the module's variables.tf (a number, string or bool)."""
    block = re.search(
        rf'^variable "{variable}" {{\n(.*?)^}}', VARIABLES_TF.read_text(), re.M | re.S
    )
    default = re.search(r"^\s*default\s*=\s*(.+)$", block[1] if block else "", re.M)
    if default is None:
        raise LookupError(f"variables.tf has no default for {variable}")
    return json.loads(default[1])
