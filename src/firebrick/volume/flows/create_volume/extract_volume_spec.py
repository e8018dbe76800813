from __future__ import annotations

from typing import Any

from firebrick.domain.model import Volume
from firebrick.volume.flows.create_volume.base import CinderTask


class ExtractVolumeSpecTask(CinderTask):
    """Turns the request into a spec: ``raw``, ``snap`` (from a snapshot) or ``source_vol``.

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
        return spec
