"""tools/bootstrap.sh chooses every artifact by platform, and refuses the platforms it
cannot serve with a message that names them.

The script is sourced (it then only defines its functions) in a bash whose PATH starts
with fake `go` and `uname` commands, so each platform is tested on any machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

BOOTSTRAP = Path(__file__).resolve().parents[2] / "tools" / "bootstrap.sh"
SUPPORTED = ["linux_amd64", "linux_arm64", "darwin_amd64", "darwin_arm64"]
# What `uname -s` and `uname -m` print on each supported platform (macOS says arm64,
# Linux aarch64).
UNAME = {
    "linux_amd64": ("Linux", "x86_64"),
    "linux_arm64": ("Linux", "aarch64"),
    "darwin_amd64": ("Darwin", "x86_64"),
    "darwin_arm64": ("Darwin", "arm64"),
}


def fake_commands(bin_dir: Path, *, uname: tuple[str, str], goos_goarch: tuple[str, str] | None):
    """`uname` answering -s and -m; `go env GOOS GOARCH` answering, or failing as when Go
    is missing."""
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "uname").write_text(
        f'#!/bin/sh\ncase "$1" in -s) echo {uname[0]} ;; -m) echo {uname[1]} ;; *) exit 2 ;; esac\n'
    )
    if goos_goarch is None:
        go = "#!/bin/sh\nexit 127\n"
    else:
        go = (
            "#!/bin/sh\n"
            f'[ "$1" = env ] || exit 2\ncase "$2" in GOOS) echo {goos_goarch[0]} ;;'
            f" GOARCH) echo {goos_goarch[1]} ;; *) exit 2 ;; esac\n"
        )
    (bin_dir / "go").write_text(go)
    for command in ("uname", "go"):
        (bin_dir / command).chmod(0o755)


def run_function(bin_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Source bootstrap.sh and call one of its functions."""
    system_path = os.pathsep.join(
        str(Path(shutil.which(tool)).parent) for tool in ("bash", "tr", "cat")
    )
    return subprocess.run(
        # $0 is not the script's path, so sourcing it defines its functions and runs nothing.
        ["bash", "-c", 'source "$1" && shift && "$@"', "test", str(BOOTSTRAP), *args],
        env={"PATH": f"{bin_dir}{os.pathsep}{system_path}", "HOME": str(bin_dir)},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("expected", SUPPORTED)
def test_platform_from_go_env(tmp_path, expected):
    # uname says something else: Go's own answer wins, since Go builds for it.
    fake_commands(tmp_path, uname=("SunOS", "sparc"), goos_goarch=tuple(expected.split("_")))
    result = run_function(tmp_path, "platform")
    assert (result.returncode, result.stdout) == (0, f"{expected}\n"), result.stderr


@pytest.mark.parametrize("expected", SUPPORTED)
def test_platform_from_uname_without_go(tmp_path, expected):
    fake_commands(tmp_path, uname=UNAME[expected], goos_goarch=None)
    result = run_function(tmp_path, "platform")
    assert (result.returncode, result.stdout) == (0, f"{expected}\n"), result.stderr


@pytest.mark.parametrize(
    ("uname", "goos_goarch", "named"),
    [
        (("Linux", "x86_64"), ("windows", "amd64"), "windows_amd64"),
        (("Linux", "i686"), ("linux", "386"), "linux_386"),
        (("FreeBSD", "amd64"), None, "freebsd_amd64"),
        (("Linux", "riscv64"), None, "linux_riscv64"),
    ],
)
def test_unsupported_platform_stops_with_a_message(tmp_path, uname, goos_goarch, named):
    fake_commands(tmp_path, uname=uname, goos_goarch=goos_goarch)
    result = run_function(tmp_path, "platform")
    assert result.returncode != 0
    assert result.stdout == ""
    assert f"unsupported platform {named}" in result.stderr
    assert "linux_amd64 linux_arm64 darwin_amd64 darwin_arm64" in result.stderr


@pytest.mark.parametrize(
    ("platform", "coordinates"),
    [
        ("linux_amd64", "com.almworks.sqlite4java:libsqlite4java-linux-amd64:so"),
        ("darwin_amd64", "com.almworks.sqlite4java:libsqlite4java-osx:dylib"),
        ("darwin_arm64", "io.github.ganadist.sqlite4java:libsqlite4java-osx-aarch64:dylib"),
    ],
)
def test_dynamodb_local_native_library_per_platform(tmp_path, platform, coordinates):
    result = run_function(tmp_path, "sqlite4java_native", platform)
    assert (result.returncode, result.stdout) == (0, f"{coordinates}\n"), result.stderr


def test_dynamodb_local_on_linux_arm64_says_why_it_cannot(tmp_path):
    result = run_function(tmp_path, "sqlite4java_native", "linux_arm64")
    assert result.returncode != 0
    assert "Maven Central has no Linux arm64 build" in result.stderr


def test_the_mirror_is_laid_out_for_the_platform(tmp_path):
    # The provider mirror's <os>_<arch> folder is what OpenTofu and Terraform look up.
    fake_commands(tmp_path, uname=UNAME["darwin_arm64"], goos_goarch=None)
    binary = tmp_path / "terraform-provider-aws"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    cache = tmp_path / "cache"
    result = run_function(
        tmp_path,
        "eval",
        f'CACHE={cache}; PLATFORM=$(platform); mirror_provider aws 6.47.1 "{binary}"',
    )
    assert result.returncode == 0, result.stderr
    # One tree per default registry host, each with the platform's folder only.
    links = sorted(
        (cache / "mirror").glob("*/hashicorp/aws/6.47.1/*/terraform-provider-aws_v6.47.1")
    )
    assert len(links) == 2, links
    assert {link.parent.name for link in links} == {"darwin_arm64"}
    assert all(link.resolve() == binary.resolve() for link in links)
