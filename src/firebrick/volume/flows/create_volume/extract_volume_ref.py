from __future__ import annotations

from firebrick.db import volumes
from firebrick.domain import statuses
from firebrick.domain.errors import VolumeNotFound
from firebrick.domain.model import Volume
from firebrick.volume.flows.create_volume.base import CinderTask


class ExtractVolumeRefTask(CinderTask):
    """Re-reads the volume row: the user may have deleted it since it was scheduled.

    Reversion strategy: none; OnFailureRescheduleTask decides the volume's fate.
    """

    default_provides = "volume"

    def execute(self, volume_id: str) -> Volume:
        with self.ports.db.read() as conn:
            volume = volumes.get(conn, volume_id)
        if volume.status != statuses.CREATING:
            # Deleted and being torn down, or already finished by an earlier delivery.
            raise VolumeNotFound(volume_id)
        return volume
