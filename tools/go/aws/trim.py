"""Cut a copy of the hashicorp/aws provider's source down to a few AWS services.

The provider registers every service package in one generated list
(internal/provider/sdkv2/service_packages_gen.go) and builds a client accessor for
every AWS SDK service in another (internal/conns/awsclient_gen.go). Go compiles
only what is imported, so keeping just the services this project's configurations
use shrinks the build from ~270 services to about ten, without touching any line of
the code that serves those services' resources.

    python3 trim.py SOURCE_DIR services.txt

SOURCE_DIR is a writable copy of the provider module; it is edited in place. The
script needs `go` on PATH (it asks `go list` which packages the trimmed provider
imports).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

MODULE = "github.com/hashicorp/terraform-provider-aws"
SERVICE_LIST = Path("internal/provider/sdkv2/service_packages_gen.go")
CLIENT_ACCESSORS = Path("internal/conns/awsclient_gen.go")
ACCESSOR = re.compile(
    r"^func \(c \*AWSClient\) (?P<name>\w+)\(ctx context\.Context\) \*\w+\.Client \{\n"
    r"(?:.*\n)*?\}\n\n?",
    re.MULTILINE,
)
IMPORT_BLOCK = re.compile(r"^import \(\n(?P<body>.*?)^\)\n", re.MULTILINE | re.DOTALL)


def read_services(path: Path) -> list[str]:
    names = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.append(line)
    if not names:
        raise SystemExit(f"{path}: no service listed")
    return names


def filter_service_list(text: str, kept: set[str]) -> str:
    lines = []
    for line in text.splitlines(keepends=True):
        imported = re.fullmatch(rf'\s*"{MODULE}/internal/service/(\w+)"\n', line)
        registered = re.fullmatch(r"\s*(\w+)\.ServicePackage\(ctx\),\n", line)
        match = imported or registered
        if match and match.group(1) not in kept:
            continue
        lines.append(line)
    return "".join(lines)


def trim_service_list(source: Path, services: list[str]) -> list[str]:
    """Register the listed services and every service package they import.

    The packages they import (ec2, kms, ...) are compiled in anyway; registering them
    too means a client the listed services ask for is never an unknown service.
    """
    path = source / SERVICE_LIST
    missing = [s for s in services if not (source / "internal/service" / s).is_dir()]
    if missing:
        raise SystemExit(f"not services of this provider version: {', '.join(missing)}")
    original = path.read_text()
    path.write_text(filter_service_list(original, set(services)))
    imported = {
        Path(d).relative_to(source / "internal/service").parts[0]
        for d in go_list_module_dirs(source)
        if Path(d).is_relative_to(source / "internal/service")
    }
    registered = sorted(set(services) | imported)
    trimmed = filter_service_list(original, set(registered))
    if trimmed.count(".ServicePackage(ctx),") != len(registered):
        raise SystemExit(f"{SERVICE_LIST}: not in the generated form trim.py knows; update it")
    path.write_text(trimmed)
    return registered


def go_list_module_dirs(source: Path) -> list[str]:
    return subprocess.run(
        ["go", "list", "-deps", "-f", "{{if .Module}}{{.Dir}}{{end}}", "."],
        cwd=source,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()


def module_files(source: Path) -> list[Path]:
    """Non-test Go files of the module's packages that the provider binary imports."""
    listing = go_list_module_dirs(source)
    files = []
    for directory in listing:
        path = Path(directory)
        if path.is_relative_to(source):
            files.extend(p for p in path.glob("*.go") if not p.name.endswith("_test.go"))
    return files


def trim_client_accessors(source: Path) -> tuple[int, int]:
    path = source / CLIENT_ACCESSORS
    text = path.read_text()
    accessors = {m.group("name") for m in ACCESSOR.finditer(text)}
    if not accessors:
        raise SystemExit(f"{CLIENT_ACCESSORS}: not in the generated form trim.py knows; update it")
    used = set()
    for file in module_files(source):
        if file == path:
            continue
        used |= set(re.findall(r"\b(\w+Client)\(", file.read_text())) & accessors
    body = ACCESSOR.sub(lambda m: m.group(0) if m.group("name") in used else "", text)
    imports = IMPORT_BLOCK.search(body)
    rest = body[imports.end() :]
    kept_imports = []
    for line in imports.group("body").splitlines(keepends=True):
        sdk = re.fullmatch(r'\s*"github\.com/aws/aws-sdk-go-v2/service/(\w+)"\n', line)
        if sdk and not re.search(rf"\b{sdk.group(1)}\.", rest):
            continue
        kept_imports.append(line)
    body = body[: imports.start("body")] + "".join(kept_imports) + body[imports.end("body") :]
    path.write_text(body)
    return len(used), len(accessors)


def main(argv: list[str]) -> None:
    if len(argv) != 3:
        raise SystemExit(__doc__)
    source, services = Path(argv[1]).resolve(), read_services(Path(argv[2]))
    registered = trim_service_list(source, services)
    kept, total = trim_client_accessors(source)
    print(
        f"aws provider trimmed to {len(registered)} service packages "
        f"({' '.join(registered)}) and {kept}/{total} SDK clients"
    )


if __name__ == "__main__":
    main(sys.argv)
