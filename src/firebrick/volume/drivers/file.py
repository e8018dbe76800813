"""Volumes as raw or qcow2 files in one directory, with snapshots and clones.

Paths are built only from ids that Firebrick generated (UUIDs), never from user input.
Every file appears under its final name only once it is complete (written under a
temporary name, then renamed), so each call can be repeated after a crash.

Snapshots and clones use one of three methods, chosen at setup (``file_clone_method``):

* ``reflink``: FICLONE shares the source's extents (XFS with reflink, btrfs): constant
  time whatever the size, and writes to either file never reach the other.
* ``qcow2``: external snapshots. The volume's file is *renamed* to the frozen file
  (``snapshot-<id>``, or ``clone-base-<clone id>`` for a clone) and the volume continues
  as a new qcow2 overlay on it. A volume is therefore never a backing file, so it can
  always be deleted alone; a frozen file that others depend on is deleted by first
  rebasing each dependent onto its own backing (``qemu-img rebase`` copies what differs),
  and a ``clone-base-`` file is removed once nothing depends on it.
* ``copy``: a sparse-aware in-kernel copy (holes stay holes).
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from firebrick.config import BackendConfig
from firebrick.domain.errors import DriverError, DriverNotInitialized
from firebrick.domain.model import Snapshot, Volume
from firebrick.volume.drivers import filecopy, qemu_img, sources
from firebrick.volume.drivers.base import ModelUpdate
from firebrick.volume.drivers.sources import DataSource

LOG = logging.getLogger("firebrick.volume")

GiB = 1 << 30
VERSION = "1.1.0"

VOLUME = "volume-"
SNAPSHOT = "snapshot-"
CLONE_BASE = "clone-base-"  # frozen data a qcow2 clone and its source both sit on
IMAGE_CACHE = "image-cache-"  # an image-volume cache entry (firebrick.volume.images)
MANAGED = (VOLUME, SNAPSHOT, CLONE_BASE, IMAGE_CACHE)
TEMPORARY = (".tmp-", ".probe-")
LOCK_FILE = ".chain.lock"

FORMATS = ("raw", "qcow2")
METHODS = ("auto", "reflink", "qcow2", "copy")


def _choice(backend: BackendConfig, key: str, allowed: tuple[str, ...]) -> str:
    value = (backend.get(key) or allowed[0]).strip().lower()
    if value not in allowed:
        raise ValueError(
            f"Backend {backend.name}: {key} must be one of {', '.join(allowed)}, not {value!r}"
        )
    return value


def _os_error(action: str, exc: OSError) -> DriverError:
    return DriverError(f"Could not {action}: {os.strerror(exc.errno or 0)}")


class FileDriver:
    def __init__(self, backend: BackendConfig, state_path: Path) -> None:
        self.backend = backend
        default_dir = state_path / "volumes" / backend.name
        self.directory = Path(backend.get("file_volume_dir") or default_dir)
        cap = backend.get("file_capacity_gb")
        self.capacity_gb = float(cap) if cap else None
        self.thin = backend.get_bool("file_thin_provisioning", True)
        self.fail_create = backend.get_bool("file_fail_create", False)
        # Test hook: hold every create this long after making the file (crash tests).
        self.create_delay = float(backend.get("file_create_delay") or 0)
        # Test hook: hold every snapshot and copy this long once made (group crash tests).
        self.copy_delay = float(backend.get("file_copy_delay") or 0)
        self.volume_format = _choice(backend, "file_volume_format", FORMATS)
        self.configured_method = _choice(backend, "file_clone_method", METHODS)
        if self.configured_method == "qcow2" and self.volume_format != "qcow2":
            raise ValueError(
                f"Backend {backend.name}: file_clone_method=qcow2 needs file_volume_format=qcow2"
            )
        # Resolved by do_setup: "auto" becomes the method the filesystem allows.
        self.clone_method = self.configured_method
        self.initialized = False

    # Setup ----------------------------------------------------------------------------

    def do_setup(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._remove_temporaries()
            reflink = self.configured_method in {"auto", "reflink"} and (
                filecopy.supports_reflink(self.directory)
            )
        except OSError as exc:
            raise _os_error("prepare the volume directory", exc) from exc
        self.clone_method = self._resolve_method(reflink)
        if self.volume_format == "qcow2" and not qemu_img.available():
            raise DriverError(
                "file_volume_format=qcow2 needs qemu-img (Debian package qemu-utils)."
            )
        if self.volume_format == "qcow2":
            with self._chain_lock():
                for name in self._names(CLONE_BASE):
                    self._collect(name)
        LOG.info(
            "Backend %s: file driver in %s, format %s, clone method %s",
            self.backend.name,
            self.directory,
            self.volume_format,
            self.clone_method,
        )
        self.initialized = True

    def _resolve_method(self, reflink: bool) -> str:
        if self.configured_method == "reflink" and not reflink:
            raise DriverError(
                f"file_clone_method=reflink, but the filesystem of {self.directory} "
                "cannot share extents (FICLONE failed)."
            )
        if self.configured_method != "auto":
            return self.configured_method
        if reflink:
            return "reflink"
        return "qcow2" if self.volume_format == "qcow2" else "copy"

    def _remove_temporaries(self) -> None:
        with os.scandir(self.directory) as entries:
            for entry in entries:
                if entry.name.startswith(TEMPORARY):
                    Path(entry.path).unlink(missing_ok=True)

    # Paths ----------------------------------------------------------------------------

    def _file(self, prefix: str, object_id: str) -> Path:
        # uuid.UUID refuses anything that is not an id: no "..", no "/".
        try:
            canonical = uuid.UUID(object_id)
        except (ValueError, TypeError, AttributeError):
            raise DriverError(f"Refused a {prefix.rstrip('-')} id that is not a UUID.") from None
        return self.directory / f"{prefix}{canonical}"

    def local_path(self, volume: Volume) -> tuple[Path, str]:
        """Where the volume's data is, and its format, for a target to export."""
        return self.path(volume.storage_id), self.volume_format

    def path(self, volume_id: str) -> Path:
        return self._file(VOLUME, volume_id)

    def snapshot_path(self, snapshot_id: str) -> Path:
        return self._file(SNAPSHOT, snapshot_id)

    def _managed(self, name: str) -> Path:
        """The path of a backing file named in a qcow2 header, refused unless it is ours."""
        for prefix in MANAGED:
            if name.startswith(prefix):
                try:
                    path = self._file(prefix, name[len(prefix) :])
                except DriverError:
                    break
                if path.name == name:
                    return path
        raise DriverError("Refused a backing file that this driver did not create.")

    def _temporary(self) -> Path:
        return self.directory / f".tmp-{uuid.uuid4()}"

    def _check(self) -> None:
        if not self.initialized:
            raise DriverNotInitialized(self.backend.name)

    # File primitives ------------------------------------------------------------------

    def _publish(self, tmp: Path, final: Path) -> None:
        """Give a complete file its final name, durably."""
        os.rename(tmp, final)
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _virtual_size(self, path: Path) -> int:
        if self.volume_format == "qcow2":
            return qemu_img.read_header(path).virtual_size
        return path.stat().st_size

    def _grow(self, path: Path, size: int) -> None:
        """Grow ``path`` to ``size`` bytes keeping its data; never shrinks."""
        if self._virtual_size(path) >= size:
            return
        if self.volume_format == "qcow2":
            qemu_img.resize(path, size)
            return
        fd = os.open(path, os.O_RDWR)
        try:
            if self.thin:
                os.ftruncate(fd, size)
            else:
                os.posix_fallocate(fd, 0, size)
        finally:
            os.close(fd)

    def _copy(self, src: Path, dst: Path) -> None:
        if self.clone_method == "reflink":
            filecopy.reflink(src, dst)
        else:
            filecopy.sparse_copy(src, dst)

    @contextmanager
    def _chain_lock(self) -> Iterator[None]:
        """Serialise changes to qcow2 chains (renames, rebases) across threads and
        processes: flock is held per open file, so each call opens its own."""
        with open(self.directory / LOCK_FILE, "a") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _new_file(self, final: Path, size: int, fill: Callable[[Path], None]) -> None:
        """Write a file under a temporary name with ``fill(tmp)``, grow it, publish it."""
        tmp = self._temporary()
        try:
            fill(tmp)
            self._grow(tmp, size)
            self._publish(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    # qcow2 chains ---------------------------------------------------------------------

    def _freeze(self, volume_file: Path, frozen: Path) -> None:
        """Turn the volume's current data into ``frozen`` and continue the volume as an
        overlay on it. Resumes where an interrupted run stopped."""
        if not frozen.exists():
            if not volume_file.exists():
                raise DriverError(f"Source {volume_file.name} does not exist.")
            os.rename(volume_file, frozen)
        if not volume_file.exists():
            size = qemu_img.read_header(frozen).virtual_size
            self._new_file(
                volume_file, size, lambda tmp: qemu_img.create(tmp, size, backing=frozen.name)
            )

    def _overlay(self, final: Path, backing: Path, size: int) -> None:
        self._new_file(final, size, lambda tmp: qemu_img.create(tmp, size, backing=backing.name))

    def _backing(self, path: Path) -> str | None:
        if self.volume_format != "qcow2":
            return None
        return qemu_img.read_header(path).backing_file

    def _dependents(self, name: str) -> list[Path]:
        # Every file, not only ours: an unmanaged image, perhaps renamed, may sit on one of
        # our frozen files and must neither lose it nor break.
        found = []
        for path in (self.directory / n for n in self._names("") if not n.startswith(".")):
            try:
                if not path.is_symlink() and qemu_img.read_header(path).backing_file == name:
                    found.append(path)
            except (OSError, DriverError):
                continue
        return found

    def _collect(self, name: str | None) -> None:
        """Remove clone bases nothing depends on any more, walking down the chain."""
        while name and name.startswith(CLONE_BASE):
            path = self._managed(name)
            if not path.exists() or self._dependents(name):
                return
            name = self._backing(path)
            path.unlink()

    def _remove(self, path: Path) -> None:
        """Delete a volume or snapshot file; rebase whatever sits on it first."""
        if not path.exists():
            return
        if self.volume_format != "qcow2":
            path.unlink(missing_ok=True)
            return
        with self._chain_lock():
            backing = self._backing(path)
            if backing is not None:
                self._managed(backing)
            for dependent in self._dependents(path.name):
                qemu_img.rebase(dependent, backing)
            path.unlink(missing_ok=True)
            self._collect(backing)

    # Volumes --------------------------------------------------------------------------

    def create_volume(self, volume: Volume) -> ModelUpdate:
        self._check()
        if self.fail_create:
            raise DriverError(f"Backend {self.backend.name} refused to create the volume.")
        path = self.path(volume.storage_id)
        size = volume.size * GiB
        try:
            if self.volume_format == "qcow2":
                self._create_qcow2(path, size)
            else:
                self._create_raw(path, size)
        except OSError as exc:
            raise _os_error("create volume file", exc) from exc
        if self.create_delay:
            time.sleep(self.create_delay)
        return {"provider_location": path.name}

    def _create_raw(self, path: Path, size: int) -> None:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                if os.fstat(fd).st_size != size:
                    if self.thin:
                        os.ftruncate(fd, size)
                    else:
                        os.posix_fallocate(fd, 0, size)
            finally:
                os.close(fd)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                path.unlink(missing_ok=True)
            raise

    def _create_qcow2(self, path: Path, size: int) -> None:
        if path.exists():
            if self._virtual_size(path) != size:
                raise DriverError(f"{path.name} already exists with a different size.")
            return
        self._new_file(path, size, lambda tmp: qemu_img.create(tmp, size, thin=self.thin))

    def delete_volume(self, volume: Volume) -> None:
        self._check()
        try:
            self._remove(self.path(volume.storage_id))
        except OSError as exc:
            raise _os_error("delete volume file", exc) from exc

    def extend_volume(self, volume: Volume, new_size: int) -> None:
        self._check()
        path = self.path(volume.storage_id)
        if not path.exists():
            raise DriverError(f"Cannot extend {path.name}: the file does not exist.")
        try:
            self._grow(path, new_size * GiB)
        except OSError as exc:
            raise _os_error("extend volume file", exc) from exc

    def create_cloned_volume(self, volume: Volume, source: Volume) -> ModelUpdate:
        self._check()
        final = self.path(volume.storage_id)
        src = self.path(source.storage_id)
        try:
            if final.exists():
                self._grow(final, volume.size * GiB)
            elif self.clone_method == "qcow2":
                base = self._file(CLONE_BASE, volume.id)
                with self._chain_lock():
                    if src.exists():
                        self._target_size(volume, src)  # refuse before changing the source
                    self._freeze(src, base)
                    self._overlay(final, base, self._target_size(volume, base))
            else:
                if not src.exists():
                    raise DriverError(f"Source {src.name} does not exist.")
                size = self._target_size(volume, src)
                self._new_file(final, size, lambda tmp: self._copy(src, tmp))
        except OSError as exc:
            raise _os_error("clone volume file", exc) from exc
        self._hold()
        return {"provider_location": final.name}

    def _hold(self) -> None:
        if self.copy_delay:
            time.sleep(self.copy_delay)

    def _target_size(self, volume: Volume, source: Path) -> int:
        size = volume.size * GiB
        if size < self._virtual_size(source):
            raise DriverError(f"Volume size {volume.size} GiB is smaller than its source.")
        return size

    # Snapshots ------------------------------------------------------------------------

    def create_snapshot(self, snapshot: Snapshot, volume: Volume) -> ModelUpdate:
        self._check()
        snap = self.snapshot_path(snapshot.id)
        src = self.path(volume.storage_id)
        try:
            if self.clone_method == "qcow2":
                with self._chain_lock():
                    self._freeze(src, snap)
            elif not snap.exists():
                if not src.exists():
                    raise DriverError(f"Source {src.name} does not exist.")
                self._new_file(snap, 0, lambda tmp: self._copy(src, tmp))
        except OSError as exc:
            raise _os_error("create snapshot file", exc) from exc
        self._hold()
        return {"provider_location": snap.name}

    def delete_snapshot(self, snapshot: Snapshot) -> None:
        self._check()
        try:
            self._remove(self.snapshot_path(snapshot.id))
        except OSError as exc:
            raise _os_error("delete snapshot file", exc) from exc

    def create_volume_from_snapshot(self, volume: Volume, snapshot: Snapshot) -> ModelUpdate:
        self._check()
        final = self.path(volume.storage_id)
        snap = self.snapshot_path(snapshot.id)
        try:
            if final.exists():
                self._grow(final, volume.size * GiB)
                return {"provider_location": final.name}
            if not snap.exists():
                raise DriverError(f"Snapshot file {snap.name} does not exist.")
            size = self._target_size(volume, snap)
            if self.clone_method == "qcow2":
                with self._chain_lock():
                    self._overlay(final, snap, size)
            else:
                self._new_file(final, size, lambda tmp: self._copy(snap, tmp))
        except OSError as exc:
            raise _os_error("create volume from snapshot", exc) from exc
        self._hold()
        return {"provider_location": final.name}

    def revert_to_snapshot(self, volume: Volume, snapshot: Snapshot) -> None:
        """Make the volume hold the snapshot's data again (the snapshot stays as it is).

        The new content is written beside the volume and renamed over it, so a revert
        interrupted half-way leaves the volume as it was and can simply run again.
        """
        self._check()
        final = self.path(volume.storage_id)
        snap = self.snapshot_path(snapshot.id)
        size = volume.size * GiB
        try:
            if not snap.exists():
                raise DriverError(f"Snapshot file {snap.name} does not exist.")
            if self.clone_method == "qcow2":
                # An empty overlay on the snapshot; the old overlay goes, and the clone
                # bases it alone kept alive with it.
                with self._chain_lock():
                    previous = self._backing(final) if final.exists() else None
                    self._overlay(final, snap, size)
                    if previous != snap.name:
                        self._collect(previous)
            else:
                self._new_file(final, size, lambda tmp: self._copy(snap, tmp))
        except OSError as exc:
            raise _os_error("revert volume to snapshot", exc) from exc

    # Migration ------------------------------------------------------------------------

    def copy_volume_data(
        self, volume: Volume, source: DataSource, cancelled: Callable[[], bool]
    ) -> None:
        """Replace the volume's data with ``source``'s (a migration's copy); ``cancelled``
        is asked as the copy goes and True stops it."""
        self._check()
        reflink = self.clone_method == "reflink"

        def fill(tmp: Path) -> None:
            sources.copy_into(tmp, source, self.volume_format, self.thin, reflink, cancelled)

        try:
            self._new_file(self.path(volume.storage_id), volume.size * GiB, fill)
        except filecopy.CopyCancelled:
            raise DriverError("the copy was stopped: its migration was aborted") from None
        except OSError as exc:
            raise _os_error("copy the volume's data", exc) from exc

    # Inventory and capacity -----------------------------------------------------------

    def _names(self, prefix: str) -> list[str]:
        with os.scandir(self.directory) as entries:
            return [e.name for e in entries if e.name.startswith(prefix)]

    def _ids(self, prefix: str) -> set[str]:
        found = set()
        for name in self._names(prefix):
            try:
                found.add(str(uuid.UUID(name[len(prefix) :])))
            except ValueError:
                continue
        return found

    def volume_ids(self) -> set[str]:
        """Ids of every volume that has storage on this backend."""
        return self._ids(VOLUME)

    def snapshot_ids(self) -> set[str]:
        """Ids of every snapshot that has storage on this backend."""
        return self._ids(SNAPSHOT)

    def _used_gb(self) -> float:
        """Space taken by volumes, snapshots and clone bases. Extents shared by reflinks
        are counted once per file, so this errs on the full side."""
        used = 0
        with os.scandir(self.directory) as entries:
            for entry in entries:
                if entry.name.startswith(MANAGED) and entry.is_file(follow_symlinks=False):
                    st = entry.stat(follow_symlinks=False)
                    used += st.st_blocks * 512 if self.thin else st.st_size
        return used / GiB

    def get_volume_stats(self, allocated_gb: dict[str, float]) -> dict[str, Any]:
        fs = os.statvfs(self.directory)
        total = fs.f_blocks * fs.f_frsize / GiB
        free = fs.f_bavail * fs.f_frsize / GiB
        if self.capacity_gb is not None:
            total = min(total, self.capacity_gb)
            free = max(0.0, min(free, self.capacity_gb - self._used_gb()))
        pool = self.backend.volume_backend_name
        return {
            "volume_backend_name": self.backend.volume_backend_name,
            # What Cinder's open-source reference drivers (LVM, NFS, RBD) report.
            "vendor_name": "Open Source",
            "driver_version": VERSION,
            "clone_method": self.clone_method,
            "volume_format": self.volume_format,
            "pools": [
                {
                    "pool_name": pool,
                    "total_capacity_gb": round(total, 2),
                    "free_capacity_gb": round(free, 2),
                    "allocated_capacity_gb": allocated_gb.get(pool, 0.0),
                    "reserved_percentage": self.backend.reserved_percentage,
                    "max_over_subscription_ratio": self.backend.max_over_subscription_ratio,
                    "thin_provisioning_support": self.thin,
                    "thick_provisioning_support": not self.thin,
                    "QoS_support": False,
                    "multiattach": True,
                    # Targets export a fixed size: an attached volume is not grown.
                    "online_extend_support": False,
                    "clone_method": self.clone_method,
                }
            ],
        }


def build(backend: BackendConfig, state_path: Path) -> FileDriver:
    return FileDriver(backend, state_path)
