"""Volumes as RBD images in a Ceph pool, as Cinder's RBD driver keeps them.

Images get the cluster's default features (layering, exclusive-lock, object-map,
fast-diff, deep-flatten) and objects of ``rbd_store_chunk_size`` MiB. Snapshots are
protected image snapshots; a volume made from one is a copy-on-write clone of it, and a
clone of a volume is a clone of a temporary snapshot ``volume-<clone>.clone_snap`` of
its source. A clone is flattened (made independent of its parent) once its chain would
be deeper than ``rbd_max_clone_depth``, or, for clones of snapshots, when
``rbd_flatten_volume_from_snapshot`` asks; 0 copies instead of cloning. Deleting an image
that clones stand on never fails (see ``rbd_delete``).

Every call is safe to repeat after a crash: an image or snapshot that already exists is
taken as made (and grown to size), one that is already gone as removed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from firebrick.config import BackendConfig
from firebrick.domain.errors import DriverError, DriverNotInitialized
from firebrick.domain.model import Snapshot, Volume
from firebrick.volume.drivers import rbd_images as names
from firebrick.volume.drivers import rbd_io
from firebrick.volume.drivers.base import ModelUpdate
from firebrick.volume.drivers.rbd_client import GiB, RadosClient, RbdOptions, bindings
from firebrick.volume.drivers.rbd_delete import Deleter
from firebrick.volume.drivers.rbd_images import opened
from firebrick.volume.drivers.sources import DataSource

LOG = logging.getLogger("firebrick.volume")

# Cinder's RBD driver version whose behaviour this follows.
VERSION = "1.3.0"


class RbdDriver:
    def __init__(self, backend: BackendConfig, state_path: Path) -> None:
        self.backend = backend
        self.options = RbdOptions.from_backend(backend)
        self.client = RadosClient(self.options)
        self.deleter = Deleter(self.client, self.options, backend.name)
        # Downloads of Glance images and uploads are staged in local files here.
        self.staging_dir = state_path / "staging" / backend.name
        # Test hook (as file_create_delay): hold every create this long once the image
        # exists, so that crash tests can kill the service in the middle.
        self.create_delay = float(backend.get("rbd_create_delay") or 0)
        self.features = 0
        self.secret_uuid = self.options.secret_uuid
        self.initialized = False

    # Setup ----------------------------------------------------------------------------

    def do_setup(self, expect_data: bool = False) -> None:
        """Connect to the pool (``expect_data`` needs no check: the cluster keeps the
        images; a pool that cannot be reached fails here and the backend is down)."""
        _rados, rbd = bindings()
        self.staging_dir.mkdir(parents=True, exist_ok=True)
        for leftover in self.staging_dir.iterdir():
            leftover.unlink(missing_ok=True)  # downloads a crash interrupted
        with self._errors(f"open the pool {self.options.pool}"), self.client.ioctx() as ioctx:
            rbd.RBD().list(ioctx)
            self.features = self.client.features()
            # Cinder's default: the libvirt secret is named after the cluster's FSID.
            self.secret_uuid = self.options.secret_uuid or self.client.fsid()
        self.deleter.start()
        LOG.info("Backend %s: RBD driver on pool %s (features %d, chunk %d MiB)",
                 self.backend.name, self.options.pool, self.features,
                 self.options.chunk_size_mb)  # fmt: skip
        self.initialized = True

    def check_ready(self) -> None:
        if not self.initialized:
            raise DriverNotInitialized(self.backend.name)

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """librados/librbd errors as DriverErrors (a dead connection is opened anew)."""
        rados, rbd = bindings()
        try:
            yield
        except (rbd.Error, rados.Error) as exc:
            if isinstance(exc, rados.Error) and not isinstance(exc, rbd.Error):
                self.client.reset()
            raise DriverError(f"Could not {action}: {type(exc).__name__} {exc}") from None

    @contextmanager
    def _session(self, action: str) -> Iterator[tuple[Any, Any]]:
        """(rbd module, pool ioctx) for one operation, with its errors mapped."""
        self.check_ready()
        _rados, rbd = bindings()
        with self._errors(action), self.client.ioctx() as ioctx:
            yield rbd, ioctx

    def _create(self, rbd: Any, ioctx: Any, name: str, size: int) -> None:
        def create() -> None:
            rbd.RBD().create(ioctx, name, size, order=self.options.order, old_format=False,
                             features=self.features)  # fmt: skip

        try:
            create()
        except rbd.ImageExists:
            try:
                names.ensure_size(rbd, ioctx, name, size)
            except rbd.ImageNotFound:
                # A create is several object writes: a process killed inside one leaves
                # the name without the image's header. Nothing is in it: make it again.
                LOG.warning("RBD image %s was left half made; making it again", name)
                rbd.RBD().remove(ioctx, name)
                create()

    # Volumes --------------------------------------------------------------------------

    def create_volume(self, volume: Volume) -> ModelUpdate:
        name = names.volume_name(volume.storage_id)
        with self._session("create the RBD image") as (rbd, ioctx):
            self._create(rbd, ioctx, name, volume.size * GiB)
        if self.create_delay:
            time.sleep(self.create_delay)
        return None

    def delete_volume(self, volume: Volume) -> None:
        with self._session("delete the RBD image") as (rbd, ioctx):
            self.deleter.delete_volume(rbd, ioctx, names.volume_name(volume.storage_id))

    def extend_volume(self, volume: Volume, new_size: int) -> None:
        # librbd tells the clients that have the image open (qemu, tgt) of the new size.
        name = names.volume_name(volume.storage_id)
        with self._session("extend the RBD image") as (rbd, ioctx):
            try:
                names.ensure_size(rbd, ioctx, name, new_size * GiB)
            except rbd.ImageNotFound:
                raise DriverError(f"Cannot extend {name}: the image does not exist.") from None

    def create_cloned_volume(self, volume: Volume, source: Volume) -> ModelUpdate:
        """A clone of a temporary snapshot of the source (Cinder's way); a full copy when
        rbd_max_clone_depth is 0; flattened when the source's chain is that deep.

        The source is opened once for all of it (each open of an image with
        exclusive-lock costs a round of messages): on this path every round trip counts.
        """
        src = names.volume_name(source.storage_id)
        dest = names.volume_name(volume.storage_id)
        size = volume.size * GiB
        opts = self.options
        with self._session("clone the RBD image") as (rbd, ioctx):
            try:
                with opened(rbd, ioctx, src) as image:
                    source_size = image.size()
                    if source_size > size:
                        raise DriverError("The new volume is smaller than its source.")
                    if opts.max_clone_depth <= 0:
                        image.copy(ioctx, dest, features=self.features, order=opts.order)
                        depth = 0
                    else:
                        snap = names.clone_snap_name(dest)
                        names.ensure_snapshot(rbd, image, snap)
                        rbd.RBD().clone(ioctx, src, snap, ioctx, dest, features=self.features,
                                        order=opts.order)  # fmt: skip
                        parent = names.parent_of(rbd, image)
                        depth = 0
                        if parent is not None:
                            depth = 1 + names.clone_depth(rbd, ioctx, parent[0])
            except rbd.ImageExists:  # made by an earlier run of this same request
                names.ensure_size(rbd, ioctx, dest, size)
                return None
            if opts.max_clone_depth > 0 and depth >= opts.max_clone_depth:
                LOG.info("Volume %s: clone depth %d reached, flattening", volume.id,
                         opts.max_clone_depth)  # fmt: skip
                names.flatten(rbd, ioctx, dest)
                self.deleter.remove_snapshot(rbd, ioctx, src, names.clone_snap_name(dest))
            if size > source_size:
                names.ensure_size(rbd, ioctx, dest, size)
        return None

    @staticmethod
    def _check_size(rbd: Any, ioctx: Any, image: str, snap: str | None, size: int) -> None:
        with opened(rbd, ioctx, image, read_only=True, snapshot=snap) as src:
            if src.size() > size:
                raise DriverError("The new volume is smaller than its source.")

    # Snapshots ------------------------------------------------------------------------

    def create_snapshot(self, snapshot: Snapshot, volume: Volume) -> ModelUpdate:
        image = names.volume_name(volume.storage_id)
        snap = names.snapshot_name(snapshot.id)
        with self._session("create the RBD snapshot") as (rbd, ioctx):
            try:
                with opened(rbd, ioctx, image) as handle:
                    names.ensure_snapshot(rbd, handle, snap)
            except rbd.ImageNotFound:
                raise DriverError(f"Source {image} does not exist.") from None
        return {"provider_location": f"{image}@{snap}"}

    def snapshot_location(self, rbd: Any, ioctx: Any, snapshot: Snapshot) -> tuple[str, str] | None:
        """(image, snapshot name) of a snapshot: its recorded location, else a search."""
        snap = names.snapshot_name(snapshot.id)
        image, _, recorded = (snapshot.provider_location or "").partition("@")
        candidates = [image] if image and recorded == snap else []
        candidates += [
            names.volume_name(snapshot.volume_id),
            *(str(n) for n in rbd.RBD().list(ioctx)),
        ]
        for candidate in candidates:
            try:
                with opened(rbd, ioctx, candidate, read_only=True) as handle:
                    if snap in names.snap_names(handle):
                        return candidate, snap
            except rbd.ImageNotFound:
                continue
        return None

    def delete_snapshot(self, snapshot: Snapshot) -> None:
        with self._session("delete the RBD snapshot") as (rbd, ioctx):
            found = self.snapshot_location(rbd, ioctx, snapshot)
            if found is not None:
                self.deleter.remove_snapshot(rbd, ioctx, *found)

    def create_volume_from_snapshot(self, volume: Volume, snapshot: Snapshot) -> ModelUpdate:
        dest = names.volume_name(volume.storage_id)
        size = volume.size * GiB
        with self._session("create a volume from the RBD snapshot") as (rbd, ioctx):
            if names.exists(rbd, ioctx, dest):
                names.ensure_size(rbd, ioctx, dest, size)
                return None
            found = self.snapshot_location(rbd, ioctx, snapshot)
            if found is None:
                raise DriverError(f"Snapshot {names.snapshot_name(snapshot.id)} does not exist.")
            image, snap = found
            self._check_size(rbd, ioctx, image, snap, size)
            if self.options.max_clone_depth <= 0:
                with opened(rbd, ioctx, image, read_only=True, snapshot=snap) as handle:
                    handle.copy(ioctx, dest, features=self.features, order=self.options.order)
            else:
                with opened(rbd, ioctx, image) as handle:
                    names.ensure_snapshot(rbd, handle, snap)  # protected, as clones need
                rbd.RBD().clone(ioctx, image, snap, ioctx, dest, features=self.features,
                                order=self.options.order)  # fmt: skip
                deep = names.clone_depth(rbd, ioctx, image) >= self.options.max_clone_depth
                if self.options.flatten_volume_from_snapshot or deep:
                    names.flatten(rbd, ioctx, dest)
            names.ensure_size(rbd, ioctx, dest, size)
        return None

    def revert_to_snapshot(self, volume: Volume, snapshot: Snapshot) -> None:
        """Roll the image back to the snapshot; a rollback also restores the snapshot's
        size, so a volume extended since is grown back to its recorded size."""
        name = names.volume_name(volume.storage_id)
        with self._session("revert the RBD image") as (rbd, ioctx):
            found = self.snapshot_location(rbd, ioctx, snapshot)
            if found is None or found[0] != name:
                raise DriverError(f"Snapshot {names.snapshot_name(snapshot.id)} does not exist.")
            with opened(rbd, ioctx, name) as image:
                image.rollback_to_snap(found[1])
            names.ensure_size(rbd, ioctx, name, volume.size * GiB)

    # Migration and targets ------------------------------------------------------------

    def copy_volume_data(
        self, volume: Volume, source: DataSource, cancelled: Callable[[], bool]
    ) -> None:
        """Write ``source``'s data over the volume's image (created first if missing)."""
        name = names.volume_name(volume.storage_id)
        with self._session("prepare the RBD image for the copy") as (rbd, ioctx):
            self._create(rbd, ioctx, name, volume.size * GiB)
        rbd_io.convert_into(source, self.options.qemu_spec(name), cancelled)

    def local_path(self, volume: Volume) -> tuple[Path, str]:
        """QEMU's ``rbd:pool/image`` name of the volume (format ``rbd``), for qemu-img,
        qemu-nbd and tgt's rbd backing store."""
        return Path(self.options.qemu_spec(names.volume_name(volume.storage_id))), "rbd"

    # Inventory and capacity -----------------------------------------------------------

    def volume_ids(self) -> set[str]:
        with self._session("list the RBD images") as (rbd, ioctx):
            found = (names.volume_id_of(str(n)) for n in rbd.RBD().list(ioctx))
            return {volume_id for volume_id in found if volume_id}

    def get_volume_stats(self, allocated_gb: dict[str, float]) -> dict[str, Any]:
        from firebrick.volume.drivers import rbd_stats

        return rbd_stats.volume_stats(self, allocated_gb)


def build(backend: BackendConfig, state_path: Path) -> RbdDriver:
    return RbdDriver(backend, state_path)
