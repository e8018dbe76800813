"""The chunked backup format: compressed objects, a SHA-256 per block, one manifest.

A backup of a volume of ``size`` bytes, in its store's container, is:

* ``<prefix>-00001``, ``-00002``, …: each a run of consecutive changed blocks of the
  volume (at most ``object_size`` bytes), compressed as one stream (none, zlib, bz2 or
  zstd). A full backup stores every block that is not all zeros; an incremental stores
  the blocks that differ from its parent.
* ``<prefix>_sha256file``: the SHA-256 of every block of the volume at this backup's
  point in time (32 bytes each, ``block_size`` bytes a block), stored here or not.
* ``<prefix>_metadata``: the manifest (JSON): the objects with their volume offsets and the
  SHA-256 of their stored bytes, the ranges an incremental records as now zeros, the
  parent, the volume's metadata, and a checksum of itself. It is written last: a backup
  without it is incomplete, and nothing restores from it.

Writing is ``firebrick.backup.writer``; restoring (every block checked against the
SHA-256 recorded for it before it is written) is ``firebrick.backup.restore``.
"""

from __future__ import annotations

import bz2
import functools
import hashlib
import json
import zlib
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Final, Protocol

import zstandard

FORMAT_VERSION: Final = "firebrick-chunked-1"
DIGEST: Final = 32  # bytes of one SHA-256
# Bytes read from the volume at a time: larger reads cost more in page faults (each new
# buffer of several MiB is mapped and zeroed afresh) than they save in calls.
READ_SIZE: Final = 1 << 20
STREAM_PIECE: Final = 1 << 20  # bytes read from a stored object at a time
ALGORITHMS: Final = ("none", "zlib", "bz2", "zstd")

Range = tuple[int, int]  # (offset, length) in bytes


class CorruptBackup(Exception):
    """The stored backup does not restore to the data it recorded; the message says why."""


# Names --------------------------------------------------------------------------------


def object_prefix(volume_id: str, backup_id: str, stamp: datetime) -> str:
    """Cinder's object name prefix."""
    return f"volume_{volume_id}_{stamp:%Y%m%d%H%M%S}_backup_{backup_id}"


def metadata_name(prefix: str) -> str:
    return f"{prefix}_metadata"


def sha256_name(prefix: str) -> str:
    return f"{prefix}_sha256file"


def object_name(prefix: str, number: int) -> str:
    return f"{prefix}-{number:05d}"


# Blocks -------------------------------------------------------------------------------


@functools.cache
def zero_digest(length: int) -> bytes:
    return hashlib.sha256(bytes(length)).digest()


def block_count(size: int, block_size: int) -> int:
    return -(-size // block_size)


def block_length(index: int, size: int, block_size: int) -> int:
    return min(block_size, size - index * block_size)


def zero_digests(size: int, block_size: int) -> bytearray:
    """The digest list of a volume of zeros."""
    count = block_count(size, block_size)
    out = bytearray(zero_digest(block_size) * count)
    last = block_length(count - 1, size, block_size) if count else block_size
    if last != block_size:
        out[-DIGEST:] = zero_digest(last)
    return out


def merge(ranges: list[Range]) -> list[Range]:
    """Sorted, overlapping or touching ranges joined."""
    out: list[Range] = []
    for start, length in sorted(ranges):
        if out and start <= out[-1][0] + out[-1][1]:
            end = max(out[-1][0] + out[-1][1], start + length)
            out[-1] = (out[-1][0], end - out[-1][0])
        elif length > 0:
            out.append((start, length))
    return out


def align(ranges: list[Range], block_size: int, size: int) -> list[Range]:
    """Ranges widened to whole blocks, clipped to ``size``, merged."""
    widened = []
    for start, length in ranges:
        first = (start // block_size) * block_size
        end = min(size, -(-(start + length) // block_size) * block_size)
        if end > first:
            widened.append((first, end - first))
    return merge(widened)


# Compression --------------------------------------------------------------------------


class Compressor(Protocol):
    def compress(self, data: bytes, /) -> bytes: ...

    def flush(self) -> bytes: ...


class _Identity:
    def compress(self, data: bytes, /) -> bytes:
        return data

    def flush(self) -> bytes:
        return b""


def compressor(algorithm: str) -> Compressor:
    if algorithm == "zlib":
        return zlib.compressobj()
    if algorithm == "bz2":
        return bz2.BZ2Compressor()
    if algorithm == "zstd":
        made: Compressor = zstandard.ZstdCompressor(level=3).compressobj()
        return made
    return _Identity()


class Decompressor:
    """Streamed decompression of one object, refusing more than ``limit`` bytes out."""

    def __init__(self, algorithm: str, limit: int) -> None:
        if algorithm not in ALGORITHMS:
            raise CorruptBackup(f"unknown compression {algorithm!r}")
        self.algorithm = algorithm
        self.limit = limit
        self.produced = 0
        self._obj: Any = None
        if algorithm == "zlib":
            self._obj = zlib.decompressobj()
        elif algorithm == "bz2":
            self._obj = bz2.BZ2Decompressor()
        elif algorithm == "zstd":
            self._obj = zstandard.ZstdDecompressor().decompressobj()

    def feed(self, data: bytes) -> bytes:
        try:
            out = data if self._obj is None else self._obj.decompress(data)
        except (zlib.error, OSError, EOFError, ValueError, zstandard.ZstdError) as exc:
            raise CorruptBackup(f"cannot decompress ({self.algorithm}): {exc}") from None
        self.produced += len(out)
        if self.produced > self.limit:
            raise CorruptBackup("an object holds more data than its manifest says")
        return bytes(out)

    def end(self) -> bytes:
        if self.algorithm != "zlib":
            return b""
        try:
            rest = bytes(self._obj.flush())
        except zlib.error as exc:
            raise CorruptBackup(f"cannot decompress (zlib): {exc}") from None
        self.produced += len(rest)
        if self.produced > self.limit:
            raise CorruptBackup("an object holds more data than its manifest says")
        return rest


# The manifest -------------------------------------------------------------------------


@dataclass
class StoredObject:
    name: str
    offset: int  # where its data starts in the volume
    length: int  # bytes of volume data it holds
    sha256: str  # of its stored (compressed) bytes; "" uncompressed (the blocks' suffice)
    stored_length: int


@dataclass
class Manifest:
    backup_id: str
    volume_id: str
    size: int  # bytes of the volume at this point in time
    block_size: int
    compression: str
    objects: list[StoredObject]
    zeros: list[Range]  # an incremental's blocks that became zeros
    parent: dict[str, str] | None  # {"id", "container", "prefix"} of an incremental's parent
    sha256file: str  # SHA-256 of the _sha256file object
    created_at: str
    volume_meta: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)  # how the data was found and read
    version: str = FORMAT_VERSION

    @property
    def is_full(self) -> bool:
        return self.parent is None

    def to_bytes(self) -> bytes:
        body = asdict(self)
        canonical = json.dumps(body, sort_keys=True)
        checksum = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        return json.dumps({"manifest": body, "checksum": checksum}, indent=1).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> Manifest:
        try:
            outer = json.loads(data)
            body = outer["manifest"]
            canonical = json.dumps(body, sort_keys=True)
            if hashlib.sha256(canonical.encode("utf-8")).hexdigest() != outer["checksum"]:
                raise CorruptBackup("the manifest does not match its checksum")
            if body.get("version") != FORMAT_VERSION:
                raise CorruptBackup(f"unknown backup format {body.get('version')!r}")
            objects = [StoredObject(**o) for o in body.pop("objects")]
            zeros = [(int(a), int(b)) for a, b in body.pop("zeros")]
            manifest = cls(objects=objects, zeros=zeros, **body)
        except CorruptBackup:
            raise
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise CorruptBackup(f"the manifest cannot be read: {exc}") from None
        manifest.check()
        return manifest

    def check(self) -> None:
        """Refuse a manifest whose numbers cannot describe this volume."""
        if self.block_size <= 0 or self.size < 0:
            raise CorruptBackup("the manifest has an invalid size")
        for obj in self.objects:
            if (
                obj.offset < 0
                or obj.length <= 0
                or obj.offset + obj.length > self.size
                or obj.offset % self.block_size
            ):
                raise CorruptBackup(f"object {obj.name} lies outside the volume")
        for start, length in self.zeros:
            if start < 0 or length <= 0 or start + length > self.size:
                raise CorruptBackup("a zero range lies outside the volume")
