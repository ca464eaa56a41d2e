"""Build function.zip, the Lambda package the module deploys, byte for byte the same anywhere.

    python -m tools.package            write function.zip at the repository root (`make package`)
    python -m tools.package --check    exit 1 when the committed function.zip is not what
                                       function/ builds (`make lint`)

The zip is committed beside the module, so a saved plan applies in any checkout of the same
commit and `filebase64sha256` changes only when the code does. For that hash to be stable,
nothing of the machine, the checkout or the Python build may reach the bytes: members are
sorted, every timestamp is 1980-01-01 00:00:00, every mode is 0644, there are no directory
entries and no extra fields, and this file writes every byte of the container itself.

Members are stored, not deflated: zlib's output depends on the implementation the
interpreter links (zlib, zlib-ng, vendor builds), so a deflated zip built on another machine
could differ, and a compressor of our own would be code to maintain for a few tens of KB that
Lambda unpacks in no measurable time. Only the standard library is used, so this runs without
the project's environment.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import struct
import sys
import tempfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FUNCTION_DIR = ROOT / "function"
PACKAGE = ROOT / "function.zip"
PACKAGE_NAME = "ecs_state"
OUT_OF_DATE = "function.zip is out of date with function/: run `make package`"

# ---- the zip container (APPNOTE.TXT 4.3) -------------------------------------------------
STORED = 0
# 1.0: stored members need nothing newer; every unzip reads it.
ZIP_VERSION = 10
UNIX = 3
# 1980-01-01 00:00:00, the earliest a zip header can hold: no clock or file time leaks in.
DOS_TIME, DOS_DATE = 0, (1 << 5) | 1
# A regular file, rw-r--r--, in the Unix half of the external attributes.
FILE_MODE = 0o100644
# signature, version needed, flags, method, time, date, crc-32, compressed and
# uncompressed size, name and extra field length
LOCAL_HEADER = struct.Struct("<IHHHHHIIIHH")
# signature, version made by, the local header's fields, comment length, disk number,
# internal and external attributes, local header offset
CENTRAL_HEADER = struct.Struct("<IHHHHHHIIIHHHHHII")
# signature, disk numbers, entries on this disk and in all, directory size and offset,
# comment length
END_OF_DIRECTORY = struct.Struct("<IHHHHIIH")


def sources(function_dir: Path = FUNCTION_DIR) -> list[tuple[str, Path]]:
    """(name in the zip, file) for every module of the package, sorted by name.

    Only ecs_state/*.py: no bytecode, caches or editor files, and nothing of boto3, which
    the Lambda runtime provides.
    """
    package = function_dir / PACKAGE_NAME
    files = [path for path in package.glob("*.py") if path.is_file()]
    if not files:
        raise FileNotFoundError(f"no {PACKAGE_NAME}/*.py under {function_dir}")
    return sorted((f"{PACKAGE_NAME}/{path.name}", path) for path in files)


def build(function_dir: Path = FUNCTION_DIR) -> bytes:
    """The package's bytes; the same for the same sources on any machine and at any time."""
    body = bytearray()
    directory = bytearray()
    members = sources(function_dir)
    for name, path in members:
        data = path.read_bytes()
        encoded = name.encode("ascii")  # so the UTF-8 name flag is never needed
        common = (ZIP_VERSION, 0, STORED, DOS_TIME, DOS_DATE, zlib.crc32(data))
        sizes = (len(data), len(data), len(encoded), 0)  # 0: no extra field
        directory += CENTRAL_HEADER.pack(
            0x02014B50,
            UNIX << 8 | ZIP_VERSION,
            *common,
            *sizes,
            0,
            0,
            0,
            FILE_MODE << 16,
            len(body),
        )
        directory += encoded
        body += LOCAL_HEADER.pack(0x04034B50, *common, *sizes) + encoded + data
    count = len(members)
    end = END_OF_DIRECTORY.pack(0x06054B50, 0, 0, count, count, len(directory), len(body), 0)
    return bytes(body + directory + end)


def base64_sha256(data: bytes) -> str:
    """What filebase64sha256() puts in the plan and Lambda reports as CodeSha256."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def write(destination: Path = PACKAGE, function_dir: Path = FUNCTION_DIR) -> Path:
    """Build into destination through a temporary file, so a reader never sees half a zip."""
    data = build(function_dir)
    handle, temporary = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.")
    try:
        with os.fdopen(handle, "wb") as output:
            output.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, destination)
    except BaseException:
        os.unlink(temporary)
        raise
    return destination


def is_current(package: Path = PACKAGE, function_dir: Path = FUNCTION_DIR) -> bool:
    return package.is_file() and package.read_bytes() == build(function_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.package", description=__doc__.split("\n", 1)[0]
    )
    parser.add_argument(
        "--check", action="store_true", help="only compare the zip with a fresh build"
    )
    parser.add_argument(
        "--function-dir", type=Path, default=FUNCTION_DIR, help="default: %(default)s"
    )
    parser.add_argument("--zip", type=Path, default=PACKAGE, help="default: %(default)s")
    args = parser.parse_args(argv)
    if args.check:
        if not is_current(args.zip, args.function_dir):
            print(OUT_OF_DATE, file=sys.stderr)
            return 1
        return 0
    path = write(args.zip, args.function_dir)
    print(f"{path}: {path.stat().st_size} bytes, {len(sources(args.function_dir))} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
