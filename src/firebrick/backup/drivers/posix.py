"""The ``posix`` store: objects are files under ``backup_posix_path`` (Cinder's driver).

A container is a directory below that path (``ab/cd/<backup id>`` by default, as Cinder
names it); a name the caller gives must stay below it. Objects are written under a
temporary name and renamed once whole, so a backup service killed mid-write leaves no
object that looks complete. A durable object is fsynced before its rename. The data objects
of a backup are not (``durable=False``): an fsync each made every object wait for its own
writeback (a full backup ran at a third of ``cp``'s rate); they are fsynced together by
``sync`` before the backup's manifest is written, so only a power loss before the manifest
can leave an object short, and a backup without its manifest is never restored from.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from firebrick.backup.drivers.base import ObjectMissing
from firebrick.durable import fsync_path

_TEMPORARY = ".tmp-"
SYNC_FILE_RANGE_WRITE = 2  # linux/fs.h
_LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


class PosixStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._writeback = ThreadPoolExecutor(1, thread_name_prefix="backup-writeback")

    def check(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise OSError(errno.EACCES, f"cannot write to backup_posix_path {self.root}")

    def default_container(self, backup_id: str) -> str:
        return os.path.join(backup_id[0:2], backup_id[2:4], backup_id)

    def check_container(self, container: str) -> None:
        parts = Path(container).parts
        if (
            not container
            or container.startswith("/")
            or "\0" in container
            or any(p in ("..", ".") for p in parts)
        ):
            raise ValueError(f"Container {container!r} must be a relative path without '..'.")

    def _dir(self, container: str) -> Path:
        self.check_container(container)
        return self.root / container

    def _path(self, container: str, name: str) -> Path:
        if "/" in name or name.startswith("."):
            raise ValueError(f"Invalid object name {name!r}.")
        return self._dir(container) / name

    @contextmanager
    def writer(self, container: str, name: str, *, durable: bool = True) -> Iterator[BinaryIO]:
        final = self._path(container, name)
        final.parent.mkdir(parents=True, exist_ok=True, mode=0o770)
        tmp = final.parent / f"{_TEMPORARY}{uuid.uuid4()}"
        try:
            with open(tmp, "wb") as handle:
                yield handle
                handle.flush()
                if durable:
                    os.fsync(handle.fileno())
            os.rename(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if durable:
            fsync_path(final.parent)
        else:
            # Its writeback starts now, beside the writing of the next objects, so that
            # ``sync`` finds it mostly done; started inline, it held up the writing.
            self._writeback.submit(_start_writeback, final)

    def sync(self, container: str, names: list[str]) -> None:
        # An fsync through a new descriptor still reports a writeback error no one has
        # seen yet (Linux >= 4.16), and nothing else opens these files meanwhile.
        for name in names:
            fsync_path(self._path(container, name))
        fsync_path(self._dir(container))

    @contextmanager
    def reader(self, container: str, name: str) -> Iterator[BinaryIO]:
        try:
            handle = open(self._path(container, name), "rb")  # noqa: SIM115
        except FileNotFoundError:
            raise ObjectMissing(f"{container}/{name}") from None
        with handle:
            yield handle

    def delete(self, container: str, name: str) -> None:
        self._path(container, name).unlink(missing_ok=True)

    def names(self, container: str, prefix: str) -> list[str]:
        directory = self._dir(container)
        if not directory.is_dir():
            return []
        return sorted(n for n in os.listdir(directory) if n.startswith(prefix))

    def discard(self, container: str, backup_id: str) -> None:
        """Remove what a killed backup left in its own container (partial objects) and the
        container once empty; a container shared with other backups is left alone."""
        if container != self.default_container(backup_id):
            return
        directory = self._dir(container)
        if not directory.is_dir():
            return
        for name in os.listdir(directory):
            if name.startswith(_TEMPORARY):
                (directory / name).unlink(missing_ok=True)
        for path in (directory, directory.parent, directory.parent.parent):
            try:
                path.rmdir()
            except OSError:
                return


def _start_writeback(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        _LIBC.sync_file_range(fd, ctypes.c_long(0), ctypes.c_long(0), SYNC_FILE_RANGE_WRITE)
    finally:
        os.close(fd)
