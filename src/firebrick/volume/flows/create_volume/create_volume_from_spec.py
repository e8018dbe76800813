from __future__ import annotations

from typing import Any

from firebrick.domain.errors import DriverError
from firebrick.domain.model import Volume
from firebrick.volume.flows.create_volume.base import CinderTask


class CreateVolumeFromSpecTask(CinderTask):
    """Creates the volume's storage through the backend's driver, by the kind of spec.

    Reversion strategy: none of its own; OnFailureRescheduleTask removes what was created.
    """

    default_provides = "model_update"

    def execute(self, volume: Volume, volume_spec: dict[str, Any]) -> dict[str, Any]:
        kind = volume_spec["type"]
        if kind != "raw":
            raise DriverError(f"Creating a volume from a {kind} source is not supported yet.")
        return self.ports.driver.create_volume(volume) or {}
