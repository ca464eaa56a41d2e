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
import bisect
import hashlib
import heapq
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

# ---- DEFLATE (RFC 1951) ------------------------------------------------------------------
# LZ77 over hash chains with one step of lazy matching, then a single block in fixed or
# dynamic Huffman codes, whichever is shorter.
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
LITERAL_LENGTH_SYMBOLS, DISTANCE_SYMBOLS, CODE_LENGTH_SYMBOLS = 286, 30, 19
MAX_CODE_BITS, MAX_CODE_LENGTH_CODE_BITS = 15, 7
# The order in which a dynamic block sends the code lengths of the code-length alphabet.
CODE_LENGTH_ORDER = (16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15)
FIXED_BLOCK, DYNAMIC_BLOCK = 1, 2

# A literal is (byte,); a match is (length symbol, extra, extra bits, distance symbol,
# extra, extra bits).
Token = tuple[int, ...]
Code = tuple[int, int]  # (code as sent, bit count)


def _reversed(code: int, length: int) -> int:
    # Huffman codes are sent most significant bit first into an LSB-first bit stream.
    return int(format(code, f"0{length}b")[::-1], 2)


def _canonical_codes(lengths: list[int]) -> list[Code]:
    """The codes that code lengths stand for (RFC 1951 section 3.2.2)."""
    counts = [0] * (max(lengths) + 1)
    for length in lengths:
        if length:
            counts[length] += 1
    next_code, code = [0] * len(counts), 0
    for bits in range(1, len(counts)):
        code = (code + counts[bits - 1]) << 1
        next_code[bits] = code
    codes = []
    for length in lengths:
        codes.append((_reversed(next_code[length], length), length) if length else (0, 0))
        if length:
            next_code[length] += 1
    return codes


def _fixed_literal_length_lengths() -> list[int]:
    return [8] * 144 + [9] * 112 + [7] * 24 + [8] * 8  # RFC 1951 section 3.2.6


FIXED_LITERAL_LENGTH_CODES = _canonical_codes(_fixed_literal_length_lengths())
FIXED_DISTANCE_CODES = _canonical_codes([5] * DISTANCE_SYMBOLS)


def _code_lengths(frequencies: list[int], limit: int) -> list[int]:
    """Huffman code lengths for the frequencies, none over limit bits.

    Ties are broken by symbol, then by the order in which nodes were made, so the result
    depends on the frequencies alone. Over the limit, frequencies are halved (staying
    non-zero) until the tree is flat enough. At least two symbols are given a code: a
    one-code alphabet is one that not every inflater accepts.
    """
    frequencies = list(frequencies)
    for symbol in (0, 1):
        if sum(1 for frequency in frequencies if frequency) < 2 and not frequencies[symbol]:
            frequencies[symbol] = 1
    while True:
        heap = [(frequency, symbol, (symbol,)) for symbol, frequency in enumerate(frequencies)]
        heap = [node for node in heap if node[0]]
        heapq.heapify(heap)
        lengths = [0] * len(frequencies)
        order = len(frequencies)
        while len(heap) > 1:
            first_frequency, _, first = heapq.heappop(heap)
            second_frequency, _, second = heapq.heappop(heap)
            for symbol in first + second:
                lengths[symbol] += 1
            heapq.heappush(heap, (first_frequency + second_frequency, order, first + second))
            order += 1
        if max(lengths) <= limit:
            return lengths
        frequencies = [(frequency + 1) // 2 for frequency in frequencies]


def _run_lengths(lengths: list[int]) -> list[tuple[int, int, int]]:
    """Code lengths as code-length symbols: (symbol, extra, extra bits), with 16 repeating
    the previous length 3-6 times, 17 and 18 standing for 3-10 and 11-138 zeros."""
    symbols: list[tuple[int, int, int]] = []
    position = 0
    while position < len(lengths):
        value, run = lengths[position], 1
        while position + run < len(lengths) and lengths[position + run] == value:
            run += 1
        position += run
        if value == 0:
            while run >= 11:
                taken = min(run, 138)
                symbols.append((18, taken - 11, 7))
                run -= taken
            if run >= 3:
                symbols.append((17, run - 3, 3))
                run = 0
        else:
            symbols.append((value, 0, 0))
            run -= 1
            while run >= 3:
                taken = min(run, 6)
                symbols.append((16, taken - 3, 2))
                run -= taken
        symbols.extend((value, 0, 0) for _ in range(run))
    return symbols


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


def _tokens(data: bytes) -> list[Token]:
    chains: dict[bytes, list[int]] = {}
    tokens: list[Token] = []
    position = 0
    while position < len(data):
        length, distance = _match(data, position, chains)
        chains.setdefault(data[position : position + MIN_MATCH], []).append(position)
        # Lazy matching: a longer match one byte on is worth a literal first.
        if length < MIN_MATCH or _match(data, position + 1, chains)[0] > length:
            tokens.append((data[position],))
            position += 1
            continue
        length_symbol = bisect.bisect_right(LENGTH_BASES, length) - 1
        distance_symbol = bisect.bisect_right(DISTANCE_BASES, distance) - 1
        tokens.append(
            (
                257 + length_symbol,
                length - LENGTH_BASES[length_symbol],
                LENGTH_EXTRA_BITS[length_symbol],
                distance_symbol,
                distance - DISTANCE_BASES[distance_symbol],
                DISTANCE_EXTRA_BITS[distance_symbol],
            )
        )
        for covered in range(position + 1, position + length):
            chains.setdefault(data[covered : covered + MIN_MATCH], []).append(covered)
        position += length
    return tokens


def _write_tokens(
    writer: _BitWriter, tokens: list[Token], literal_codes: list[Code], distance_codes: list[Code]
) -> None:
    for token in tokens:
        writer.write(*literal_codes[token[0]])
        if len(token) > 1:
            writer.write(token[1], token[2])
            writer.write(*distance_codes[token[3]])
            writer.write(token[4], token[5])
    writer.write(*literal_codes[END_OF_BLOCK])


def _fixed_block(tokens: list[Token]) -> bytes:
    writer = _BitWriter()
    writer.write(1, 1)  # BFINAL: the only block
    writer.write(FIXED_BLOCK, 2)
    _write_tokens(writer, tokens, FIXED_LITERAL_LENGTH_CODES, FIXED_DISTANCE_CODES)
    return writer.getvalue()


def _dynamic_block(tokens: list[Token]) -> bytes:
    literal_frequencies = [0] * LITERAL_LENGTH_SYMBOLS
    distance_frequencies = [0] * DISTANCE_SYMBOLS
    literal_frequencies[END_OF_BLOCK] = 1
    for token in tokens:
        literal_frequencies[token[0]] += 1
        if len(token) > 1:
            distance_frequencies[token[3]] += 1
    literal_lengths = _code_lengths(literal_frequencies, MAX_CODE_BITS)
    distance_lengths = _code_lengths(distance_frequencies, MAX_CODE_BITS)
    literal_count = max(257, max(i for i, n in enumerate(literal_lengths) if n) + 1)
    distance_count = max(1, max(i for i, n in enumerate(distance_lengths) if n) + 1)
    runs = _run_lengths(literal_lengths[:literal_count] + distance_lengths[:distance_count])
    run_frequencies = [0] * CODE_LENGTH_SYMBOLS
    for symbol, _, _ in runs:
        run_frequencies[symbol] += 1
    run_lengths = _code_lengths(run_frequencies, MAX_CODE_LENGTH_CODE_BITS)
    sent = max(4, max(i for i, s in enumerate(CODE_LENGTH_ORDER) if run_lengths[s]) + 1)

    writer = _BitWriter()
    writer.write(1, 1)  # BFINAL: the only block
    writer.write(DYNAMIC_BLOCK, 2)
    writer.write(literal_count - 257, 5)
    writer.write(distance_count - 1, 5)
    writer.write(sent - 4, 4)
    for symbol in CODE_LENGTH_ORDER[:sent]:
        writer.write(run_lengths[symbol], 3)
    run_codes = _canonical_codes(run_lengths)
    for symbol, extra, extra_bits in runs:
        writer.write(*run_codes[symbol])
        writer.write(extra, extra_bits)
    _write_tokens(
        writer, tokens, _canonical_codes(literal_lengths), _canonical_codes(distance_lengths)
    )
    return writer.getvalue()


def deflate(data: bytes) -> bytes:
    """Raw DEFLATE of data; the same bytes for the same input on any machine."""
    tokens = _tokens(data)
    return min(_fixed_block(tokens), _dynamic_block(tokens), key=len)


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
