"""What a volume service does for snapshots: make and remove them through the driver."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from firebrick.db import messages, quotas, services, snapshots, volumes
from firebrick.db.engine import Database
from firebrick.domain import quota, statuses
from firebrick.notifier import Notifier, snapshot_usage
from firebrick.volume.drivers.base import VolumeDriver

LOG = logging.getLogger("firebrick.volume")

SNAPSHOT_CREATE_FAILED = "VOLUME_SNAPSHOT_009_013"
SNAPSHOT_DELETE_FAILED = "VOLUME_SNAPSHOT_010_014"


@dataclass
class SnapshotWorker:
    db: Database
    driver: VolumeDriver
    notifier: Notifier
    backend: str

    @property
    def publisher(self) -> str:
        return f"snapshot.{self.backend}"

    def create(self, snapshot_id: str) -> None:
        with self.db.read() as conn:
            snapshot = snapshots.find(conn, snapshot_id)
            volume = volumes.find(conn, snapshot.volume_id) if snapshot else None
        if snapshot is None or volume is None or snapshot.status != statuses.CREATING:
            return  # deleted meanwhile, or a duplicate delivery
        zone = volume.availability_zone
        self.notifier.emit(self.publisher, "snapshot.create.start", snapshot_usage(snapshot, zone))
        try:
            update = self.driver.create_snapshot(snapshot, volume) or {}
        except Exception as exc:
            LOG.error("Snapshot %s of volume %s: create failed on %s: %s",
                      snapshot_id, volume.id, self.backend, exc)  # fmt: skip
            with self.db.write() as conn:
                if snapshots.update(conn, snapshot_id, {"status": statuses.ERROR},
                                    expected_status=statuses.CREATING):  # fmt: skip
                    messages.add(
                        conn, project_id=snapshot.project_id, event_id=SNAPSHOT_CREATE_FAILED,
                        resource_uuid=snapshot_id, resource_type="VOLUME_SNAPSHOT",
                        detail=f"{self.backend}: {exc}",
                    )  # fmt: skip
            return
        values = {"status": statuses.AVAILABLE, "progress": "100%",
                  "provider_location": update.get("provider_location")}  # fmt: skip
        with self.db.write() as conn:
            done = snapshots.update(conn, snapshot_id, values, expected_status=statuses.CREATING)
        if done:
            finished = replace(snapshot, status=statuses.AVAILABLE, progress="100%")
            self.notifier.emit(
                self.publisher, "snapshot.create.end", snapshot_usage(finished, zone)
            )

    def delete(self, snapshot_id: str) -> bool:
        """Remove the snapshot's data and row; whether it is gone."""
        with self.db.read() as conn:
            snapshot = snapshots.find(conn, snapshot_id)
            volume = volumes.find(conn, snapshot.volume_id) if snapshot else None
        if snapshot is None:
            return True
        if snapshot.status != statuses.DELETING:
            return False
        zone = volume.availability_zone if volume else None
        self.notifier.emit(self.publisher, "snapshot.delete.start", snapshot_usage(snapshot, zone))
        try:
            self.driver.delete_snapshot(snapshot)
        except Exception as exc:
            LOG.error("Snapshot %s: delete failed on %s: %s", snapshot_id, self.backend, exc)
            with self.db.write() as conn:
                snapshots.update(conn, snapshot_id, {"status": statuses.ERROR_DELETING})
                messages.add(
                    conn, project_id=snapshot.project_id, event_id=SNAPSHOT_DELETE_FAILED,
                    resource_uuid=snapshot_id, resource_type="VOLUME_SNAPSHOT",
                    detail=f"{self.backend}: {exc}",
                )  # fmt: skip
            return False
        with self.db.write() as conn:
            snapshots.remove(conn, snapshot_id)
            type_name = volume.volume_type_name if volume else None
            quotas.add_usage(
                conn,
                snapshot.project_id,
                quota.snapshot_deltas(snapshot.volume_size, type_name, count=-1),
            )
            if volume is not None and volume.host:
                services.add_allocation(conn, volume.host, -snapshot.volume_size)
        gone = replace(snapshot, status="deleted")
        self.notifier.emit(
            self.publisher, "snapshot.delete.end", snapshot_usage(gone, zone, deleted="True")
        )
        return True
