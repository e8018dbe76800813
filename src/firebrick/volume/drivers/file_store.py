"""The files of a file backend's directory: names, atomic publication, qcow2 chains.

What the file driver and its companions (images, manage, inspection) share: every path is
built from an id Firebrick generated, every file appears under its final name only once it
is complete (written under a temporary name, then renamed), and changes to qcow2 backing
chains happen under one lock across threads and processes. See ``file.py`` for how
snapshots and clones use them.
"""

from __future__ import annotations

import fcntl
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from firebrick.domain.errors import DriverError
from firebrick.durable import fsync_path
from firebrick.volume.drivers import filecopy, qemu_img

GiB = 1 << 30

VOLUME = "volume-"
SNAPSHOT = "snapshot-"
CLONE_BASE = "clone-base-"  # frozen data a qcow2 clone and its source both sit on
IMAGE_CACHE = "image-cache-"  # an image-volume cache entry (firebrick.volume.images)
MANAGED = (VOLUME, SNAPSHOT, CLONE_BASE, IMAGE_CACHE)
TEMPORARY = (".tmp-", ".probe-")
LOCK_FILE = ".chain.lock"
# Written in a backend's directory at its first setup: its absence later means the
# directory is not the backend's any more (a filesystem unmounted from under it).
MARKER = ".firebrick-backend"


class FileStore:
    """One backend directory of ``volume_format`` files (``thin`` or fully allocated);
    ``clone_method`` is the driver's, once its setup has resolved it."""

    def __init__(self, directory: Path, volume_format: str, thin: bool) -> None:
        self.directory = directory
        self.volume_format = volume_format
        self.thin = thin
        self.clone_method = "copy"

    def remove_temporaries(self) -> None:
        with os.scandir(self.directory) as entries:
            for entry in entries:
                if entry.name.startswith(TEMPORARY):
                    Path(entry.path).unlink(missing_ok=True)

    def file(self, prefix: str, object_id: str) -> Path:
        # uuid.UUID refuses anything that is not an id: no "..", no "/".
        try:
            canonical = uuid.UUID(object_id)
        except (ValueError, TypeError, AttributeError):
            raise DriverError(f"Refused a {prefix.rstrip('-')} id that is not a UUID.") from None
        return self.directory / f"{prefix}{canonical}"

    def managed(self, name: str) -> Path:
        """The path of a backing file named in a qcow2 header, refused unless it is ours."""
        for prefix in MANAGED:
            if name.startswith(prefix):
                try:
                    path = self.file(prefix, name[len(prefix) :])
                except DriverError:
                    break
                if path.name == name:
                    return path
        raise DriverError("Refused a backing file that this driver did not create.")

    def temporary(self) -> Path:
        return self.directory / f".tmp-{uuid.uuid4()}"

    # File primitives ------------------------------------------------------------------

    def publish(self, tmp: Path, final: Path) -> None:
        """Give a complete file its final name, durably."""
        os.rename(tmp, final)
        fsync_path(self.directory)

    def virtual_size(self, path: Path) -> int:
        if self.volume_format == "qcow2":
            return qemu_img.read_header(path).virtual_size
        return path.stat().st_size

    def grow(self, path: Path, size: int) -> None:
        """Grow ``path`` to ``size`` bytes keeping its data; never shrinks.

        A thick grow that fails (ENOSPC) puts the file back at its size: a failed
        ``fallocate`` keeps the blocks it got (ext4) and would leave the filesystem full.
        """
        if self.virtual_size(path) >= size:
            return
        if self.volume_format == "qcow2":
            qemu_img.resize(path, size)
            return
        fd = os.open(path, os.O_RDWR)
        try:
            if self.thin:
                os.ftruncate(fd, size)
                return
            before = os.fstat(fd).st_size
            try:
                os.posix_fallocate(fd, 0, size)
            except OSError:
                os.ftruncate(fd, before)
                raise
        finally:
            os.close(fd)

    def copy(self, src: Path, dst: Path) -> None:
        if self.clone_method == "reflink":
            filecopy.reflink(src, dst)
        else:
            filecopy.sparse_copy(src, dst)

    @contextmanager
    def chain_lock(self) -> Iterator[None]:
        """Serialise changes to qcow2 chains (renames, rebases) across threads and
        processes: flock is held per open file, so each call opens its own."""
        with open(self.directory / LOCK_FILE, "a") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def new_file(self, final: Path, size: int, fill: Callable[[Path], None]) -> None:
        """Write a file under a temporary name with ``fill(tmp)``, grow it, publish it."""
        tmp = self.temporary()
        try:
            fill(tmp)
            self.grow(tmp, size)
            self.publish(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    # qcow2 chains ---------------------------------------------------------------------

    def freeze(self, volume_file: Path, frozen: Path) -> None:
        """Turn the volume's current data into ``frozen`` and continue the volume as an
        overlay on it. Resumes where an interrupted run stopped."""
        if not frozen.exists():
            if not volume_file.exists():
                raise DriverError(f"Source {volume_file.name} does not exist.")
            os.rename(volume_file, frozen)
        if not volume_file.exists():
            size = qemu_img.read_header(frozen).virtual_size
            self.new_file(
                volume_file, size, lambda tmp: qemu_img.create(tmp, size, backing=frozen.name)
            )

    def overlay(self, final: Path, backing: Path, size: int) -> None:
        self.new_file(final, size, lambda tmp: qemu_img.create(tmp, size, backing=backing.name))

    def backing(self, path: Path) -> str | None:
        if self.volume_format != "qcow2":
            return None
        return qemu_img.read_header(path).backing_file

    def dependents(self, name: str) -> list[Path]:
        # Every file, not only ours: an unmanaged image, perhaps renamed, may sit on one of
        # our frozen files and must neither lose it nor break.
        found = []
        for path in (self.directory / n for n in self.names("") if not n.startswith(".")):
            try:
                if not path.is_symlink() and qemu_img.read_header(path).backing_file == name:
                    found.append(path)
            except (OSError, DriverError):
                continue
        return found

    def collect(self, name: str | None) -> None:
        """Remove clone bases nothing depends on any more, walking down the chain."""
        while name and name.startswith(CLONE_BASE):
            path = self.managed(name)
            if not path.exists() or self.dependents(name):
                return
            name = self.backing(path)
            path.unlink()

    def remove(self, path: Path) -> None:
        """Delete a volume or snapshot file; rebase whatever sits on it first."""
        if not path.exists():
            return
        if self.volume_format != "qcow2":
            path.unlink(missing_ok=True)
            return
        with self.chain_lock():
            backing = self.backing(path)
            if backing is not None:
                self.managed(backing)
            for dependent in self.dependents(path.name):
                qemu_img.rebase(dependent, backing)
            path.unlink(missing_ok=True)
            self.collect(backing)

    def names(self, prefix: str) -> list[str]:
        with os.scandir(self.directory) as entries:
            return [e.name for e in entries if e.name.startswith(prefix)]

    def ids(self, prefix: str) -> set[str]:
        found = set()
        for name in self.names(prefix):
            try:
                found.add(str(uuid.UUID(name[len(prefix) :])))
            except ValueError:
                continue
        return found

    def used_gb(self) -> float:
        """Space taken by volumes, snapshots and clone bases. Extents shared by reflinks
        are counted once per file, so this errs on the full side."""
        used = 0
        with os.scandir(self.directory) as entries:
            for entry in entries:
                if entry.name.startswith(MANAGED) and entry.is_file(follow_symlinks=False):
                    st = entry.stat(follow_symlinks=False)
                    used += st.st_blocks * 512 if self.thin else st.st_size
        return used / GiB
