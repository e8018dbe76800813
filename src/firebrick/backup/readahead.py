"""Reading a backup's ranges ahead of the hashing, into a few reused buffers.

The reading runs on a thread of its own, so that the device works while the caller hashes
the piece before. Buffers go round: the caller hands each one back (``recycle``) once the
last of its bytes is stored; fresh buffers of several MiB a piece would cost a page fault
every 4 KiB. The buffers are page-aligned (anonymous maps), as direct reads need.
"""

from __future__ import annotations

import mmap
import queue
import threading
from collections.abc import Iterator
from typing import Protocol

from firebrick.backup.chunked import Range

PIECE = 4 << 20  # bytes read at a time
_BUFFERS = 6  # read ahead: at most this many pieces in flight (read, hashed or stored)


class Source(Protocol):
    """A volume's data at one point in time, readable at any offset."""

    size: int

    def read(self, offset: int, length: int) -> bytes: ...


class IntoSource(Source, Protocol):
    def readinto(self, offset: int, buffer: memoryview) -> None:
        """Fill ``buffer`` with the data at ``offset``."""


Piece = tuple[int, memoryview, mmap.mmap | None]  # offset, data, its buffer (to recycle)


class ReadAhead:
    """The pieces of ``ranges`` in order, read on a thread; ``close`` stops it."""

    def __init__(self, source: Source, ranges: list[Range]) -> None:
        self.source = source
        self.ranges = ranges
        self._free: queue.Queue[mmap.mmap] = queue.Queue()
        self._filled: queue.Queue[Piece | BaseException | None] = queue.Queue(_BUFFERS)
        self._stop = threading.Event()
        if hasattr(source, "readinto"):
            for _ in range(_BUFFERS):
                self._free.put(mmap.mmap(-1, PIECE))
        self._thread = threading.Thread(target=self._run, name="backup-read", daemon=True)
        self._thread.start()

    def _buffer(self) -> mmap.mmap | None:
        while not self._stop.is_set():
            try:
                return self._free.get(timeout=0.2)
            except queue.Empty:
                continue
        return None

    def _put(self, item: Piece | BaseException | None) -> bool:
        while not self._stop.is_set():
            try:
                self._filled.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            into = hasattr(self.source, "readinto")
            for start, length in self.ranges:
                pos, end = start, start + length
                while pos < end:
                    count = min(PIECE, end - pos)
                    if into:
                        buffer = self._buffer()
                        if buffer is None:
                            return
                        view = memoryview(buffer)[:count]
                        self.source.readinto(pos, view)  # type: ignore[attr-defined]
                        piece: Piece = (pos, view, buffer)
                    else:
                        data = self.source.read(pos, count)
                        if len(data) != count:
                            raise OSError(f"short read at offset {pos}: {len(data)} of {count}")
                        piece = (pos, memoryview(data), None)
                    if not self._put(piece):
                        return
                    pos += count
            self._put(None)
        except BaseException as exc:  # handed to the caller's thread
            self._put(exc)

    def __iter__(self) -> Iterator[Piece]:
        while True:
            item = self._filled.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def recycle(self, buffer: mmap.mmap | None) -> None:
        """A buffer whose bytes are all stored: read into it again (any thread)."""
        if buffer is not None:
            self._free.put(buffer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
