from __future__ import annotations

from typing import Any

from firebrick.db import snapshots, volumes
from firebrick.domain.model import Volume
from firebrick.volume.flows.create_volume.base import CinderTask


class CreateVolumeFromSpecTask(CinderTask):
    """Creates the volume's storage through the backend's driver, by the kind of spec:
    empty (``raw``), from a snapshot (``snap``), a copy of another volume (``source_vol``)
    a Glance image (``image``, through the image worker and its cache), or a backup
    (``backup``: an empty volume that a backup service then fills; it stays ``creating``
    until the restore ends).

    Reversion strategy: none of its own; OnFailureRescheduleTask removes what was created.
    A source that is gone raises NotFound, which rescheduling cannot fix.
    """

    default_provides = "model_update"

    def execute(self, volume: Volume, volume_spec: dict[str, Any]) -> dict[str, Any]:
        with self.ports.gate.released():  # the backend's work: other creates go on
            return self._create(volume, volume_spec)

    def _create(self, volume: Volume, volume_spec: dict[str, Any]) -> dict[str, Any]:
        kind = volume_spec["type"]
        driver = self.ports.driver
        if kind == "snap":
            with self.ports.db.read() as conn:
                snapshot = snapshots.get(conn, volume_spec["snapshot_id"])
                parent = volumes.find(conn, snapshot.volume_id)
            update = driver.create_volume_from_snapshot(volume, snapshot) or {}
            return {**update, "bootable": bool(parent and parent.bootable)}
        if kind == "source_vol":
            with self.ports.db.read() as conn:
                source = volumes.get(conn, volume_spec["source_volid"])
            update = driver.create_cloned_volume(volume, source) or {}
            return {**update, "bootable": source.bootable}
        if kind == "image" and self.ports.images is not None:
            made: dict[str, Any] = self.ports.images.create_volume_from_image(
                volume, volume_spec["image_id"], volume_spec.get("image")
            )
            return made
        if kind == "backup" and self.ports.backups is not None:
            update = driver.create_volume(volume) or {}
            self.ports.backups.restore_new_volume(volume, volume_spec["backup_id"])
            return {**update, "restore_pending": True}
        return driver.create_volume(volume) or {}
