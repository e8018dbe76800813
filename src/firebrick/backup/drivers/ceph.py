"""The ``ceph`` store (Cinder's ``backup_driver = ceph``): backups as RBD images in a pool of
a Ceph cluster (``backup_ceph_conf``, ``backup_ceph_user``, ``backup_ceph_pool``).

A full backup of volume V is a new image ``volume-<V>.backup.<backup id>`` of the pool
(objects of ``backup_ceph_chunk_size`` bytes, striped by ``backup_ceph_stripe_unit`` and
``backup_ceph_stripe_count`` when set); each backup is the image snapshot
``backup.<backup id>`` on its chain's image, an incremental one written onto the image of
its parent's chain (only what changed) before its snapshot is taken. The container is the
pool. The data moves through librbd (``ceph_backup.py``); this module is the connection and
the small image helpers, and the ``ObjectStore`` answers the generic paths ask of a store.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, BinaryIO

from firebrick.backup.drivers.base import ObjectMissing

LOG = logging.getLogger("firebrick.backup")

SNAP_PREFIX = "backup."
META_KEY = "firebrick.backup."  # image metadata: the volume's metadata per backup


@dataclass(frozen=True)
class CephSettings:
    conf: str = "/etc/ceph/ceph.conf"
    user: str = "cinder"
    pool: str = "backups"
    chunk_size: int = 128 << 20
    stripe_unit: int = 0
    stripe_count: int = 0

    @property
    def order(self) -> int:
        return int(math.log2(self.chunk_size))


def image_name(volume_id: str, backup_id: str) -> str:
    """The image of a chain, named after the chain's full backup (Cinder's name)."""
    return f"volume-{volume_id}.backup.{backup_id}"


def snap_name(backup_id: str) -> str:
    return f"{SNAP_PREFIX}{backup_id}"


def location(service_metadata: str | None) -> dict[str, str]:
    """{"image", "snapshot"} of a backup, from its ``service_metadata``."""
    try:
        found = json.loads(service_metadata or "")
        return {"image": str(found["image"]), "snapshot": str(found["snapshot"])}
    except (ValueError, KeyError, TypeError):
        raise ObjectMissing("the backup names no RBD image") from None


def _bindings() -> tuple[Any, Any]:
    try:
        import rados
        import rbd
    except ImportError as exc:
        raise RuntimeError(
            "backup_driver = ceph needs Ceph's Python bindings (Debian packages python3-rados "
            "and python3-rbd)"
        ) from exc
    return rados, rbd


class CephStore:
    def __init__(self, settings: CephSettings) -> None:
        self.settings = settings
        self._cluster: Any = None
        self._lock = threading.Lock()

    # The connection (one per process; librados is thread-safe) ------------------------

    def _connected(self) -> Any:
        rados, _rbd = _bindings()
        with self._lock:
            if self._cluster is None:
                cluster = rados.Rados(rados_id=self.settings.user or None,
                                      conffile=self.settings.conf or None)  # fmt: skip
                try:
                    cluster.connect(timeout=60)
                except rados.Error as exc:
                    cluster.shutdown()
                    raise RuntimeError(
                        f"could not connect to the backup Ceph cluster: {type(exc).__name__}"
                    ) from None
                self._cluster = cluster
            return self._cluster

    def _reset(self) -> None:
        with self._lock:
            cluster, self._cluster = self._cluster, None
        if cluster is not None:
            with suppress(Exception):
                cluster.shutdown()

    @contextmanager
    def ioctx(self, pool: str | None = None) -> Iterator[tuple[Any, Any]]:
        """(rbd module, ioctx of the pool)."""
        rados, rbd = _bindings()
        try:
            ioctx = self._connected().open_ioctx(pool or self.settings.pool)
        except rados.ObjectNotFound:
            raise RuntimeError(f"the backup pool {pool or self.settings.pool!r} does not exist") \
                from None  # fmt: skip
        except rados.Error:
            self._reset()
            raise
        try:
            yield rbd, ioctx
        finally:
            ioctx.close()

    @contextmanager
    def image(
        self, pool: str, name: str, *, snapshot: str | None = None, read_only: bool = False
    ) -> Iterator[Any]:
        with self.ioctx(pool) as (rbd, ioctx):
            try:
                handle = rbd.Image(ioctx, name, snapshot=snapshot, read_only=read_only)
            except (rbd.ImageNotFound, rbd.ObjectNotFound):
                what = f"{name}@{snapshot}" if snapshot else name
                raise ObjectMissing(f"the backup image {what} is missing") from None
            try:
                yield handle
            finally:
                handle.close()

    def create_image(self, pool: str, name: str, size: int) -> None:
        s = self.settings
        with self.ioctx(pool) as (rbd, ioctx):
            striping: dict[str, int] = {}
            if s.stripe_unit and s.stripe_count:
                striping = {"stripe_unit": s.stripe_unit, "stripe_count": s.stripe_count}
            with suppress(rbd.ImageExists):  # made by an earlier run of this backup
                rbd.RBD().create(ioctx, name, size, order=s.order, old_format=False,
                                 **striping)  # fmt: skip

    def remove_snapshot(self, pool: str, name: str, snapshot: str, *, own: bool = False) -> None:
        """Remove ``name@snapshot``, and then the image if it holds no backup any more (or
        it is ``own``: the backup's own image, whose snapshot may be gone already). An image
        without snapshots whose snapshot was not removed here may be a full backup still
        being written: it stays."""
        with self.ioctx(pool) as (rbd, ioctx):
            try:
                with _opened(rbd, ioctx, name) as image:
                    removed = snapshot in [str(s["name"]) for s in image.list_snaps()]
                    if removed:
                        image.remove_snap(snapshot)
                    with suppress(rbd.ImageNotFound, KeyError):
                        image.metadata_remove(META_KEY + snapshot.removeprefix(SNAP_PREFIX))
                    left = list(image.list_snaps())
            except rbd.ImageNotFound:
                return
            if (removed or own) and not left:
                LOG.info("Removing backup image %s/%s: it holds no backup any more", pool, name)
                with suppress(rbd.ImageNotFound):
                    rbd.RBD().remove(ioctx, name)

    def has_snapshot(self, pool: str, name: str, snapshot: str) -> bool:
        with self.ioctx(pool) as (rbd, ioctx):
            try:
                with _opened(rbd, ioctx, name, read_only=True) as image:
                    return snapshot in [str(s["name"]) for s in image.list_snaps()]
            except rbd.ImageNotFound:
                return False

    # ObjectStore: what the generic paths ask of a store -------------------------------

    def check(self) -> None:
        with self.ioctx() as (rbd, ioctx):
            rbd.RBD().list(ioctx)

    def default_container(self, backup_id: str) -> str:
        return self.settings.pool

    def check_container(self, container: str) -> None:
        if not container or "/" in container or "\0" in container:
            raise ValueError(f"Container {container!r} must name a Ceph pool.")

    @contextmanager
    def writer(self, container: str, name: str, *, durable: bool = True) -> Iterator[BinaryIO]:
        raise RuntimeError("the ceph store keeps images, not objects")
        yield  # pragma: no cover

    def sync(self, container: str, names: list[str]) -> None:
        raise RuntimeError("the ceph store keeps images, not objects")

    @contextmanager
    def reader(self, container: str, name: str) -> Iterator[BinaryIO]:
        raise ObjectMissing("the ceph store keeps images, not objects")
        yield  # pragma: no cover

    def delete(self, container: str, name: str) -> None:
        """No objects: a backup's snapshot goes through ``remove_snapshot``."""

    def names(self, container: str, prefix: str) -> list[str]:
        return []

    def discard(self, container: str, backup_id: str) -> None:
        """Remove what a failed or interrupted backup left: its own image (a full one) or
        its snapshot on its chain's image (an incremental one)."""
        with self.ioctx(container) as (rbd, ioctx):
            candidates = [str(n) for n in rbd.RBD().list(ioctx)]
        for name in candidates:
            if name.endswith(f".backup.{backup_id}"):
                self._remove_image(container, name)
            elif ".backup." in name:
                self.remove_snapshot(container, name, snap_name(backup_id))

    def _remove_image(self, pool: str, name: str) -> None:
        with self.ioctx(pool) as (rbd, ioctx):
            try:
                with _opened(rbd, ioctx, name) as image:
                    for snap in list(image.list_snaps()):
                        image.remove_snap(str(snap["name"]))
                rbd.RBD().remove(ioctx, name)
            except rbd.ImageNotFound:
                return


@contextmanager
def _opened(rbd: Any, ioctx: Any, name: str, read_only: bool = False) -> Iterator[Any]:
    image = rbd.Image(ioctx, name, read_only=read_only)
    try:
        yield image
    finally:
        image.close()
