"""Reading a volume's data for a backup, and finding what changed since the last one.

* ``FileSource``: a raw file (the volume, a temporary snapshot, a backup point, or data
  staged from a remote export). Its holes are found with ``SEEK_DATA``/``SEEK_HOLE`` and
  never read; its extents with ``FIEMAP``, so that two files sharing extents (a reflink
  point and the previous backup's point) tell which ranges differ without reading them.
* ``Qcow2Source``: a qcow2 file and its backing chain. ``qemu-img map`` says, for each
  range, which file of the chain holds it and where, so the data is read straight from
  those files; the ranges held above the previous backup's point are what changed.
"""

from __future__ import annotations

import bisect
import contextlib
import errno
import fcntl
import itertools
import json
import os
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from firebrick.backup.chunked import Range, merge

# linux/fiemap.h
FS_IOC_FIEMAP = 0xC020660B
FIEMAP_FLAG_SYNC = 0x1
FIEMAP_EXTENT_LAST = 0x1
FIEMAP_EXTENT_UNWRITTEN = 0x800
# Extents whose physical place says nothing certain about their content.
_UNCERTAIN = 0x2 | 0x4 | 0x8 | 0x80 | 0x100 | 0x200 | 0x400
_HEADER = struct.Struct("=QQLLLL")
_EXTENT = struct.Struct("=QQQQQLLLL")
_BATCH = 512
_DIRECT_ALIGN = 4096  # offsets and lengths of direct reads (any device's logical block)


class SourceError(Exception):
    """The data cannot be read the way this source reads it."""


@dataclass(frozen=True)
class Extent:
    logical: int
    physical: int
    length: int
    flags: int


def fiemap(fd: int, size: int) -> list[Extent]:
    """The file's extents (after flushing it), in logical order."""
    found: list[Extent] = []
    start = 0
    while start < size:
        request = bytearray(_HEADER.size + _BATCH * _EXTENT.size)
        _HEADER.pack_into(request, 0, start, size - start, FIEMAP_FLAG_SYNC, 0, _BATCH, 0)
        fcntl.ioctl(fd, FS_IOC_FIEMAP, request)
        mapped = _HEADER.unpack_from(request, 0)[3]
        if mapped == 0:
            break
        last = False
        for n in range(mapped):
            logical, physical, length, _r1, _r2, flags, *_ = _EXTENT.unpack_from(
                request, _HEADER.size + n * _EXTENT.size
            )
            found.append(Extent(logical, physical, length, flags))
            last = bool(flags & FIEMAP_EXTENT_LAST)
            start = logical + length
        if last:
            break
    return found


def _covering(extents: list[Extent], at: int, pointer: int) -> tuple[Extent | None, int]:
    while pointer < len(extents) and extents[pointer].logical + extents[pointer].length <= at:
        pointer += 1
    if pointer < len(extents) and extents[pointer].logical <= at:
        return extents[pointer], pointer
    return None, pointer


def extents_differ(new: list[Extent], old: list[Extent], size: int) -> list[Range]:
    """Ranges where two files may hold different data: anywhere their extents do not map
    the same offset to the same place on disk (a shared extent holds the same bytes)."""
    bounds = {0, size}
    for e in (*new, *old):
        bounds.update((min(e.logical, size), min(e.logical + e.length, size)))
    ordered = sorted(bounds)
    changed: list[Range] = []
    p_new = p_old = 0
    for start, end in itertools.pairwise(ordered):
        a, p_new = _covering(new, start, p_new)
        b, p_old = _covering(old, start, p_old)
        if a is None and b is None:
            continue
        same = (
            a is not None
            and b is not None
            and not (a.flags | b.flags) & _UNCERTAIN
            and a.physical - a.logical == b.physical - b.logical
            and (a.flags & FIEMAP_EXTENT_UNWRITTEN) == (b.flags & FIEMAP_EXTENT_UNWRITTEN)
        )
        if not same:
            changed.append((start, end - start))
    return merge(changed)


class FileSource:
    """A raw file read as the volume's data; past its end the volume reads as zeros.

    ``direct``: read around the page cache where the filesystem allows it (``O_DIRECT``),
    for a file nothing has read yet (a backup point): through the cache, its data would
    be copied twice and evict what the host's other work keeps there.
    """

    def __init__(self, path: Path, size: int | None = None, *, direct: bool = False) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDONLY)
        self.file_size = os.fstat(self.fd).st_size
        self.size = self.file_size if size is None else size
        self.direct_fd: int | None = None
        if direct:
            with contextlib.suppress(OSError):  # EINVAL: no direct I/O on this filesystem
                self.direct_fd = os.open(path, os.O_RDONLY | os.O_DIRECT)

    def readinto(self, offset: int, buffer: memoryview) -> None:
        """``read`` into ``buffer`` (page-aligned for a direct read)."""
        length = len(buffer)
        done = 0
        aligned = not (offset | length) % _DIRECT_ALIGN and offset + length <= self.file_size
        if self.direct_fd is not None and aligned:
            try:
                done = os.preadv(self.direct_fd, [buffer], offset)
            except OSError as exc:
                if exc.errno != errno.EINVAL:  # a buffer or device it cannot use
                    raise
        while done < length and offset + done < self.file_size:
            count = os.preadv(self.fd, [buffer[done:]], offset + done)
            if count == 0:
                break
            done += count
        if done < length:
            buffer[done:] = bytes(length - done)

    def read(self, offset: int, length: int) -> bytes:
        data = os.pread(self.fd, length, offset) if offset < self.file_size else b""
        if len(data) < length:
            while len(data) < length and offset + len(data) < self.file_size:
                more = os.pread(self.fd, length - len(data), offset + len(data))
                if not more:
                    break
                data += more
            data += bytes(length - len(data))
        return data

    def data_ranges(self) -> list[Range]:
        """Where the file has data; the rest is holes (zeros), never read."""
        ranges: list[Range] = []
        offset = 0
        end_of_file = min(self.file_size, self.size)
        while offset < end_of_file:
            try:
                start = os.lseek(self.fd, offset, os.SEEK_DATA)
            except OSError as exc:
                if exc.errno == errno.ENXIO:
                    break
                raise
            if start >= end_of_file:
                break
            end = min(os.lseek(self.fd, start, os.SEEK_HOLE), end_of_file)
            ranges.append((start, end - start))
            offset = end
        return ranges

    def changed_since(self, point: Path) -> list[Range] | None:
        """Ranges that may differ from ``point``, from the two files' extent maps; None
        when the filesystem cannot say."""
        try:
            old_fd = os.open(point, os.O_RDONLY)
        except OSError:
            return None
        try:
            new = fiemap(self.fd, self.file_size)
            old = fiemap(old_fd, os.fstat(old_fd).st_size)
        except OSError:
            return None
        finally:
            os.close(old_fd)
        return extents_differ(new, old, self.size)

    def close(self) -> None:
        os.close(self.fd)
        if self.direct_fd is not None:
            os.close(self.direct_fd)


def _qemu_img(*args: str, cwd: Path) -> str:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}
    result = subprocess.run(["qemu-img", *args], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=3600, check=False)  # fmt: skip
    if result.returncode != 0:
        raise SourceError(f"qemu-img {args[0]} failed: {result.stderr.strip()[-300:]}")
    return result.stdout


class Qcow2Source:
    """A qcow2 image (with its backing chain, all in one directory) read as raw data."""

    def __init__(self, path: Path, backing_of: Any) -> None:
        self.path = path
        chain = [path.name]
        while True:
            backing = backing_of(path.parent / chain[-1])
            if not backing:
                break
            if "/" in backing or backing in chain:
                raise SourceError(f"{path.name} has a backing file outside its directory")
            chain.append(backing)
        self.chain = chain
        out = _qemu_img("map", "--output=json", "-f", "qcow2", path.name, cwd=path.parent)
        self.extents: list[dict[str, Any]] = json.loads(out)
        self.size = sum(int(e["length"]) for e in self.extents)
        self._starts = [int(e["start"]) for e in self.extents]
        self._fds: dict[int, int] = {}

    def _fd(self, depth: int) -> int:
        if depth not in self._fds:
            self._fds[depth] = os.open(self.path.parent / self.chain[depth], os.O_RDONLY)
        return self._fds[depth]

    def read(self, offset: int, length: int) -> bytes:
        parts: list[bytes] = []
        end = offset + length
        first = max(0, bisect.bisect_right(self._starts, offset) - 1)
        for e in self.extents[first:]:
            if int(e["start"]) >= end:
                break
            start, stop = int(e["start"]), int(e["start"]) + int(e["length"])
            if stop <= offset or start >= end:
                continue
            a, b = max(start, offset), min(stop, end)
            if e.get("data") and not e.get("zero"):
                if "offset" not in e:
                    raise SourceError("compressed or encrypted qcow2 clusters cannot be read")
                where = int(e["offset"]) + (a - start)
                parts.append(os.pread(self._fd(int(e["depth"])), b - a, where))
            else:
                parts.append(bytes(b - a))
        data = b"".join(parts)
        if len(data) != length:
            raise SourceError(f"short read at {offset}")
        return data

    def data_ranges(self) -> list[Range]:
        return merge([(int(e["start"]), int(e["length"])) for e in self.extents
                      if e.get("data") and not e.get("zero")])  # fmt: skip

    def changed_since(self, point_name: str) -> list[Range] | None:
        """Ranges held by the files above ``point_name`` in the chain; None when the
        point is no longer in it."""
        if point_name not in self.chain:
            return None
        depth = self.chain.index(point_name)
        return merge([(int(e["start"]), int(e["length"])) for e in self.extents
                      if e.get("present") and int(e["depth"]) < depth])  # fmt: skip

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
