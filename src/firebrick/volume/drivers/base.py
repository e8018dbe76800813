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

    def do_setup(self, expect_data: bool = False) -> None:
        """Prepare the backend (create directories, check tools); sets ``initialized``.

        ``expect_data``: volumes are recorded on this backend; storage that looks new
        then means it went away, and setup refuses (the backend is reported down).
        """

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


class ExistingStorage(Protocol):
    """Manage and unmanage of storage a backend already has (Cinder's ``manage_existing``,
    ``get_manageable_*``, ``unmanage``); ``kind`` is ``volume`` or ``snapshot``.

    ``claimed_by`` names the volume or snapshot that already owns the referenced storage
    (the caller knows the records); the driver refuses it then.
    """

    def source_name(self, ref: object) -> str:
        """The storage ``ref`` names, or the invalid-reference error (400)."""

    def storage_owner(self, name: str) -> tuple[str, str] | None:
        """(kind, id) when ``name`` is this driver's name for a volume's or snapshot's data."""

    def storage_name(self, kind: str, object_id: str) -> str:
        """This driver's name for the data of the volume or snapshot ``object_id``."""

    def get_size(self, ref: object, kind: str, claimed_by: str | None) -> int:
        """Size in GiB, rounded up, of storage that may become a ``kind``; else the error."""

    def manage_existing(self, volume: Volume, ref: object, claimed_by: str | None) -> ModelUpdate:
        """Make the storage the volume's (repeatable; undone if it fails)."""

    def manage_existing_snapshot(
        self, snapshot: Snapshot, ref: object, claimed_by: str | None
    ) -> ModelUpdate:
        """Make the storage the snapshot's (repeatable; undone if it fails)."""

    def unmanage(self, kind: str, object_id: str) -> str | None:
        """Let the storage go, unchanged; its name, or None when there is none to keep."""

    def manageable(self, kind: str) -> list[dict[str, Any]]:
        """Cinder's manageable entries (detail keys) for what could become a ``kind``."""
