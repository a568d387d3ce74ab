"""The `.wandb` transaction log: a LevelDB-style record log of protobuf `Record`s.

wandb 0.30+ no longer ships a Python reader, so this module reads the framing itself (no network,
no wandb-core process). Layout, as written by wandb-core:

- a 7-byte file header: ident ``b":W&B"``, magic ``0xBEE1`` (uint16 LE), version ``0`` (uint8);
- then 32 KiB blocks (the file header counts towards the first block) of chunks, each with a
  7-byte chunk header: CRC-32 (IEEE, of the type byte + payload, unmasked, uint32 LE), payload
  length (uint16 LE), type (FULL=1, FIRST=2, MIDDLE=3, LAST=4); a block tail shorter than a chunk
  header is zero padding;
- a record is one FULL chunk or FIRST, MIDDLE..., LAST; its payload is a serialized
  `wandb.proto.wandb_internal_pb2.Record`.

`iter_records` yields complete records with the offset just past each one, so a reader of a live
run can resume from the last complete record (follow mode) without re-reading or losing a record
whose chunks are still being written.
"""

from __future__ import annotations

import struct
import sys
import zlib
from collections.abc import Iterator
from typing import Any

IDENT = b":W&B"
MAGIC = 0xBEE1
VERSION = 0
FILE_HEADER = struct.Struct("<4sHB")
CHUNK_HEADER = struct.Struct("<IHB")
BLOCK_SIZE = 32 * 1024
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4

# The record format read here was checked against these wandb releases (pyproject pins the same
# range): the framing is unchanged since the Go core took over writing; fields read from
# `Record` exist in all of them.
SUPPORTED_WANDB = (">=0.19", "<0.32")
SUPPORTED_RANGE = ((0, 19), (0, 32))


class WandbFormatError(ValueError):
    """The file is not a `.wandb` log (bad header) or a chunk is corrupt."""


def check_header(head: bytes) -> None:
    """Raise WandbFormatError unless `head` starts with a `.wandb` file header we can read."""
    if len(head) < FILE_HEADER.size:
        raise WandbFormatError("file too short for a .wandb header")
    ident, magic, version = FILE_HEADER.unpack_from(head)
    if ident != IDENT or magic != MAGIC:
        raise WandbFormatError("not a .wandb file (bad header)")
    if version != VERSION:
        raise WandbFormatError(f"unsupported .wandb log version {version} (supported: {VERSION})")


def version_supported(version: str) -> bool:
    """Whether a wandb version string (e.g. '0.31.0+abc') is inside SUPPORTED_RANGE."""
    parts = []
    for piece in version.split("+")[0].split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    key = tuple(parts + [0] * (2 - len(parts)))
    low, high = SUPPORTED_RANGE
    return low <= key < high


_TYPE_CRC = {kind: zlib.crc32(bytes((kind,))) for kind in (FULL, FIRST, MIDDLE, LAST)}


def iter_records(
    data: bytes | memoryview, start: int = 0, verify: bool = True, base: int = 0
) -> Iterator[tuple[bytes, int]]:
    """Yield `(payload, end_offset)` (payload: a memoryview into `data`) for each complete record from file offset `start`.

    `data` holds the file from offset `base` (a multiple of BLOCK_SIZE, so a follower reads only
    the tail). `start` is 0 (the header is checked) or an offset this function returned before. Stops
    quietly at a truncated tail (a live run still writing), and raises WandbFormatError on a CRC
    mismatch or an impossible chunk sequence.
    """
    if base % BLOCK_SIZE:
        raise ValueError("base must be a multiple of BLOCK_SIZE")
    view = memoryview(data)
    size = base + len(view)
    pos = start
    if pos == 0:
        check_header(bytes(view[: FILE_HEADER.size]))
        pos = FILE_HEADER.size
    unpack = CHUNK_HEADER.unpack_from
    crc32 = zlib.crc32
    type_crc = _TYPE_CRC
    parts: list[bytes] = []
    while True:
        left = BLOCK_SIZE - pos % BLOCK_SIZE
        if left < CHUNK_HEADER.size:
            pos += left  # zero padding at the block tail
            continue
        if pos + CHUNK_HEADER.size > size:
            return
        crc, length, kind = unpack(view, pos - base)
        if kind == 0 and length == 0:
            if crc == 0:
                # zero fill: writers pad a block whose tail cannot hold a record
                pos += left
                if pos >= size:
                    return
                continue
        body_start = pos + CHUNK_HEADER.size
        body_end = body_start + length
        if body_end > size:
            return  # the writer has not finished this chunk yet
        body = view[body_start - base : body_end - base]
        if verify and crc32(body, type_crc.get(kind, 0)) != crc:
            raise WandbFormatError(f"CRC mismatch in chunk at offset {pos}")
        pos = body_end
        if kind == FULL:
            if parts:
                raise WandbFormatError(f"FULL chunk inside a fragmented record at {pos}")
            yield body, pos
        elif kind == FIRST:
            parts = [bytes(body)]
        elif kind == MIDDLE:
            if not parts:
                raise WandbFormatError(f"MIDDLE chunk without FIRST at {pos}")
            parts.append(bytes(body))
        elif kind == LAST:
            if not parts:
                raise WandbFormatError(f"LAST chunk without FIRST at {pos}")
            parts.append(bytes(body))
            yield memoryview(b"".join(parts)), pos
            parts = []
        else:
            raise WandbFormatError(f"unknown chunk type {kind} at offset {pos}")


# Top-level field numbers of `Record` (wandb_internal.proto) that the reader acts on.
F_HISTORY, F_SUMMARY, F_CONFIG, F_RUN, F_EXIT, F_HEADER = 2, 3, 5, 17, 18, 21
_PAYLOAD_FIELDS = frozenset(
    {2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 17, 18, 20, 21, 22, 23, 24, 25, 26, 27, 100}
)


def _varint(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    """The protobuf varint at `pos` and the offset just past it."""
    value = 0
    shift = 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7


def _skip_varint(buf: bytes | memoryview, pos: int) -> int:
    """The offset just past the varint at `pos` (its value is not needed)."""
    while buf[pos] >= 0x80:
        pos += 1
    return pos + 1


def record_kind(payload: bytes | memoryview) -> tuple[int, int, int]:
    """The `Record` oneof field number of `payload` and the slice holding that sub-message.

    Walks the top-level protobuf fields without decoding them (num, control, _info come first),
    so records the reader ignores (telemetry, stats, output) cost almost nothing. Returns
    (0, 0, 0) when the record has no payload field.
    """
    size = len(payload)
    if size > 3 and payload[0] == 0x08:  # fast path: `num` then history/summary
        # inlined rather than _skip_varint/_varint: this runs once per history row and the two
        # calls cost ~15% of this function (measured on benchmarks/bench_offline_reader.py's run)
        pos = 1
        while payload[pos] >= 0x80:
            pos += 1
        pos += 1
        if pos < size and payload[pos] in (0x12, 0x1A):
            field = payload[pos] >> 3
            pos += 1
            length = 0
            shift = 0
            while True:
                b = payload[pos]
                pos += 1
                length |= (b & 0x7F) << shift
                if b < 0x80:
                    break
                shift += 7
            return field, pos, pos + length
    pos = 0
    while pos < size:
        tag, pos = _varint(payload, pos)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            pos = _skip_varint(payload, pos)
        elif wire == 2:
            length, pos = _varint(payload, pos)
            if field in _PAYLOAD_FIELDS:
                return field, pos, pos + length
            pos += length
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise WandbFormatError(f"unsupported protobuf wire type {wire}")
    return 0, 0, 0


def record_protos() -> Any:
    """wandb's `wandb_internal_pb2` (the `Record` messages) without running `import wandb`.

    The generated protobuf modules need only `google.protobuf`, but importing them the usual way
    runs `wandb/__init__.py`, which loads the whole SDK (about a second) - more than reading a
    100k-step run takes. So the packages above them are stood in for by bare namespace modules
    while they load, then removed again: a later `import wandb` runs its real `__init__` and finds
    the protobuf modules already loaded (they must not be loaded twice: their descriptors are
    registered in one global pool). With the SDK already imported, the plain import is used.
    """
    name = "wandb.proto.wandb_internal_pb2"
    if name in sys.modules:
        return sys.modules[name]
    if "wandb" in sys.modules:
        from wandb.proto import wandb_internal_pb2

        return wandb_internal_pb2
    import importlib
    import importlib.util
    import types

    spec = importlib.util.find_spec("wandb")  # finds the package without executing it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("wandb is not installed (its protobuf definitions read .wandb files)")
    root = list(spec.submodule_search_locations)[0]
    stand_ins = {}
    for pkg, path in (("wandb", root), ("wandb.proto", f"{root}/proto")):
        module = types.ModuleType(pkg)
        module.__path__ = [path]
        stand_ins[pkg] = module
        sys.modules[pkg] = module
    try:
        return importlib.import_module(name)
    finally:
        for pkg, module in stand_ins.items():
            if sys.modules.get(pkg) is module:
                del sys.modules[pkg]
