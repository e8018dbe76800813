"""The driver interface, after Cinder's: one driver owns one backend."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from firebrick.domain.model import Snapshot, Volume
from firebrick.volume.drivers.sources import DataSource

ModelUpdate = dict[str, Any] | None


class VolumeDriver(Protocol):
    initialized: bool

    def do_setup(self) -> None:
        """Prepare the backend (create directories, check tools); sets ``initialized``."""

    def create_volume(self, volume: Volume) -> ModelUpdate:
        """Create the volume's storage. Must be safe to repeat for the same volume."""

    def delete_volume(self, volume: Volume) -> None:
        """Remove the volume's storage; a volume that is already gone is not an error."""

    def create_snapshot(self, snapshot: Snapshot, volume: Volume) -> ModelUpdate:
        """Freeze the volume's current data as ``snapshot``. Safe to repeat."""

    def delete_snapshot(self, snapshot: Snapshot) -> None:
        """Remove the snapshot's data; one that is already gone is not an error."""

    def create_volume_from_snapshot(self, volume: Volume, snapshot: Snapshot) -> ModelUpdate:
        """A new volume holding the snapshot's data, grown to ``volume.size``. Repeatable."""

    def create_cloned_volume(self, volume: Volume, source: Volume) -> ModelUpdate:
        """A new volume holding ``source``'s current data, grown to ``volume.size``."""

    def extend_volume(self, volume: Volume, new_size: int) -> None:
        """Grow the volume to ``new_size`` GiB, keeping its data."""

    def revert_to_snapshot(self, volume: Volume, snapshot: Snapshot) -> None:
        """Make the volume hold ``snapshot``'s data again (its latest, of the same size)."""

    def copy_volume_data(
        self, volume: Volume, source: DataSource, cancelled: Callable[[], bool]
    ) -> None:
        """Replace the volume's data with ``source``'s (host-assisted migration); stop
        with an error as soon as ``cancelled()`` is True."""

    def local_path(self, volume: Volume) -> tuple[Path, str]:
        """The volume's data as a local file and its format (raw, qcow2), for targets."""

    def volume_ids(self) -> set[str]:
        """Ids of every volume that has storage on this backend (to find orphans)."""

    def get_volume_stats(self, allocated_gb: dict[str, float]) -> dict[str, Any]:
        """Backend capabilities with a ``pools`` list, as Cinder drivers report them."""
