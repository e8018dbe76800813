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
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from firebrick.config import BackendConfig
from firebrick.domain.errors import DriverError, DriverNotInitialized
from firebrick.domain.model import Snapshot, Volume
from firebrick.volume.drivers import file_stats, filecopy, qemu_img, sources
from firebrick.volume.drivers.base import ModelUpdate
from firebrick.volume.drivers.file_store import (
    CLONE_BASE,
    MARKER,
    SNAPSHOT,
    VOLUME,
    FileStore,
    GiB,
)
from firebrick.volume.drivers.sources import DataSource

LOG = logging.getLogger("firebrick.volume")


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
        # Test hooks: hold every delete (before the file goes) and every capacity report
        # this long (the accounting race tests).
        self.delete_delay = float(backend.get("file_delete_delay") or 0)
        self.stats_delay = float(backend.get("file_stats_delay") or 0)
        self.volume_format = _choice(backend, "file_volume_format", FORMATS)
        self.configured_method = _choice(backend, "file_clone_method", METHODS)
        if self.configured_method == "qcow2" and self.volume_format != "qcow2":
            raise ValueError(
                f"Backend {backend.name}: file_clone_method=qcow2 needs file_volume_format=qcow2"
            )
        # Resolved by do_setup: "auto" becomes the method the filesystem allows.
        self.clone_method = self.configured_method
        self.store = FileStore(self.directory, self.volume_format, self.thin)
        self.initialized = False

    # Setup ----------------------------------------------------------------------------

    def do_setup(self, expect_data: bool = False) -> None:
        """Prepare the directory. ``expect_data``: volumes are recorded on this backend, so
        an empty or missing directory means the storage went away (an unmounted disk),
        not a new backend: refuse rather than write volumes where they do not belong."""
        try:
            if not self.directory.is_dir():
                if expect_data:
                    raise DriverError(f"the backend directory {self.directory} is missing")
                self.directory.mkdir(parents=True, exist_ok=True)
            marker = self.directory / MARKER
            if not marker.exists():
                if expect_data and not self.store.names(VOLUME):
                    raise DriverError(
                        f"the backend directory {self.directory} has lost its volumes "
                        "(is its filesystem unmounted?)"
                    )
                marker.write_text(f"Firebrick backend {self.backend.name}\n")
            self.store.remove_temporaries()
            reflink = self.configured_method in {"auto", "reflink"} and (
                filecopy.supports_reflink(self.directory)
            )
        except OSError as exc:
            raise _os_error("prepare the volume directory", exc) from exc
        problem = self.health()
        if problem is not None:
            raise DriverError(problem)
        self.clone_method = self.store.clone_method = self._resolve_method(reflink)
        if self.volume_format == "qcow2" and not qemu_img.available():
            raise DriverError(
                "file_volume_format=qcow2 needs qemu-img (Debian package qemu-utils)."
            )
        if self.volume_format == "qcow2":
            with self.store.chain_lock():
                for name in self.store.names(CLONE_BASE):
                    self.store.collect(name)
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

    def health(self) -> str | None:
        """Why the backend cannot be used now (its directory gone, unmounted or read-only),
        or None."""
        return file_stats.health(self.directory)

    def get_volume_stats(self, allocated_gb: dict[str, float]) -> dict[str, Any]:
        if self.stats_delay:
            LOG.info("Backend %s: holding the capacity report %g s (file_stats_delay)",
                     self.backend.name, self.stats_delay)  # fmt: skip
            time.sleep(self.stats_delay)
        return file_stats.report(self, allocated_gb)

    # Paths ----------------------------------------------------------------------------

    def local_path(self, volume: Volume) -> tuple[Path, str]:
        """Where the volume's data is, and its format, for a target to export."""
        return self.path(volume.storage_id), self.volume_format

    def path(self, volume_id: str) -> Path:
        return self.store.file(VOLUME, volume_id)

    def snapshot_path(self, snapshot_id: str) -> Path:
        return self.store.file(SNAPSHOT, snapshot_id)

    def check_ready(self) -> None:
        if not self.initialized:
            raise DriverNotInitialized(self.backend.name)

    # Volumes --------------------------------------------------------------------------

    def create_volume(self, volume: Volume) -> ModelUpdate:
        self.check_ready()
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
            if self.store.virtual_size(path) != size:
                raise DriverError(f"{path.name} already exists with a different size.")
            return
        self.store.new_file(path, size, lambda tmp: qemu_img.create(tmp, size, thin=self.thin))

    def delete_volume(self, volume: Volume) -> None:
        self.check_ready()
        if self.delete_delay:
            time.sleep(self.delete_delay)
        try:
            self.store.remove(self.path(volume.storage_id))
        except OSError as exc:
            raise _os_error("delete volume file", exc) from exc

    def extend_volume(self, volume: Volume, new_size: int) -> None:
        self.check_ready()
        path = self.path(volume.storage_id)
        if not path.exists():
            raise DriverError(f"Cannot extend {path.name}: the file does not exist.")
        try:
            self.store.grow(path, new_size * GiB)
        except OSError as exc:
            raise _os_error("extend volume file", exc) from exc

    def create_cloned_volume(self, volume: Volume, source: Volume) -> ModelUpdate:
        self.check_ready()
        final = self.path(volume.storage_id)
        src = self.path(source.storage_id)
        try:
            if final.exists():
                self.store.grow(final, volume.size * GiB)
            elif self.clone_method == "qcow2":
                base = self.store.file(CLONE_BASE, volume.id)
                with self.store.chain_lock():
                    if src.exists():
                        self.target_size(volume, src)  # refuse before changing the source
                    self.store.freeze(src, base)
                    self.store.overlay(final, base, self.target_size(volume, base))
            else:
                if not src.exists():
                    raise DriverError(f"Source {src.name} does not exist.")
                size = self.target_size(volume, src)
                self.store.new_file(final, size, lambda tmp: self.store.copy(src, tmp))
        except OSError as exc:
            raise _os_error("clone volume file", exc) from exc
        self._hold()
        return {"provider_location": final.name}

    def _hold(self) -> None:
        if self.copy_delay:
            time.sleep(self.copy_delay)

    def target_size(self, volume: Volume, source: Path) -> int:
        size = volume.size * GiB
        if size < self.store.virtual_size(source):
            raise DriverError(f"Volume size {volume.size} GiB is smaller than its source.")
        return size

    # Snapshots ------------------------------------------------------------------------

    def create_snapshot(self, snapshot: Snapshot, volume: Volume) -> ModelUpdate:
        self.check_ready()
        snap = self.snapshot_path(snapshot.id)
        src = self.path(volume.storage_id)
        try:
            if self.clone_method == "qcow2":
                with self.store.chain_lock():
                    self.store.freeze(src, snap)
            elif not snap.exists():
                if not src.exists():
                    raise DriverError(f"Source {src.name} does not exist.")
                self.store.new_file(snap, 0, lambda tmp: self.store.copy(src, tmp))
        except OSError as exc:
            raise _os_error("create snapshot file", exc) from exc
        self._hold()
        return {"provider_location": snap.name}

    def delete_snapshot(self, snapshot: Snapshot) -> None:
        self.check_ready()
        try:
            self.store.remove(self.snapshot_path(snapshot.id))
        except OSError as exc:
            raise _os_error("delete snapshot file", exc) from exc

    def create_volume_from_snapshot(self, volume: Volume, snapshot: Snapshot) -> ModelUpdate:
        self.check_ready()
        final = self.path(volume.storage_id)
        snap = self.snapshot_path(snapshot.id)
        try:
            if final.exists():
                self.store.grow(final, volume.size * GiB)
                return {"provider_location": final.name}
            if not snap.exists():
                raise DriverError(f"Snapshot file {snap.name} does not exist.")
            size = self.target_size(volume, snap)
            if self.clone_method == "qcow2":
                with self.store.chain_lock():
                    self.store.overlay(final, snap, size)
            else:
                self.store.new_file(final, size, lambda tmp: self.store.copy(snap, tmp))
        except OSError as exc:
            raise _os_error("create volume from snapshot", exc) from exc
        self._hold()
        return {"provider_location": final.name}

    def revert_to_snapshot(self, volume: Volume, snapshot: Snapshot) -> None:
        """Make the volume hold the snapshot's data again (the snapshot stays as it is).

        The new content is written beside the volume and renamed over it, so a revert
        interrupted half-way leaves the volume as it was and can simply run again.
        """
        self.check_ready()
        final = self.path(volume.storage_id)
        snap = self.snapshot_path(snapshot.id)
        size = volume.size * GiB
        try:
            if not snap.exists():
                raise DriverError(f"Snapshot file {snap.name} does not exist.")
            if self.clone_method == "qcow2":
                # An empty overlay on the snapshot; the old overlay goes, and the clone
                # bases it alone kept alive with it.
                with self.store.chain_lock():
                    previous = self.store.backing(final) if final.exists() else None
                    self.store.overlay(final, snap, size)
                    if previous != snap.name:
                        self.store.collect(previous)
            else:
                self.store.new_file(final, size, lambda tmp: self.store.copy(snap, tmp))
        except OSError as exc:
            raise _os_error("revert volume to snapshot", exc) from exc

    # Migration ------------------------------------------------------------------------

    def copy_volume_data(
        self, volume: Volume, source: DataSource, cancelled: Callable[[], bool]
    ) -> None:
        """Replace the volume's data with ``source``'s (a migration's copy); ``cancelled``
        is asked as the copy goes and True stops it."""
        self.check_ready()
        reflink = self.clone_method == "reflink"

        def fill(tmp: Path) -> None:
            sources.copy_into(tmp, source, self.volume_format, self.thin, reflink, cancelled)

        try:
            self.store.new_file(self.path(volume.storage_id), volume.size * GiB, fill)
        except filecopy.CopyCancelled:
            raise DriverError("the copy was stopped: its migration was aborted") from None
        except OSError as exc:
            raise _os_error("copy the volume's data", exc) from exc

    # Inventory and capacity -----------------------------------------------------------

    def volume_ids(self) -> set[str]:
        """Ids of every volume that has storage on this backend."""
        return self.store.ids(VOLUME)

    def snapshot_ids(self) -> set[str]:
        """Ids of every snapshot that has storage on this backend."""
        return self.store.ids(SNAPSHOT)


def build(backend: BackendConfig, state_path: Path) -> FileDriver:
    return FileDriver(backend, state_path)
