"""The RBD driver's part in backups: the image snapshots a backup reads, and the connection
details the backup service needs to read or write an image itself through librbd.

Every backup of an RBD volume reads a snapshot ``backup.<point>`` of its image (in use or
not: a snapshot is cheap and consistent), kept as the backup's *point* once the backup
succeeded: the next incremental asks librbd which extents changed since it
(``diff_iterate``), so it reads only those. A backup of a user's snapshot reads that
snapshot as it is.

The device record names the image and the cluster (``rbd``: pool, image, snapshot, user,
cluster name, the ceph.conf path, the monitors, and the user's key when
``rbd_keyring_conf`` names a keyring), so that a backup service on another host, without
this host's configuration, reaches the cluster by itself. The record lives in the
backup's row only (as an export's secret does), never in a message or a log.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from firebrick.domain.errors import DriverError
from firebrick.domain.model import Snapshot, Volume
from firebrick.volume.drivers import rbd_images as names
from firebrick.volume.drivers.rbd import RbdDriver
from firebrick.volume.drivers.rbd_client import GiB
from firebrick.volume.drivers.rbd_images import opened

LOG = logging.getLogger("firebrick.volume")

POINT_PREFIX = "backup."


def point_name(point_id: str) -> str:
    return f"{POINT_PREFIX}{point_id}"


def _keyring(path: str | None) -> str | None:
    if not path:
        return None
    try:
        return Path(path).read_text()
    except OSError:
        return None


def connection(driver: RbdDriver, image: str, snapshot: str | None) -> dict[str, Any]:
    """How the backup service reaches ``image`` (at ``snapshot``) on the cluster."""
    opts = driver.options
    try:
        mon_host = str(driver.client.cluster().conf_get("mon_host") or "")
    except Exception as exc:
        driver.client.reset()
        raise DriverError(f"Could not read the Ceph monitors: {type(exc).__name__}") from None
    return {
        "pool": opts.pool,
        "image": image,
        "snapshot": snapshot,
        "user": opts.user,
        "cluster_name": opts.cluster_name,
        "ceph_conf": opts.ceph_conf,
        "mon_host": mon_host,
        "keyring_conf": opts.keyring_conf,
        "keyring": _keyring(opts.keyring_conf),
    }


def volume_device(driver: RbdDriver, volume: Volume) -> dict[str, Any]:
    """The volume's image itself (a restore writes it)."""
    image = names.volume_name(volume.storage_id)
    return {"format": "rbd", "size": volume.size * GiB,
            "rbd": connection(driver, image, None)}  # fmt: skip


def freeze(driver: RbdDriver, volume: Volume, point_id: str) -> dict[str, Any]:
    """Snapshot the volume's image as the backup point ``point_id``; its device."""
    image = names.volume_name(volume.storage_id)
    snap = point_name(point_id)
    with driver._session("snapshot the RBD image for a backup") as (rbd, ioctx):
        try:
            with opened(rbd, ioctx, image) as handle:
                names.ensure_snapshot(rbd, handle, snap, protect=False)
        except rbd.ImageNotFound:
            raise DriverError(f"Source {image} does not exist.") from None
    return {"format": "rbd", "size": volume.size * GiB, "point": point_id,
            "rbd": connection(driver, image, snap)}  # fmt: skip


def snapshot_device(driver: RbdDriver, snapshot: Snapshot, volume: Volume) -> dict[str, Any]:
    """A user's snapshot, read as it is."""
    with driver._session("find the RBD snapshot") as (rbd, ioctx):
        found = driver.snapshot_location(rbd, ioctx, snapshot)
    if found is None:
        raise DriverError(f"Snapshot {names.snapshot_name(snapshot.id)} does not exist.")
    return {"format": "rbd", "size": volume.size * GiB, "rbd": connection(driver, *found)}


def has_point(driver: RbdDriver, volume: Volume, point_id: str) -> bool:
    image = names.volume_name(volume.storage_id)
    with driver._session("look for the backup point") as (rbd, ioctx):
        try:
            with opened(rbd, ioctx, image, read_only=True) as handle:
                return point_name(point_id) in names.snap_names(handle)
        except rbd.ImageNotFound:
            return False


def forget(driver: RbdDriver, volume: Volume, point_id: str) -> None:
    """Remove a backup point's snapshot (gone already: nothing to do)."""
    image = names.volume_name(volume.storage_id)
    snap = point_name(point_id)
    with driver._session("remove the backup point") as (rbd, ioctx):
        try:
            with opened(rbd, ioctx, image) as handle:
                if snap in names.snap_names(handle):
                    handle.remove_snap(snap)
                    LOG.info("Removed backup point %s of %s", snap, image)
        except rbd.ImageNotFound:
            return
