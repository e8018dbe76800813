"""Writing a backup in the chunked format (``chunked.py``): read, hash, compress, store.

The volume is read in the ranges a plan names. Each block read is hashed; a block whose
digest differs from the base (the parent's digest, or a zero block's for a full backup)
has changed: non-zero changed blocks are streamed into objects, zero ones are recorded as
zero ranges. Compression and storing run on a thread of their own beside the reading and
hashing, which all release the GIL; the reading runs ahead on a third (``readahead``).
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Callable
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from typing import Any

from firebrick.backup.chunked import (
    DIGEST,
    Range,
    StoredObject,
    block_count,
    block_length,
    compressor,
    merge,
    object_name,
    zero_digest,
    zero_digests,
)
from firebrick.backup.drivers.base import ObjectStore
from firebrick.backup.readahead import ReadAhead, Source

__all__ = ["ChunkedWriter", "Plan", "Source", "Written"]

_QUEUE_DEPTH = 16


@dataclass
class Plan:
    """What to read: ``ranges`` (block-aligned, sorted, disjoint). ``holes_outside``: the
    blocks outside them are zeros (else they are as in ``base``). ``base``: the parent's
    digests (None: a full backup)."""

    ranges: list[Range]
    holes_outside: bool
    base: bytes | None
    method: str


@dataclass
class Written:
    objects: list[StoredObject]
    zeros: list[Range]
    digests: bytes
    read_bytes: int
    changed_bytes: int
    stats: dict[str, Any] = field(default_factory=dict)


class _ObjectPipe:
    """Compresses and stores objects on its own thread; the caller decides the layout."""

    def __init__(
        self, store: ObjectStore, container: str, compression: str, reading: ReadAhead
    ) -> None:
        self.store = store
        self.reading = reading
        self.container = container
        self.compression = compression
        self.done: list[StoredObject] = []
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue(_QUEUE_DEPTH)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="backup-objects", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        stack = ExitStack()
        current: dict[str, Any] = {}
        while True:
            kind, value = self._queue.get()
            if kind == "stop":
                stack.close()
                return
            if kind == "free":  # every byte of this buffer went before it
                self.reading.recycle(value)
                continue
            if self._error is not None:
                continue
            try:
                if kind == "open":
                    name, offset = value
                    writer = stack.enter_context(
                        self.store.writer(self.container, name, durable=False)
                    )
                    current = {"name": name, "offset": offset, "length": 0, "writer": writer,
                               "sha": hashlib.sha256(), "stored": 0,
                               "compressor": compressor(self.compression)}  # fmt: skip
                elif kind == "data":
                    current["length"] += len(value)
                    self._put(current, current["compressor"].compress(value))
                    value.release()
                elif kind == "close":
                    self._put(current, current["compressor"].flush())
                    stack.close()
                    stack = ExitStack()
                    self.done.append(StoredObject(
                        name=current["name"], offset=current["offset"],
                        length=current["length"],
                        sha256="" if self.compression == "none" else current["sha"].hexdigest(),
                        stored_length=current["stored"],
                    ))  # fmt: skip
            except BaseException as exc:  # handed to the caller's thread
                self._error = exc
                # Leave the object unpublished: its writer sees the error.
                with suppress(BaseException):
                    stack.__exit__(type(exc), exc, exc.__traceback__)
                stack = ExitStack()

    def _put(self, current: dict[str, Any], data: bytes) -> None:
        if data:
            # Uncompressed objects are covered by the block digests alone: a second pass
            # over the same bytes would check nothing more.
            if self.compression != "none":
                current["sha"].update(data)
            current["stored"] += len(data)
            current["writer"].write(data)

    def send(self, kind: str, value: Any = None) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put((kind, value))

    def finish(self) -> list[StoredObject]:
        self._queue.put(("stop", None))
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self.done

    def abort(self) -> None:
        if self._error is None:
            self._error = RuntimeError("backup stopped")
        self._queue.put(("stop", None))
        self._thread.join()


class ChunkedWriter:
    def __init__(
        self,
        store: ObjectStore,
        container: str,
        prefix: str,
        *,
        block_size: int,
        object_size: int,
        compression: str,
    ) -> None:
        self.store = store
        self.container = container
        self.prefix = prefix
        self.block_size = block_size
        self.object_size = object_size
        self.compression = compression
        self._number = 0
        self._open: Range | None = None  # (offset, length) of the object being written

    def write(self, source: Source, plan: Plan, progress: Callable[[int], None]) -> Written:
        size, bs = source.size, self.block_size
        digests = zero_digests(size, bs)
        if plan.base is not None:
            kept = min(len(plan.base), len(digests))
            digests[:kept] = plan.base[:kept]
        zeros: list[Range] = []
        if plan.holes_outside and plan.base is not None:
            zeros = self._holes_now(digests, plan.ranges, size)
        reading = ReadAhead(source, plan.ranges)
        pipe = _ObjectPipe(self.store, self.container, self.compression, reading)
        read = changed = 0
        try:
            for pos, data, buffer in reading:
                read += len(data)
                changed += self._digest_piece(pipe, digests, zeros, pos, data)
                pipe.send("free", buffer)
                progress(len(data))
            if self._open is not None:
                pipe.send("close")
            objects = pipe.finish()
        except BaseException:
            pipe.abort()
            raise
        finally:
            reading.close()
        zero_ranges = merge(zeros)
        changed += sum(length for _, length in zero_ranges)
        return Written(objects, zero_ranges, bytes(digests), read, changed,
                       {"method": plan.method, "read_bytes": read})  # fmt: skip

    def _holes_now(self, digests: bytearray, ranges: list[Range], size: int) -> list[Range]:
        """Blocks outside the read ranges are holes now: those that were not zeros in the
        parent changed to zeros."""
        bs = self.block_size
        zeros: list[Range] = []
        covered = iter([*ranges, (size, 0)])
        next_start, next_length = next(covered)
        for index in range(block_count(size, bs)):
            offset = index * bs
            while offset >= next_start + next_length and next_start < size:
                next_start, next_length = next(covered)
            if next_start <= offset < next_start + next_length:
                continue
            zero = zero_digest(block_length(index, size, bs))
            if digests[index * DIGEST : (index + 1) * DIGEST] != zero:
                digests[index * DIGEST : (index + 1) * DIGEST] = zero
                zeros.append((offset, block_length(index, size, bs)))
        return zeros

    def _digest_piece(
        self, pipe: _ObjectPipe, digests: bytearray, zeros: list[Range], pos: int, view: memoryview
    ) -> int:
        """Hash a piece's blocks; send its changed data; the bytes that changed."""
        bs = self.block_size
        run_start = -1
        run_end = -1
        changed = 0
        for offset in range(0, len(view), bs):
            block = view[offset : offset + bs]
            index = (pos + offset) // bs
            digest = hashlib.sha256(block).digest()
            slot = slice(index * DIGEST, (index + 1) * DIGEST)
            if digest == digests[slot]:
                continue
            digests[slot] = digest
            if digest == zero_digest(len(block)):
                zeros.append((pos + offset, len(block)))
                continue
            changed += len(block)
            if run_start >= 0 and run_end == offset:
                run_end = offset + len(block)
                continue
            if run_start >= 0:
                self._send(pipe, pos + run_start, view[run_start:run_end])
            run_start, run_end = offset, offset + len(block)
        if run_start >= 0:
            self._send(pipe, pos + run_start, view[run_start:run_end])
        return changed

    def _send(self, pipe: _ObjectPipe, offset: int, data: memoryview) -> None:
        """Append to the open object, or start a new one, at most ``object_size`` each."""
        while len(data):
            if self._open is not None:
                start, length = self._open
                if start + length != offset or length >= self.object_size:
                    pipe.send("close")
                    self._open = None
            if self._open is None:
                self._number += 1
                pipe.send("open", (object_name(self.prefix, self._number), offset))
                self._open = (offset, 0)
            start, length = self._open
            take = min(len(data), self.object_size - length)
            pipe.send("data", data[:take])
            self._open = (start, length + take)
            offset += take
            data = data[take:]
