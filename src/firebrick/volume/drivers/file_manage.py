"""Existing files of a file backend brought under Firebrick's management, and let go.

A manage reference names one file of the backend's directory, ``{"source-name": "<name>"}``
(a bare string is read as the name, as Cinder's LVM driver does for snapshots). Cinder's
file-backed drivers (remotefs) accept ``source-name`` only, and so does this one. What
makes a file safe to take is in ``file_inspect.py``; a file that is not is refused with
the reason, and nothing changes.

The managed file is *renamed* to Firebrick's naming (``volume-<id>``, ``snapshot-<id>``),
as Cinder's LVM and remotefs drivers rename theirs: every other operation of the driver
builds its paths from ids only, so the rename keeps that invariant instead of spreading
recorded paths through it. The rename never replaces anything (a hard link, checked to be
the inspected file, then the old name removed), is repeatable after a crash, and is undone
if a later step fails. A volume then grows to its whole size in GiB; a snapshot is frozen
data and keeps its bytes. Unmanaging leaves the file exactly as it is, under its
Firebrick name.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any

from firebrick.domain.errors import DriverError
from firebrick.domain.model import Snapshot, Volume
from firebrick.durable import fsync_path
from firebrick.volume.drivers import qemu_img
from firebrick.volume.drivers.base import ModelUpdate
from firebrick.volume.drivers.file import FileDriver
from firebrick.volume.drivers.file_inspect import (
    SNAPSHOT_KIND,
    VOLUME_KIND,
    FileInspector,
    ManageExistingInvalidReference,
    open_files,
    source_name,
    storage_owner,
)
from firebrick.volume.drivers.file_store import CLONE_BASE, SNAPSHOT, VOLUME, GiB


class FileManage:
    """Manage and unmanage for one file backend (the driver's ``ExistingStorage``)."""

    def __init__(self, driver: FileDriver) -> None:
        self.driver = driver
        self.directory = driver.directory
        self.inspector = FileInspector(driver)

    def source_name(self, ref: object) -> str:
        return source_name(ref)

    def storage_owner(self, name: str) -> tuple[str, str] | None:
        return storage_owner(name)

    def get_size(self, ref: object, kind: str, claimed_by: str | None) -> int:
        """Cinder's ``manage_existing_get_size``: whole GiB, rounded up."""
        size = self.inspector.check(ref, kind, claimed_by).size_gb
        assert size is not None  # a file that passed the checks was measured
        return size

    # Taking over ----------------------------------------------------------------------

    def manage_existing(self, volume: Volume, ref: object, claimed_by: str | None) -> ModelUpdate:
        """Rename the file to ``volume-<id>`` and grow it to the volume's size."""
        final = self.driver.path(volume.id)
        with self.driver.store.chain_lock():
            renamed = self._adopt(ref, final, VOLUME_KIND, claimed_by, max_gb=volume.size)
            try:
                self.driver.store.grow(final, volume.size * GiB)
            except (OSError, DriverError) as exc:
                if renamed is not None:
                    self._give_back(final, renamed)
                raise DriverError(f"Could not grow {final.name}: {exc}") from exc
        return {"provider_location": final.name}

    def manage_existing_snapshot(
        self, snapshot: Snapshot, ref: object, claimed_by: str | None
    ) -> ModelUpdate:
        """Rename the file to ``snapshot-<id>``; images on it follow the new name."""
        final = self.driver.snapshot_path(snapshot.id)
        with self.driver.store.chain_lock():
            self._adopt(ref, final, SNAPSHOT_KIND, claimed_by, max_gb=None)
        return {"provider_location": final.name}

    def _adopt(
        self, ref: object, final: Path, kind: str, claimed_by: str | None, max_gb: int | None
    ) -> str | None:
        """Give the referenced file the name ``final``; the old name, or None when an
        earlier run already did (the call is repeated after a crash)."""
        name = source_name(ref)
        source = self.directory / name
        if name == final.name:
            return None
        if not os.path.lexists(source) and final.is_file() and not final.is_symlink():
            return None  # renamed by an earlier run that stopped before recording it
        found = self.inspector.check(ref, kind, claimed_by)
        if max_gb is not None and found.size_gb is not None and found.size_gb > max_gb:
            raise ManageExistingInvalidReference(ref, f"{name} grew past {max_gb} GiB.")
        try:
            os.link(source, final, follow_symlinks=False)
        except FileExistsError:
            if not _same_file(source, final):
                raise ManageExistingInvalidReference(ref, f"{final.name} already exists.") from None
        except OSError as exc:
            raise DriverError(f"Could not rename {name}: {os.strerror(exc.errno or 0)}") from exc
        st = os.lstat(final)
        if (st.st_dev, st.st_ino) != found.inode or not os.path.isfile(final) or final.is_symlink():
            os.unlink(final)  # swapped between inspection and link: keep nothing of it
            raise ManageExistingInvalidReference(ref, f"{name} changed while being managed.")
        for user in self.inspector.backings().get(name, []):
            # Metadata only: the backing's data is the same file under its new name.
            qemu_img.rebase_unsafe(self.directory / user, final.name)
        os.unlink(source)
        fsync_path(self.directory)
        return name

    def _give_back(self, final: Path, name: str) -> None:
        """Undo ``_adopt``: the file takes its old name again."""
        source = self.directory / name
        with suppress(FileExistsError):
            os.link(final, source, follow_symlinks=False)
        if _same_file(source, final):
            os.unlink(final)
            fsync_path(self.directory)

    # Letting go -----------------------------------------------------------------------

    def unmanage(self, kind: str, object_id: str) -> str | None:
        """Nothing changes on disk: the file stays, named as it is. Its name, so that the
        log says where the data is; None when there is no file (nothing to keep)."""
        path = self.storage_path(kind, object_id)
        return path.name if path.is_file() else None

    def storage_name(self, kind: str, object_id: str) -> str:
        return self.storage_path(kind, object_id).name

    def storage_path(self, kind: str, object_id: str) -> Path:
        if kind == VOLUME_KIND:
            return self.driver.path(object_id)
        return self.driver.snapshot_path(object_id)

    # Listing --------------------------------------------------------------------------

    def manageable(self, kind: str) -> list[dict[str, Any]]:
        """Cinder's manageable entries (detail keys) for every file that could be a ``kind``.

        Volumes: every file but snapshots and clone bases; snapshots: ``snapshot-*`` files.
        Whether a Firebrick name belongs to a known volume or snapshot is for the caller,
        who knows the records, to add.
        """
        in_use = open_files()
        backings = self.inspector.backings()
        entries = []
        for entry in self.inspector.entries():
            name = entry.name
            if entry.is_dir(follow_symlinks=False) or name.startswith(CLONE_BASE):
                continue
            if name.startswith(SNAPSHOT) != (kind == SNAPSHOT_KIND):
                continue
            found = self.inspector.inspect(name, kind, in_use=in_use, backings=backings)
            item: dict[str, Any] = {
                "reference": {"source-name": name}, "size": found.size_gb,
                "safe_to_manage": found.reason is None, "reason_not_safe": found.reason,
                "cinder_id": None, "extra_info": None,
            }  # fmt: skip
            if kind == SNAPSHOT_KIND:
                origin = self._origin(name, backings)
                item["source_reference"] = {"source-name": origin} if origin else None
            entries.append(item)
        return entries

    def _origin(self, name: str, backings: Mapping[str, list[str]]) -> str | None:
        """The volume file that sits (through later snapshots) on a qcow2 snapshot."""
        todo, seen = [name], {name}
        while todo:
            for user in backings.get(todo.pop(0), []):
                if user.startswith(VOLUME):
                    return user
                if user not in seen:
                    seen.add(user)
                    todo.append(user)
        return None


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return False
        raise
