"""Copying volume files: reflink (FICLONE) where the filesystem shares extents, else a
sparse-aware in-kernel copy that keeps holes as holes.

Both write to the destination path they are given; callers write to a temporary name in
the same directory and rename it into place, so a copy is either whole or absent.
"""

from __future__ import annotations

import errno
import fcntl
import os
import uuid
from collections.abc import Callable
from pathlib import Path

# _IOW(0x94, 9, int) from linux/fs.h: clone all of the source's extents into the target.
FICLONE = 0x40049409
# Errors meaning "this filesystem (or pair of files) cannot share extents".
_NO_REFLINK = {errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL, errno.ENOSYS}
_CHUNK = 64 << 20


def reflink(src: Path, dst: Path) -> None:
    """Make ``dst`` share every extent of ``src``: constant time, whatever the size."""
    with open(src, "rb") as s, open(dst, "wb") as d:
        fcntl.ioctl(d.fileno(), FICLONE, s.fileno())
        os.fsync(d.fileno())


def supports_reflink(directory: Path) -> bool:
    """Try FICLONE on a probe file pair in ``directory``; clean up either way."""
    probe = directory / f".probe-{uuid.uuid4()}"
    clone = directory / f".probe-{uuid.uuid4()}"
    try:
        probe.write_bytes(b"\0" * 4096)
        try:
            reflink(probe, clone)
        except OSError as exc:
            if exc.errno in _NO_REFLINK:
                return False
            raise
        return True
    finally:
        probe.unlink(missing_ok=True)
        clone.unlink(missing_ok=True)


def _data_segments(fd: int, size: int) -> list[tuple[int, int]]:
    """(offset, length) of every data region; holes are skipped."""
    segments = []
    offset = 0
    while offset < size:
        try:
            start = os.lseek(fd, offset, os.SEEK_DATA)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # nothing but a hole from here to the end
                break
            raise
        end = os.lseek(fd, start, os.SEEK_HOLE)
        segments.append((start, min(end, size) - start))
        offset = end
    return segments


def _copy_range(
    src: int, dst: int, offset: int, length: int, cancelled: Callable[[], bool] | None
) -> None:
    end = offset + length
    use_kernel = True
    while offset < end:
        if cancelled is not None and cancelled():
            raise CopyCancelled()
        count = min(_CHUNK, end - offset)
        if use_kernel:
            try:
                done = os.copy_file_range(src, dst, count, offset, offset)
            except OSError as exc:
                if exc.errno not in {errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL}:
                    raise
                use_kernel = False
                continue
        else:
            done = os.pwrite(dst, os.pread(src, count, offset), offset)
        if done == 0:
            raise OSError(errno.EIO, "short copy")
        offset += done


class CopyCancelled(Exception):
    """``cancelled()`` answered True between two chunks: the copy stopped half-way."""


def sparse_copy(src: Path, dst: Path, cancelled: Callable[[], bool] | None = None) -> None:
    """Copy ``src`` to ``dst`` reading only its data regions; holes stay unallocated.

    ``cancelled`` is asked before each chunk (64 MiB); True stops the copy.
    """
    sfd = os.open(src, os.O_RDONLY)
    try:
        dfd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            size = os.fstat(sfd).st_size
            for offset, length in _data_segments(sfd, size):
                _copy_range(sfd, dfd, offset, length, cancelled)
            os.ftruncate(dfd, size)
            os.fsync(dfd)
        finally:
            os.close(dfd)
    finally:
        os.close(sfd)
