"""The driver interface, after Cinder's: one driver owns one backend."""

from __future__ import annotations

from typing import Any, Protocol

from firebrick.domain.model import Volume

ModelUpdate = dict[str, Any] | None


class VolumeDriver(Protocol):
    initialized: bool

    def do_setup(self) -> None:
        """Prepare the backend (create directories, check tools); sets ``initialized``."""

    def create_volume(self, volume: Volume) -> ModelUpdate:
        """Create the volume's storage. Must be safe to repeat for the same volume."""

    def delete_volume(self, volume: Volume) -> None:
        """Remove the volume's storage; a volume that is already gone is not an error."""

    def volume_ids(self) -> set[str]:
        """Ids of every volume that has storage on this backend (to find orphans)."""

    def get_volume_stats(self, allocated_gb: dict[str, float]) -> dict[str, Any]:
        """Backend capabilities with a ``pools`` list, as Cinder drivers report them."""
