"""Existing RBD images and image snapshots brought under management, and let go, as
Cinder's RBD driver does it.

A reference is ``{"source-name": "<image>"}`` for a volume (an image of the backend's
pool) and ``{"source-name": "<snapshot>"}`` for a snapshot (a snapshot of one image of
the pool; a bare string is read as the name). Managing renames the image to
``volume-<id>`` (and grows it to whole GiB) or the snapshot to ``snapshot-<id>`` (and
protects it), so that every other operation finds it by id. Unmanaging changes nothing
in the cluster: the image or snapshot stays under its name. Images that clients have
open (watchers), hidden ``.deleted`` parents, and Firebrick's own temporary snapshots
are not safe to manage.
"""

from __future__ import annotations

import math
from typing import Any

from firebrick.domain.errors import DriverError
from firebrick.domain.model import Snapshot, Volume
from firebrick.volume.drivers import rbd_images as names
from firebrick.volume.drivers.base import ModelUpdate
from firebrick.volume.drivers.file_inspect import (
    SNAPSHOT_KIND,
    VOLUME_KIND,
    ManageExistingInvalidReference,
    storage_owner,
)
from firebrick.volume.drivers.rbd import RbdDriver
from firebrick.volume.drivers.rbd_client import GiB
from firebrick.volume.drivers.rbd_images import opened

MAX_NAME = 512


def _gb(size: int) -> int:
    return max(1, math.ceil(size / GiB))


class RbdManage:
    """Manage and unmanage for one RBD backend (the driver's ``ExistingStorage``)."""

    def __init__(self, driver: RbdDriver) -> None:
        self.driver = driver

    def source_name(self, ref: object) -> str:
        name = ref if isinstance(ref, str) else None
        if isinstance(ref, dict):
            if "source-name" not in ref:
                raise ManageExistingInvalidReference(
                    ref, "Reference must contain source-name element."
                )
            name = ref["source-name"]
        if not isinstance(name, str) or not name:
            raise ManageExistingInvalidReference(ref, "source-name must be a non-empty string.")
        if "/" in name or "@" in name or len(name) > MAX_NAME:
            raise ManageExistingInvalidReference(
                ref, "source-name must name an image (or snapshot) of the backend's pool."
            )
        if any(ord(c) < 32 or ord(c) == 127 for c in name):
            raise ManageExistingInvalidReference(ref, "source-name has control characters.")
        return name

    def storage_owner(self, name: str) -> tuple[str, str] | None:
        return storage_owner(name)

    def storage_name(self, kind: str, object_id: str) -> str:
        if kind == VOLUME_KIND:
            return names.volume_name(object_id)
        return names.snapshot_name(object_id)

    # Checks ---------------------------------------------------------------------------

    def _image_size(self, rbd: Any, ioctx: Any, ref: object, name: str) -> int:
        if name.endswith(names.DELETED_SUFFIX):
            raise ManageExistingInvalidReference(ref, "The image is marked as deleted.")
        try:
            with opened(rbd, ioctx, name, read_only=True) as image:
                if list(image.watchers_list()):
                    raise ManageExistingInvalidReference(ref, "The image is in use.")
                return int(image.size())
        except rbd.ImageNotFound:
            raise ManageExistingInvalidReference(
                ref, "Specified RBD image does not exist."
            ) from None

    def _find_snapshot(self, rbd: Any, ioctx: Any, ref: object, name: str) -> tuple[str, int]:
        """(image, size) of the one image of the pool that has a snapshot ``name``."""
        if name.endswith(names.CLONE_SNAP_SUFFIX):
            raise ManageExistingInvalidReference(ref, "The snapshot is used for a clone.")
        found: list[tuple[str, int]] = []
        for image_name in rbd.RBD().list(ioctx):
            try:
                with opened(rbd, ioctx, str(image_name), read_only=True) as image:
                    found += [(str(image_name), int(s["size"])) for s in image.list_snaps()
                              if s["name"] == name]  # fmt: skip
            except rbd.ImageNotFound:
                continue
        if not found:
            raise ManageExistingInvalidReference(ref, "Specified snapshot does not exist.")
        if len(found) > 1:
            raise ManageExistingInvalidReference(ref, "Several images have a snapshot so named.")
        return found[0]

    def get_size(self, ref: object, kind: str, claimed_by: str | None) -> int:
        name = self.source_name(ref)
        if claimed_by is not None:
            raise ManageExistingInvalidReference(ref, f"It is the storage of {claimed_by}.")
        with self.driver._session("inspect the RBD image") as (rbd, ioctx):
            if kind == SNAPSHOT_KIND:
                return _gb(self._find_snapshot(rbd, ioctx, ref, name)[1])
            return _gb(self._image_size(rbd, ioctx, ref, name))

    # Taking over ----------------------------------------------------------------------

    def manage_existing(self, volume: Volume, ref: object, claimed_by: str | None) -> ModelUpdate:
        """Rename the image to ``volume-<id>`` and grow it to the volume's size."""
        name = self.source_name(ref)
        final = names.volume_name(volume.storage_id)
        with self.driver._session("manage the RBD image") as (rbd, ioctx):
            if name != final and not names.exists(rbd, ioctx, final):
                if claimed_by is not None:
                    raise ManageExistingInvalidReference(ref, f"It is the storage of {claimed_by}.")
                self._image_size(rbd, ioctx, ref, name)
                rbd.RBD().rename(ioctx, name, final)
            elif not names.exists(rbd, ioctx, final):
                raise ManageExistingInvalidReference(ref, "Specified RBD image does not exist.")
            names.ensure_size(rbd, ioctx, final, volume.size * GiB)
        return None

    def manage_existing_snapshot(
        self, snapshot: Snapshot, ref: object, claimed_by: str | None
    ) -> ModelUpdate:
        """Rename the snapshot to ``snapshot-<id>`` and protect it (clones need that)."""
        name = self.source_name(ref)
        final = names.snapshot_name(snapshot.id)
        with self.driver._session("manage the RBD snapshot") as (rbd, ioctx):
            image_name = names.volume_name(snapshot.volume_id)
            try:
                with opened(rbd, ioctx, image_name) as image:
                    present = names.snap_names(image)
                    if final not in present:
                        if claimed_by is not None:
                            raise ManageExistingInvalidReference(
                                ref, f"It is the storage of {claimed_by}."
                            )
                        if name not in present:
                            raise ManageExistingInvalidReference(
                                ref, "Specified snapshot does not exist."
                            )
                        image.rename_snap(name, final)
                    names.ensure_snapshot(rbd, image, final)
            except rbd.ImageNotFound:
                raise DriverError(
                    f"The snapshot's volume image {image_name} does not exist."
                ) from None
        return {"provider_location": f"{image_name}@{final}"}

    # Letting go -----------------------------------------------------------------------

    def unmanage(self, kind: str, object_id: str) -> str | None:
        """Nothing changes in the cluster; the name the data keeps (for the log)."""
        return self.storage_name(kind, object_id)

    # Listing --------------------------------------------------------------------------

    def manageable(self, kind: str) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = []
        with self.driver._session("list the RBD images") as (rbd, ioctx):
            for image_name in sorted(str(n) for n in rbd.RBD().list(ioctx)):
                try:
                    with opened(rbd, ioctx, image_name, read_only=True) as image:
                        if kind == VOLUME_KIND:
                            entries.append(self._volume_entry(image_name, image))
                        else:
                            entries += self._snapshot_entries(image_name, image)
                except rbd.ImageNotFound:
                    continue
        return entries

    @staticmethod
    def _volume_entry(image_name: str, image: Any) -> dict[str, Any]:
        reason = None
        if image_name.endswith(names.DELETED_SUFFIX):
            reason = "volume marked as deleted"
        elif list(image.watchers_list()):
            reason = "volume in use"
        return {
            "reference": {"source-name": image_name}, "size": _gb(int(image.size())),
            "safe_to_manage": reason is None, "reason_not_safe": reason,
            "cinder_id": None, "extra_info": None,
        }  # fmt: skip

    @staticmethod
    def _snapshot_entries(image_name: str, image: Any) -> list[dict[str, Any]]:
        entries = []
        for snap in image.list_snaps():
            name = str(snap["name"])
            reason = "used for clone snap" if name.endswith(names.CLONE_SNAP_SUFFIX) else None
            entries.append({
                "reference": {"source-name": name}, "size": _gb(int(snap["size"])),
                "safe_to_manage": reason is None, "reason_not_safe": reason,
                "cinder_id": None, "extra_info": None,
                "source_reference": {"source-name": image_name},
            })  # fmt: skip
        return entries
