"""Build function.zip, the Lambda package the module deploys, byte for byte the same anywhere.

    python -m tools.package            write function.zip at the repository root (`make package`)
    python -m tools.package --check    exit 1 when the committed function.zip is not what
                                       function/ builds (`make lint`)

The zip is committed beside the module, so a saved plan applies in any checkout of the same
commit and `filebase64sha256` changes only when the code does. For that hash to be stable,
nothing of the machine, the checkout or the Python build may reach the bytes: members are
sorted, every timestamp is 1980-01-01 00:00:00, every mode is 0644, there are no directory
entries and no extra fields, and this file writes every byte of the container itself.

Members are deflated by the encoder below, not by zlib: zlib's output depends on the
implementation the interpreter links (zlib, zlib-ng, vendor builds with their own match
finders), while this encoder's output depends only on its input. Inflating is the part of
DEFLATE that is fully specified, so zlib checks every member on the way out. Storing would
be simpler, but the reader library alone is over 30 KB of source and the package is held
under 50 KB (bench/). Only the standard library is used, so this runs without the project's
environment.
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

# ---- DEFLATE (RFC 1951): greedy LZ77 over hash chains, one block of fixed Huffman codes --
WINDOW = 32 * 1024
MIN_MATCH, MAX_MATCH = 3, 258
# Candidates tried per position: more compresses a little better and builds more slowly.
MAX_CHAIN = 32
LENGTH_BASES = (3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83,
                99, 115, 131, 163, 195, 227, 258)  # fmt: skip
LENGTH_EXTRA_BITS = (0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5,
                     5, 5, 0)  # fmt: skip
DISTANCE_BASES = (1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769,
                  1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577)  # fmt: skip
DISTANCE_EXTRA_BITS = (0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10,
                       11, 11, 12, 12, 13, 13)  # fmt: skip
END_OF_BLOCK = 256


def _reversed(code: int, length: int) -> int:
    # Huffman codes are sent most significant bit first into an LSB-first bit stream.
    return int(format(code, f"0{length}b")[::-1], 2)


def _fixed_literal_length_codes() -> list[tuple[int, int]]:
    """(code as sent, bit count) per literal/length symbol: RFC 1951 section 3.2.6."""
    codes = []
    for symbol in range(288):
        if symbol < 144:
            code, length = 0x30 + symbol, 8
        elif symbol < 256:
            code, length = 0x190 + symbol - 144, 9
        elif symbol < 280:
            code, length = symbol - 256, 7
        else:
            code, length = 0xC0 + symbol - 280, 8
        codes.append((_reversed(code, length), length))
    return codes


LITERAL_LENGTH_CODES = _fixed_literal_length_codes()
DISTANCE_CODES = [(_reversed(symbol, 5), 5) for symbol in range(30)]


class _BitWriter:
    def __init__(self) -> None:
        self.output = bytearray()
        self.bits = 0
        self.count = 0

    def write(self, value: int, length: int) -> None:
        self.bits |= value << self.count
        self.count += length
        while self.count >= 8:
            self.output.append(self.bits & 0xFF)
            self.bits >>= 8
            self.count -= 8

    def getvalue(self) -> bytes:
        if self.count:
            self.output.append(self.bits & 0xFF)
        return bytes(self.output)


def _symbol(value: int, bases: tuple[int, ...]) -> int:
    symbol = 0
    while symbol + 1 < len(bases) and bases[symbol + 1] <= value:
        symbol += 1
    return symbol


def _match(data: bytes, position: int, chains: dict[bytes, list[int]]) -> tuple[int, int]:
    """(length, distance) of the longest earlier match at position, (0, 0) if none."""
    limit = min(MAX_MATCH, len(data) - position)
    best_length = best_distance = 0
    if limit < MIN_MATCH:
        return 0, 0
    for start in reversed(chains.get(data[position : position + MIN_MATCH], [])[-MAX_CHAIN:]):
        distance = position - start
        if distance > WINDOW:
            break
        # A candidate that cannot beat the best one fails on its next byte.
        if best_length and data[start + best_length] != data[position + best_length]:
            continue
        length = MIN_MATCH
        while length < limit and data[start + length] == data[position + length]:
            length += 1
        if length > best_length:
            best_length, best_distance = length, distance
            if length == limit:
                break
    return best_length, best_distance


def deflate(data: bytes) -> bytes:
    """Raw DEFLATE of data; the same bytes for the same input on any machine."""
    writer = _BitWriter()
    writer.write(1, 1)  # BFINAL: the only block
    writer.write(1, 2)  # BTYPE 01: fixed Huffman codes
    chains: dict[bytes, list[int]] = {}

    def remember(position: int) -> None:
        chains.setdefault(data[position : position + MIN_MATCH], []).append(position)

    position = 0
    while position < len(data):
        length, distance = _match(data, position, chains)
        if length < MIN_MATCH:
            writer.write(*LITERAL_LENGTH_CODES[data[position]])
            remember(position)
            position += 1
            continue
        symbol = _symbol(length, LENGTH_BASES)
        writer.write(*LITERAL_LENGTH_CODES[257 + symbol])
        writer.write(length - LENGTH_BASES[symbol], LENGTH_EXTRA_BITS[symbol])
        symbol = _symbol(distance, DISTANCE_BASES)
        writer.write(*DISTANCE_CODES[symbol])
        writer.write(distance - DISTANCE_BASES[symbol], DISTANCE_EXTRA_BITS[symbol])
        for covered in range(position, position + length):
            remember(covered)
        position += length
    writer.write(*LITERAL_LENGTH_CODES[END_OF_BLOCK])
    return writer.getvalue()


# ---- the zip container (APPNOTE.TXT 4.3) -------------------------------------------------
DEFLATED = 8
# 2.0: the version that introduced deflate; every unzip reads it.
ZIP_VERSION = 20
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
        compressed = deflate(data)
        if zlib.decompress(compressed, -15) != data:
            raise RuntimeError(f"deflate of {name} does not inflate back to the file")
        encoded = name.encode("ascii")  # so the UTF-8 name flag is never needed
        common = (ZIP_VERSION, 0, DEFLATED, DOS_TIME, DOS_DATE, zlib.crc32(data))
        sizes = (len(compressed), len(data), len(encoded), 0)  # 0: no extra field
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
        body += LOCAL_HEADER.pack(0x04034B50, *common, *sizes) + encoded + compressed
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
