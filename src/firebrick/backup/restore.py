"""Restoring a chain of chunked backups (``chunked.py``), every block verified.

The chain is overlaid: the full backup covers the whole volume (its objects, zeros
elsewhere), each incremental then covers its own objects and the ranges it recorded as
zeros. Every block of the final layout is written once, from the newest backup holding
it, and only after its SHA-256 matched the digest the restored backup recorded for it;
zero blocks are checked the same way. A missing object, a stored object whose bytes do
not match its recorded SHA-256, data that does not decompress or does not match: the
restore stops with ``CorruptBackup`` naming what is wrong.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from firebrick.backup.chunked import (
    DIGEST,
    READ_SIZE,
    STREAM_PIECE,
    CorruptBackup,
    Decompressor,
    Manifest,
    Range,
    StoredObject,
    block_count,
    block_length,
    zero_digest,
)
from firebrick.backup.drivers.base import ObjectMissing, ObjectStore

ZERO = -1  # a segment's source: zeros


class Target(Protocol):
    """Where restored data goes: a volume, or a file staged for one."""

    def write(self, offset: int, data: bytes) -> None: ...

    def zero(self, offset: int, length: int) -> None: ...


@dataclass(frozen=True)
class Layer:
    container: str
    manifest: Manifest


@dataclass(frozen=True)
class Segment:
    start: int
    end: int
    layer: int
    obj: int  # index into the layer's objects, or ZERO


def _layer_ranges(layer: Manifest, index: int, size: int) -> list[Segment]:
    segments = [Segment(o.offset, o.offset + o.length, index, n)
                for n, o in enumerate(layer.objects)]  # fmt: skip
    if index == 0:
        covered = 0
        for seg in sorted(segments, key=lambda s: s.start):
            if seg.start > covered:
                segments.append(Segment(covered, seg.start, 0, ZERO))
            covered = max(covered, seg.end)
        if covered < size:
            segments.append(Segment(covered, size, 0, ZERO))
    else:
        segments += [Segment(a, a + n, index, ZERO) for a, n in layer.zeros]
    return sorted((s for s in segments if s.start < size),
                  key=lambda s: s.start)  # fmt: skip


def layout(chain: list[Manifest]) -> list[Segment]:
    """The final segments of the newest backup of ``chain`` (full first)."""
    size = chain[-1].size
    layers = [_layer_ranges(m, i, size) for i, m in enumerate(chain)]
    bounds = sorted({0, size, *(min(b, size) for L in layers for s in L for b in (s.start, s.end))})
    pointers = [0] * len(layers)
    out: list[Segment] = []
    for start, end in itertools.pairwise(bounds):
        found: Segment | None = None
        for index in range(len(layers) - 1, -1, -1):
            ranges = layers[index]
            while pointers[index] < len(ranges) and ranges[pointers[index]].end <= start:
                pointers[index] += 1
            if pointers[index] < len(ranges) and ranges[pointers[index]].start <= start:
                found = ranges[pointers[index]]
                break
        if found is None:
            raise CorruptBackup(f"no backup of the chain covers offset {start}")
        last = out[-1] if out else None
        if last is not None and (last.layer, last.obj) == (found.layer, found.obj):
            out[-1] = Segment(last.start, end, last.layer, last.obj)
        else:
            out.append(Segment(start, end, found.layer, found.obj))
    return out


def check_chain(chain: list[Manifest]) -> None:
    if not chain or not chain[0].is_full:
        raise CorruptBackup("the chain does not start with a full backup")
    for parent, child in itertools.pairwise(chain):
        if child.parent is None or child.parent.get("id") != parent.backup_id:
            raise CorruptBackup(f"backup {child.backup_id} does not follow {parent.backup_id}")
        if child.block_size != parent.block_size:
            raise CorruptBackup("the chain changes its block size")


class _Batch:
    """Consecutive verified blocks, written together."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.offset = -1
        self.parts: list[bytes] = []
        self.length = 0

    def add(self, offset: int, data: bytes) -> None:
        if self.parts and (offset != self.offset + self.length or self.length >= READ_SIZE):
            self.flush()
        if not self.parts:
            self.offset = offset
        self.parts.append(data)
        self.length += len(data)

    def flush(self) -> None:
        if self.parts:
            self.target.write(self.offset, b"".join(self.parts))
        self.parts, self.length = [], 0


class ChunkedRestore:
    def __init__(self, store: ObjectStore, chain: list[Layer], digests: bytes) -> None:
        self.store = store
        self.chain = chain
        self.digests = digests
        self.newest = chain[-1].manifest
        self.block_size = self.newest.block_size
        if len(digests) != block_count(self.newest.size, self.block_size) * DIGEST:
            raise CorruptBackup("the block digests do not cover the volume")

    def _expected(self, index: int) -> bytes:
        return self.digests[index * DIGEST : (index + 1) * DIGEST]

    def run(self, target: Target, volume_is_new: bool, progress: Callable[[int], None]) -> None:
        manifests = [layer.manifest for layer in self.chain]
        check_chain(manifests)
        segments = layout(manifests)
        batch = _Batch(target)
        wanted: dict[tuple[int, int], list[Segment]] = {}
        for seg in segments:
            if seg.obj == ZERO:
                self._zeros(seg, target, volume_is_new)
                progress(seg.end - seg.start)
            else:
                wanted.setdefault((seg.layer, seg.obj), []).append(seg)
        for (layer, number), segs in sorted(wanted.items(), key=lambda kv: kv[1][0].start):
            self._object(layer, self.chain[layer].manifest.objects[number], segs, batch, progress)
        batch.flush()

    def _zeros(self, seg: Segment, target: Target, volume_is_new: bool) -> None:
        bs, size = self.block_size, self.newest.size
        for index in range(seg.start // bs, block_count(seg.end, bs)):
            if self._expected(index) != zero_digest(block_length(index, size, bs)):
                raise CorruptBackup(
                    f"block {index} should hold data but no backup of the chain stores it"
                )
        if not volume_is_new:
            target.zero(seg.start, seg.end - seg.start)

    def _object(
        self,
        layer: int,
        obj: StoredObject,
        segments: list[Segment],
        batch: _Batch,
        progress: Callable[[int], None],
    ) -> None:
        container = self.chain[layer].container
        manifest = self.chain[layer].manifest
        bs, size = self.block_size, self.newest.size
        decompress = Decompressor(manifest.compression, obj.length)
        stored = hashlib.sha256()
        stored_length = 0
        pending = b""
        position = obj.offset  # volume offset of pending[0]
        pointer = 0

        def consume(data: bytes, final: bool) -> None:
            nonlocal pending, position, pointer
            buf = pending + data if pending else data
            view = memoryview(buf)
            used = 0
            while len(buf) - used >= bs or (final and used < len(buf)):
                length = min(bs, len(buf) - used)
                block = view[used : used + length]
                while pointer < len(segments) and segments[pointer].end <= position:
                    pointer += 1
                if pointer < len(segments) and segments[pointer].start <= position:
                    index = position // bs
                    if length != block_length(index, size, bs) or (
                        hashlib.sha256(block).digest() != self._expected(index)
                    ):
                        raise CorruptBackup(
                            f"block {index} (offset {position}) of object {obj.name} does "
                            "not match its SHA-256"
                        )
                    batch.add(position, bytes(block))
                    progress(length)
                used += length
                position += length
            pending = bytes(view[used:])

        try:
            with self.store.reader(container, obj.name) as handle:
                while True:
                    piece = handle.read(STREAM_PIECE)
                    if not piece:
                        break
                    if obj.sha256:
                        stored.update(piece)
                    stored_length += len(piece)
                    consume(decompress.feed(piece), final=False)
        except ObjectMissing:
            raise CorruptBackup(f"object {obj.name} is missing: the backup is incomplete") from None
        consume(decompress.end(), final=True)
        if stored_length != obj.stored_length or (obj.sha256 and stored.hexdigest() != obj.sha256):
            raise CorruptBackup(f"object {obj.name} does not match its recorded SHA-256")
        if decompress.produced != obj.length:
            raise CorruptBackup(f"object {obj.name} holds less data than its manifest says")


def zero_ranges_of(segments: list[Segment]) -> list[Range]:
    return [(s.start, s.end - s.start) for s in segments if s.obj == ZERO]
