from __future__ import annotations

from firebrick.domain.model import Volume
from firebrick.notifier import volume_usage
from firebrick.volume.flows.create_volume.base import CinderTask, Ports


class NotifyVolumeActionTask(CinderTask):
    """Emits ``volume.create.start``.

    Reversion strategy: none; a notification cannot be taken back.
    """

    def __init__(self, ports: Ports, event_suffix: str) -> None:
        super().__init__(ports)
        self.event_suffix = event_suffix

    def execute(self, volume: Volume) -> None:
        self.ports.notifier.emit(
            f"volume.{volume.host}", f"volume.{self.event_suffix}", volume_usage(volume)
        )
