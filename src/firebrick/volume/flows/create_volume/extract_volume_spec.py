from __future__ import annotations

from typing import Any

from firebrick.db import backups, images
from firebrick.domain.model import Volume
from firebrick.volume.flows.create_volume.base import CinderTask


class ExtractVolumeSpecTask(CinderTask):
    """Turns the request into a spec: ``raw``, ``snap`` (from a snapshot), ``source_vol``
    ``image`` (the image id comes with the request, or, for a create resumed after a
    restart, from the image metadata the API recorded) or ``backup`` (the backup the API
    marked as restoring into this volume).

    A request spec the API made (never empty: it names the zones at least) carries the
    image or backup a volume is made from; only a create sent again from the database
    (recovery, a cleanup), which has none, needs the lookups.

    Reversion strategy: none needed; it changes nothing.
    """

    default_provides = "volume_spec"

    def execute(self, volume: Volume, request_spec: dict[str, Any]) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "status": volume.status,
            "volume_id": volume.id,
            "volume_name": f"volume-{volume.id}",
            "volume_size": volume.size,
            "type": "raw",
        }
        if volume.snapshot_id:
            spec.update(type="snap", snapshot_id=volume.snapshot_id)
        elif volume.source_volid:
            spec.update(type="source_vol", source_volid=volume.source_volid)
        elif request_spec.get("image_id"):
            spec.update(type="image", image_id=request_spec["image_id"],
                        image=request_spec.get("image"))  # fmt: skip
        elif request_spec.get("backup_id"):
            spec.update(type="backup", backup_id=request_spec["backup_id"])
        elif not request_spec:
            with self.ports.db.read() as conn:
                image_id = images.of_volume(conn, volume.id).get("image_id")
                restoring = backups.restoring_into(conn, volume.id)
            if restoring is not None:
                spec.update(type="backup", backup_id=restoring.id)
            elif image_id and self.ports.images is not None:
                spec.update(type="image", image_id=image_id)
        return spec
