"""Check a trimmed hashicorp/aws build against a full build of the same source.

    python3 compare_schemas.py FULL_BINARY TRIMMED_BINARY

Asks each binary for its schema (`tofu providers schema -json`, through a throwaway
filesystem mirror) and fails unless the provider block and every resource and data
source schema the trimmed build serves are identical to the full build's. Run it
after changing services.txt, trim.py or the provider pin, with a full build made by
`ECS_STATE_AWS_PROVIDER=full tools/bootstrap.sh providers`. Needs `tofu` on PATH.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ADDRESS = "registry.opentofu.org/hashicorp/aws"
KINDS = ("resource_schemas", "data_source_schemas")
CONFIGURATION = (
    'terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws" }\n  }\n}\n'
)


def schema(binary: Path) -> dict:
    version = binary.name.rsplit("_v", 1)[1]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        package = root / "mirror" / ADDRESS / version / "linux_amd64"
        package.mkdir(parents=True)
        (package / binary.name).symlink_to(binary.resolve())
        (root / "cli.tfrc").write_text(
            f'provider_installation {{\n  filesystem_mirror {{ path = "{root / "mirror"}" }}\n}}\n'
        )
        (root / "main.tf").write_text(CONFIGURATION)
        env = {**os.environ, "TF_CLI_CONFIG_FILE": str(root / "cli.tfrc")}
        run = {"cwd": root, "env": env, "check": True, "capture_output": True, "text": True}
        subprocess.run(["tofu", "init", "-input=false", "-no-color"], **run)
        out = subprocess.run(["tofu", "providers", "schema", "-json"], **run).stdout
    return json.loads(out)["provider_schemas"][ADDRESS]


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        raise SystemExit(__doc__)
    full, trimmed = schema(Path(argv[1])), schema(Path(argv[2]))
    problems = [] if full["provider"] == trimmed["provider"] else ["provider block differs"]
    for kind in KINDS:
        served = trimmed.get(kind, {})
        problems += [
            f"{kind}: {name} differs" for name in served if served[name] != full[kind].get(name)
        ]
        print(f"{kind}: trimmed serves {len(served)} of {len(full[kind])}")
    for problem in problems:
        print(problem, file=sys.stderr)
    print("identical" if not problems else f"{len(problems)} differences")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
