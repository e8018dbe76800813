"""The volume service's part in backups: the data a backup reads, the volume a restore
writes, and the points kept for the next incremental.

| request | does | then |
| --- | --- | --- |
| ``backup_device`` (backup) | freezes the data to read: a backup *point* kept for the next incremental (qcow2 volumes: a layer of the volume's chain, see ``drivers/file_backup.py``; raw volumes on a reflink filesystem: a reflink copy), a temporary snapshot (an in-use volume, Cinder's ``force``), or nothing (an available volume is read in place; a snapshot is read as it is) | records the device in the backup's row, casts ``continue_backup`` |
| ``backup_device`` (backup, RBD) | snapshots the image (``backup.<point>``, in use or not), kept as the point the next incremental's ``diff_iterate`` starts from; a snapshot is read as it is (``drivers/rbd_backup.py``) | as above |
| ``backup_device`` (restore) | names the volume's file (RBD: the image and how to reach the cluster) | casts ``continue_restore`` |
| ``release_backup_device`` | removes the export and the temporary snapshot; keeps a successful backup's point and drops the volume's older ones (qcow2: merged into the newest when the next backup starts) (a failed backup's point goes) | — |
| ``release_backup_point`` | removes a deleted backup's point | — |

When the backup service runs on another host, the file is exported through the volume's
own target (read-only for a backup, read-write for a restore), keyed by the backup's id;
its connection info (with the secret) lives in the backup's row only. An RBD image is
never exported: the device names the cluster (with the user's key, in the row only) and
the backup service reads and writes it through librbd wherever it runs.
"""  # noqa: E501

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from firebrick import backup as backup_role
from firebrick.db import backups, snapshots, volumes
from firebrick.db.engine import Database
from firebrick.domain import statuses
from firebrick.domain.model import Snapshot, Volume
from firebrick.rpc.bus import Bus, cast_or_defer
from firebrick.volume.attach import AttachWorker
from firebrick.volume.drivers import file_backup, rbd_backup
from firebrick.volume.drivers.base import VolumeDriver
from firebrick.volume.drivers.file import FileDriver
from firebrick.volume.drivers.rbd import RbdDriver

LOG = logging.getLogger("firebrick.volume")

REQUESTS = frozenset({"backup_device", "release_backup_device", "release_backup_point"})
INITIATOR_PREFIX = "iqn.2010-10.org.openstack:firebrick-backup-"


def _snapshot(snapshot_id: str, volume: Volume) -> Snapshot:
    """A driver-level snapshot no snapshots row describes (a point or a temporary one)."""
    return Snapshot(id=snapshot_id, volume_id=volume.id, project_id=volume.project_id,
                    user_id=volume.user_id, volume_size=volume.size, status="creating",
                    created_at=volumes.now())  # fmt: skip


@dataclass
class BackupDeviceWorker:
    db: Database
    bus: Bus
    driver: VolumeDriver
    attacher: AttachWorker | None
    backend: str  # host@backend

    @property
    def host(self) -> str:
        return self.backend.split("@", 1)[0]

    def handle(self, method: str, payload: dict[str, Any]) -> None:
        if method == "backup_device":
            self.prepare(payload["backup_id"], payload["purpose"], payload["requester"])
        elif method == "release_backup_device":
            self.release(
                payload["backup_id"], bool(payload.get("success")), payload.get("purpose", "backup")
            )
        elif method == "release_backup_point":
            self.drop_point(payload["point_id"], payload.get("volume_id"))

    def restore_new_volume(self, volume: Volume, backup_id: str) -> None:
        """Hand a new volume (its storage made) to the backup service restoring into it."""
        with self.db.read() as conn:
            found = backups.find(conn, backup_id)
        if found is None or found.host is None or found.restore_volume_id != volume.id:
            raise RuntimeError(f"backup {backup_id} is not being restored into {volume.id}")
        cast_or_defer(self.bus, backup_role.topic(found.host), "restore_backup",
                      {"backup_id": backup_id, "volume_id": volume.id})  # fmt: skip

    # Preparing ------------------------------------------------------------------------

    def _snapshot_path(self, snapshot_id: str) -> Path:
        locate = getattr(self.driver, "snapshot_path", None)
        if locate is None:
            raise NotImplementedError(f"backend {self.backend} cannot hand a snapshot's file")
        path: Path = locate(snapshot_id)
        return path

    def prepare(self, backup_id: str, purpose: str, requester: str) -> None:
        with self.db.read() as conn:
            found = backups.find(conn, backup_id)
            target_id = None
            if found is not None:
                target_id = found.volume_id if purpose == "backup" else found.restore_volume_id
            volume = volumes.find(conn, target_id) if target_id else None
        if found is None or volume is None:
            return
        try:
            if purpose == "backup":
                device = self._backup_device(found.id, found.snapshot_id, found.parent_id, volume)
            elif isinstance(self.driver, RbdDriver):
                device = rbd_backup.volume_device(self.driver, volume)
            else:
                path, fmt = self.driver.local_path(volume)
                device = {"path": str(path), "format": fmt, "size": volume.size << 30}
            device["host"] = self.host
            # An RBD image needs no export: the backup service reaches the cluster itself.
            if requester != self.host and "rbd" not in device:
                device["export"] = self._export(backup_id, device, requester, purpose)
        except Exception as exc:
            LOG.exception("Backup %s: preparing the %s device failed", backup_id, purpose)
            device = {"error": f"{self.backend}: {exc}"}
        with self.db.write() as conn:
            backups.update(conn, backup_id, {"device": device})
        cast_or_defer(self.bus, backup_role.topic(requester), f"continue_{purpose}",
                      {"backup_id": backup_id})  # fmt: skip

    def _backup_device(
        self, backup_id: str, snapshot_id: str | None, parent_id: str | None, volume: Volume
    ) -> dict[str, Any]:
        if isinstance(self.driver, RbdDriver):
            return self._rbd_device(backup_id, snapshot_id, parent_id, volume)
        path, fmt = self.driver.local_path(volume)
        device: dict[str, Any] = {"format": fmt, "size": volume.size << 30}
        if snapshot_id:
            device["path"] = str(self._snapshot_path(snapshot_id))
            return device
        clone_method = getattr(self.driver, "clone_method", "copy")
        in_use = volume.previous_status == statuses.IN_USE
        # An attached qcow2 volume's file is held open by its target: it is not frozen
        # under it, but snapshotted as the driver snapshots in-use volumes (below).
        if self._chained() and not in_use:
            self._settle(volume, parent_id)
            point = str(uuid.uuid4())
            with self.db.write() as conn:
                backups.update(conn, backup_id, {"point_id": point, "point_host": self.backend})
            assert isinstance(self.driver, FileDriver)
            device["path"] = str(file_backup.freeze(self.driver, volume, point))
            device["point"] = point
            parent = self._parent_point(parent_id)
            if parent is not None:
                device["parent_point"] = parent
            return device
        if fmt == "raw" and clone_method == "reflink":
            point = str(uuid.uuid4())
            with self.db.write() as conn:  # recorded first: a crash leaves nothing unknown
                backups.update(conn, backup_id, {"point_id": point, "point_host": self.backend})
            self.driver.create_snapshot(_snapshot(point, volume), volume)
            device["path"] = str(self._snapshot_path(point))
            device["point"] = point
            parent = self._parent_point(parent_id)
            if parent is not None:
                device["parent_point"] = parent
            return device
        if in_use:
            temporary = str(uuid.uuid4())
            with self.db.write() as conn:
                backups.update(conn, backup_id, {"temp_snapshot_id": temporary})
            self.driver.create_snapshot(_snapshot(temporary, volume), volume)
            device["path"] = str(self._snapshot_path(temporary))
            return device
        device["path"] = str(path)
        return device

    def _rbd_device(
        self, backup_id: str, snapshot_id: str | None, parent_id: str | None, volume: Volume
    ) -> dict[str, Any]:
        """An RBD volume is read from a snapshot of its image, in use or not, kept as the
        point the next incremental's ``diff_iterate`` starts from."""
        assert isinstance(self.driver, RbdDriver)
        if snapshot_id:
            return rbd_backup.snapshot_device(self.driver, _snapshot(snapshot_id, volume), volume)
        point = str(uuid.uuid4())
        with self.db.write() as conn:  # recorded first: a crash leaves nothing unknown
            backups.update(conn, backup_id, {"point_id": point, "point_host": self.backend})
        device = rbd_backup.freeze(self.driver, volume, point)
        if parent_id is not None:
            with self.db.read() as conn:
                parent_point, parent_host = backups.point(conn, parent_id)
            if (
                parent_point is not None
                and parent_host == self.backend
                and rbd_backup.has_point(self.driver, volume, parent_point)
            ):
                snap = rbd_backup.point_name(parent_point)
                device["parent_point"] = {"id": parent_point, "snapshot": snap}
        return device

    def _chained(self) -> bool:
        """Whether points are layers of the volume's qcow2 chain (else reflink copies)."""
        return isinstance(self.driver, FileDriver) and self.driver.volume_format == "qcow2"

    def _point_path(self, point_id: str) -> Path:
        if self._chained():
            assert isinstance(self.driver, FileDriver)
            return file_backup.point_path(self.driver, point_id)
        return self._snapshot_path(point_id)

    def _settle(self, volume: Volume, parent_id: str | None) -> None:
        """Merge a qcow2 volume's older points into its parent backup's point (or let them
        go), while this backup holds the volume and nothing else writes to its chain."""
        assert isinstance(self.driver, FileDriver)
        with self.db.read() as conn:
            kept = backups.point(conn, parent_id)[0] if parent_id else None
            points = [(b, p) for b, p, h in backups.with_points(conn, volume.id)
                      if h == self.backend and b != parent_id]  # fmt: skip
        for other, other_point in points:
            with self.db.write() as conn:
                backups.update(conn, other, {"point_id": None, "point_host": None})
            if kept and file_backup.merge(self.driver, volume, other_point, kept):
                with self.db.write() as conn:
                    backups.update(conn, parent_id or "", {"point_id": other_point})
                kept = other_point
            else:
                file_backup.forget(self.driver, other_point)

    def _parent_point(self, parent_id: str | None) -> dict[str, str] | None:
        if parent_id is None:
            return None
        with self.db.read() as conn:
            point_id, point_host = backups.point(conn, parent_id)
        if point_id is None or point_host != self.backend:
            return None
        path = self._point_path(point_id)
        return {"id": point_id, "path": str(path), "name": path.name} if path.exists() else None

    def _export(
        self, backup_id: str, device: dict[str, Any], requester: str, purpose: str
    ) -> dict[str, Any]:
        if self.attacher is None:
            raise RuntimeError(f"{self.backend} has no target to export the data to {requester}")
        connector = {"initiator": f"{INITIATOR_PREFIX}{backup_id}", "host": requester}
        target = self.attacher.started_target()
        exported = target.export(backup_id, Path(device["path"]), device["format"], backup_id,
                                 connector, readonly=purpose == "backup")  # fmt: skip
        LOG.info("Backup %s: exported the %s device over %s to %s", backup_id, purpose,
                 target.protocol, requester)  # fmt: skip
        return {"driver_volume_type": target.protocol, "data": dict(exported.data),
                "initiator": connector["initiator"]}  # fmt: skip

    # Releasing ------------------------------------------------------------------------

    def release(self, backup_id: str, success: bool, purpose: str = "backup") -> None:
        if purpose != "backup":
            self._unexport(backup_id)
            return
        with self.db.read() as conn:
            found = backups.find_any(conn, backup_id)
            point_id, point_host = backups.point(conn, backup_id)
            volume = volumes.find(conn, found.volume_id) if found else None
        if found is None:
            return
        self._unexport(backup_id)
        if found.temp_snapshot_id and volume is not None:
            self._delete_snapshot(found.temp_snapshot_id, volume)
            with self.db.write() as conn:
                backups.update(conn, backup_id, {"temp_snapshot_id": None})
        if point_id is None or point_host != self.backend or volume is None:
            return
        if not success:
            self.drop_point(point_id, volume.id)
            return
        with self.db.read() as conn:
            older = [(b, p) for b, p, h in backups.with_points(conn, volume.id)
                     if b != backup_id and h == self.backend]  # fmt: skip
        for other, other_point in older:
            # The next incremental compares with this backup's point: the older ones are
            # of no further use (their backups restore from the store alone). Forgotten
            # first: a point must never stand for data it no longer holds. A qcow2 chain's
            # older points are merged when the next backup holds the volume (_settle).
            if self._chained():
                continue
            with self.db.write() as conn:
                backups.update(conn, other, {"point_id": None, "point_host": None})
            self._delete_point(other_point, volume)

    def drop_point(self, point_id: str, volume_id: str | None) -> None:
        with self.db.write() as conn:
            for backup_id, pid, _host in backups.with_points(conn, volume_id or ""):
                if pid == point_id:
                    backups.update(conn, backup_id, {"point_id": None, "point_host": None})
            volume = volumes.find(conn, volume_id) if volume_id else None
        if self._chained():
            assert isinstance(self.driver, FileDriver)
            file_backup.forget(self.driver, point_id)
            return
        stand_in = volume or Volume(id=volume_id or point_id, project_id="", user_id="",
                                    size=0, status="", created_at=volumes.now())  # fmt: skip
        self._delete_point(point_id, stand_in)

    def _delete_point(self, point_id: str, volume: Volume) -> None:
        if not isinstance(self.driver, RbdDriver):
            self._delete_snapshot(point_id, volume)
            return
        try:
            rbd_backup.forget(self.driver, volume, point_id)
        except Exception as exc:
            LOG.warning("Could not remove backup point %s on %s: %s", point_id, self.backend, exc)

    def _delete_snapshot(self, snapshot_id: str, volume: Volume) -> None:
        with self.db.read() as conn:
            if snapshots.find(conn, snapshot_id) is not None:
                return  # never a user's snapshot
        try:
            self.driver.delete_snapshot(_snapshot(snapshot_id, volume))
        except Exception as exc:
            LOG.warning("Could not remove backup snapshot %s on %s: %s", snapshot_id,
                        self.backend, exc)  # fmt: skip

    def _unexport(self, backup_id: str) -> None:
        if self.attacher is None:
            return
        target = self.attacher.target
        if backup_id in target.exported().get(backup_id, set()):
            target.unexport(backup_id, backup_id)
