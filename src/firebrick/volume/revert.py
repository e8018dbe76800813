"""Reverting a volume to its latest snapshot on its backend (Cinder's revert_to_snapshot).

The API has marked the volume ``reverting`` and the snapshot ``restoring``. Success puts
both back to ``available``; a failure leaves the volume ``error`` (its data may be half
restored, as in Cinder) and the snapshot ``available``, with a user message. The driver's
revert can run again, so a service restarted in the middle simply reverts again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from firebrick.db import messages, snapshots, volumes
from firebrick.db.engine import Database
from firebrick.domain import statuses
from firebrick.domain.model import Volume
from firebrick.notifier import Notifier, snapshot_usage, volume_usage
from firebrick.volume.drivers.base import VolumeDriver

LOG = logging.getLogger("firebrick.volume")

# Cinder has no user message for a failed revert; Firebrick's own action code.
REVERT_FAILED = "VOLUME_VOLUME_902_001"


@dataclass
class RevertWorker:
    db: Database
    driver: VolumeDriver
    notifier: Notifier
    backend: str  # host@backend

    def revert(self, volume_id: str, snapshot_id: str) -> None:
        with self.db.read() as conn:
            volume = volumes.find(conn, volume_id)
            snapshot = snapshots.find(conn, snapshot_id)
        if (
            volume is None
            or snapshot is None
            or volume.status != statuses.REVERTING
            or snapshot.status != statuses.RESTORING
        ):
            return  # a duplicate request, or reset by an admin meanwhile
        zone = volume.availability_zone
        publisher = f"volume.{self.backend}"
        self.notifier.emit(publisher, "volume.revert.start", volume_usage(volume))
        self.notifier.emit(f"snapshot.{self.backend}", "snapshot.revert.start",
                           snapshot_usage(snapshot, zone))  # fmt: skip
        try:
            self.driver.revert_to_snapshot(volume, snapshot)
        except Exception as exc:
            LOG.error("Volume %s: revert to snapshot %s failed on %s: %s",
                      volume_id, snapshot_id, self.backend, exc)  # fmt: skip
            status = statuses.ERROR
            self._finish(volume, snapshot_id, status, f"{self.backend}: {exc}")
        else:
            LOG.info("Volume %s: reverted to snapshot %s", volume_id, snapshot_id)
            status = statuses.AVAILABLE
            self._finish(volume, snapshot_id, status, None)
        self.notifier.emit(publisher, "volume.revert.end",
                           volume_usage(replace(volume, status=status)))  # fmt: skip
        self.notifier.emit(
            f"snapshot.{self.backend}",
            "snapshot.revert.end",
            snapshot_usage(replace(snapshot, status=statuses.AVAILABLE), zone),
        )

    def _finish(self, volume: Volume, snapshot_id: str, status: str, error: str | None) -> None:
        with self.db.write() as conn:
            changed = volumes.update(conn, volume.id, {"status": status},
                                     expected={"status": statuses.REVERTING})  # fmt: skip
            snapshots.update(conn, snapshot_id, {"status": statuses.AVAILABLE},
                             expected_status=statuses.RESTORING)  # fmt: skip
            if changed and error is not None:
                messages.add(conn, project_id=volume.project_id, event_id=REVERT_FAILED,
                              resource_uuid=volume.id, detail=error)  # fmt: skip

    def unfinished(self) -> list[tuple[str, str]]:
        """(volume, snapshot) of every revert this backend left half-done."""
        with self.db.read() as conn:
            reverting = volumes.in_status(conn, [statuses.REVERTING], self.backend)
            found = []
            for volume_id in reverting:
                restoring = [s for s in snapshots.of_volume(conn, volume_id)
                             if s.status == statuses.RESTORING]  # fmt: skip
                if restoring:
                    found.append((volume_id, restoring[0].id))
        return found
