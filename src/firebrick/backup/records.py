"""Deleting a backup's data, and importing a backup record (Cinder's delete_backup and
import_record)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from firebrick.backup.context import DELETE_FAILED, BackupContext
from firebrick.backup.drivers import ceph
from firebrick.backup.drivers.base import ObjectMissing
from firebrick.db import backups, quotas
from firebrick.domain import backups as domain
from firebrick.domain.backups import Backup, decode_record

LOG = logging.getLogger("firebrick.backup")

# What an imported record may set on the new row (Cinder keeps the rest as the API made it).
_IMPORTED = {
    "display_name": "display_name", "display_description": "display_description",
    "container": "container", "size": "size", "service_metadata": "service_metadata",
    "object_count": "object_count", "parent_id": "parent_id", "volume_id": "volume_id",
    "snapshot_id": "snapshot_id",
}  # fmt: skip


@dataclass
class BackupRecords:
    ctx: BackupContext

    def delete(self, backup_id: str) -> None:
        ctx = self.ctx
        with ctx.only_once(f"delete-{backup_id}") as first:
            if not first:
                return
            with ctx.db.read() as conn:
                found = backups.find(conn, backup_id)
                point_id, point_host = backups.point(conn, backup_id)
            if found is None or found.status != domain.DELETING:
                return
            LOG.info("Delete backup started, backup: %s.", backup_id)
            ctx.notify("delete.start", found)
            try:
                self._delete_objects(found)
            except Exception as exc:
                reason = f"Backup driver failed to delete backup: {exc}"
                LOG.error("Backup %s: %s", backup_id, reason)
                ctx.mark(found.id, {"status": domain.ERROR_DELETING, "fail_reason": reason})
                ctx.message(found, DELETE_FAILED, reason)
                return
            with ctx.db.write() as conn:
                if not backups.mark_deleted(conn, found.id):
                    return
                quotas.add_usage(conn, found.project_id, domain.deltas(found.size, count=-1))
                if found.parent_id:
                    backups.add_dependent(conn, found.parent_id, -1)
            if point_id and point_host:
                ctx.to_volume_service(point_host, "release_backup_point", point_id=point_id,
                                      volume_id=found.volume_id)  # fmt: skip
            LOG.info("Delete backup finished, backup %s deleted.", found.id)
            found.status = domain.DELETED
            ctx.notify("delete.end", found)

    def _delete_objects(self, found: Backup) -> None:
        store = self.ctx.store
        container = found.container or store.default_container(found.id)
        if isinstance(store, ceph.CephStore):
            if not found.service_metadata:
                store.discard(container, found.id)  # never finished: whatever it left
                return
            where = ceph.location(found.service_metadata)
            own = where["image"] == ceph.image_name(found.volume_id, found.id)
            store.remove_snapshot(container, where["image"], where["snapshot"], own=own)
            return
        if found.service_metadata:
            names = store.names(container, found.service_metadata)
            # The manifest goes first: a half-deleted backup is never taken as complete.
            names.sort(key=lambda n: not n.endswith("_metadata"))
            for name in names:
                store.delete(container, name)
        store.discard(container, found.id)

    def import_record(self, backup_id: str, backup_service: str, backup_url: str) -> None:
        ctx = self.ctx
        with ctx.db.read() as conn:
            found = backups.find(conn, backup_id)
        if found is None or found.status != domain.CREATING:
            return
        if backup_service != ctx.settings.service:
            self._fail(found, "Import record failed, cannot find backup service to perform "
                              f"the import. Request service {backup_service}.")  # fmt: skip
            return
        try:
            record = decode_record(backup_url)
        except Exception as exc:
            self._fail(found, str(exc))
            return
        if record.get("id") != backup_id:
            self._fail(found, f"Trying to import backup metadata from id {record.get('id')} "
                              f"into backup {backup_id}.")  # fmt: skip
            return
        values: dict[str, Any] = {
            column: record[key] for key, column in _IMPORTED.items() if key in record
        }
        values |= {"service": ctx.settings.service, "availability_zone": ctx.availability_zone,
                   "host": ctx.host}  # fmt: skip
        ctx.mark(found.id, values, expected=domain.CREATING)
        with ctx.db.read() as conn:
            imported = backups.find(conn, found.id)
        try:
            assert imported is not None
            if isinstance(ctx.store, ceph.CephStore):
                where = ceph.location(imported.service_metadata)
                container = imported.container or ctx.store.settings.pool
                if not ctx.store.has_snapshot(container, where["image"], where["snapshot"]):
                    raise ObjectMissing(f"{where['image']}@{where['snapshot']} is missing")
            else:
                ctx.manifest_of(imported)
        except (ObjectMissing, AssertionError, Exception) as exc:
            self._fail(found, f"the backup's data is not in the store: {exc}")
            return
        ctx.mark(found.id, {"status": domain.AVAILABLE}, expected=domain.CREATING)
        LOG.info("Import record id %s metadata from driver finished.", backup_id)

    def _fail(self, found: Backup, reason: str) -> None:
        LOG.error("Import of backup %s failed: %s", found.id, reason)
        self.ctx.mark(found.id, {"status": domain.ERROR, "fail_reason": reason})
