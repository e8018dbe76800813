"""The api role's side of backups (Cinder's ``cinder/backup/api.py``): check, record, hand
the work to a backup service; never wait for one.

A create records the backup ``creating``, charges the ``backups`` and ``backup_gigabytes``
quota and moves the volume to ``backing-up`` (or the snapshot) in one transaction; a
restore moves the backup to ``restoring`` and the volume to ``restoring-backup``, or
creates a new volume from the backup (``volume_api``, the 3.47 path). The backup service
is one that is up and enabled, in the requested zone; a backup's own host when it is up.
"""

from __future__ import annotations

import logging
import random
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from firebrick import backup as role
from firebrick.api.backup_requests import BackupCreateRequest, BackupListQuery
from firebrick.config import QuotaDefaults
from firebrick.context import RequestContext
from firebrick.db import backups, messages, quotas, services, snapshots, volumes
from firebrick.db.engine import Database
from firebrick.domain import backups as domain
from firebrick.domain import quota, statuses
from firebrick.domain.backups import Backup, InvalidBackup, ServiceUnavailable, backup_usage
from firebrick.domain.errors import InvalidSnapshot, InvalidVolume
from firebrick.domain.model import Volume
from firebrick.notifier import Notifier
from firebrick.rpc.bus import Bus, cast_or_defer

LOG = logging.getLogger("firebrick.api")

NO_SERVICE = "VOLUME_BACKUP_013_024"


def pick_host(conn: Connection, zone: str | None, preferred: str | None, down: float) -> str | None:
    """A backup service host that is up and enabled (in ``zone`` if given), ``preferred``
    when it is one of them."""
    found = [
        s.host
        for s in services.list_services(conn, role.BINARY)
        if not s.disabled and s.is_up(down) and (not zone or s.availability_zone == zone)
    ]
    if preferred in found:
        return preferred
    return random.choice(found) if found else None


def restore_source(conn: Connection, ctx: RequestContext, backup_id: str) -> Backup:
    """The backup a new volume is made from (3.47), checked as Cinder checks it."""
    found = backups.get(conn, backup_id, None if ctx.is_admin else ctx.project_id)
    if found.status != domain.AVAILABLE:
        raise InvalidBackup(f"Backup {backup_id} status must be available (status is "
                            f"{found.status}).")  # fmt: skip
    return found


def claim_for_restore(conn: Connection, found: Backup, volume_id: str, down: float) -> None:
    """Mark the backup ``restoring`` into ``volume_id`` on a live backup service."""
    host = pick_host(conn, found.availability_zone, found.host, down)
    if host is None:
        raise ServiceUnavailable()
    changed = backups.update(conn, found.id, {"status": domain.RESTORING, "host": host,
                                              "restore_volume_id": volume_id},
                             expected=domain.AVAILABLE)  # fmt: skip
    if not changed:
        raise InvalidBackup("Backup status must be available")


@dataclass
class BackupAPI:
    db: Database
    bus: Bus
    notifier: Notifier
    host: str
    quota_defaults: QuotaDefaults
    service_down_time: float

    def _project(self, ctx: RequestContext) -> str | None:
        return None if ctx.is_admin else ctx.project_id

    def _cast(self, host: str, method: str, **payload: Any) -> None:
        cast_or_defer(self.bus, role.topic(host), method, payload)

    # Reading -------------------------------------------------------------------------

    def get(self, ctx: RequestContext, backup_id: str) -> Backup:
        with self.db.read() as conn:
            return backups.get(conn, backup_id, self._project(ctx))

    def list_backups(
        self, ctx: RequestContext, query: BackupListQuery
    ) -> tuple[list[Backup], int | None]:
        filters = dict(query.filters)
        project = None if (ctx.is_admin and query.all_tenants) else ctx.project_id
        if project is None and "project_id" in filters:
            project = str(filters.pop("project_id"))
        with self.db.read() as conn:
            found = backups.list_backups(
                conn, project_id=project, filters=filters, sort=query.sort, limit=query.limit,
                marker=query.marker, offset=query.offset,
            )  # fmt: skip
            total = (
                backups.count(conn, project_id=project, filters=filters)
                if query.with_count
                else None
            )
        return found, total

    # Creating ------------------------------------------------------------------------

    def create(self, ctx: RequestContext, req: BackupCreateRequest) -> Backup:
        backup_id = str(uuid.uuid4())
        stamp = volumes.now()
        with self.db.write() as conn:
            volume = volumes.get(conn, req.volume_id, self._project(ctx))
            snapshot_at = self._check_source(conn, ctx, req, volume)
            limits = quotas.limits(conn, ctx.project_id, quota.defaults_dict(self.quota_defaults))
            usage = quotas.usage(conn, ctx.project_id, lock=True)
            quota.check(domain.deltas(volume.size), limits, usage)
            parent = self._parent(conn, ctx, req, volume, snapshot_at)
            # Cinder keeps a posix incremental on its parent's host, where its parent is.
            host = pick_host(conn, req.availability_zone, parent.host if parent else None,
                             self.service_down_time)  # fmt: skip
            values: dict[str, Any] = {
                "id": backup_id, "project_id": ctx.project_id, "user_id": ctx.user_id,
                "volume_id": volume.id, "snapshot_id": req.snapshot_id, "host": host,
                "availability_zone": req.availability_zone, "display_name": req.name,
                "display_description": req.description, "container": req.container,
                "status": domain.CREATING, "size": volume.size,
                "parent_id": parent.id if parent else None,
                "data_timestamp": snapshot_at or stamp, "created_at": stamp,
            }  # fmt: skip
            if host is None:
                values |= {"status": domain.ERROR, "fail_reason": "Backup failed to schedule. "
                           "Service not found for creating backup."}  # fmt: skip
            else:
                self._hold_source(conn, req, volume)
            backups.insert_backup(conn, values, req.metadata)
            quotas.add_usage(conn, ctx.project_id, domain.deltas(volume.size))
            if host is None:
                messages.add(conn, project_id=ctx.project_id, event_id=NO_SERVICE,
                             resource_uuid=backup_id, resource_type="VOLUME_BACKUP",
                             detail="no backup service is up")  # fmt: skip
            made = backups.get(conn, backup_id)
        LOG.info("Creating backup of volume %s in container %s", volume.id, req.container)
        if host is not None:
            self._cast(host, "create_backup", backup_id=backup_id)
        return made

    def _check_source(
        self, conn: Connection, ctx: RequestContext, req: BackupCreateRequest, volume: Volume
    ) -> datetime | None:
        """The snapshot's creation time for a backup of a snapshot; refusals as Cinder's."""
        if req.snapshot_id:
            snapshot = snapshots.get(conn, req.snapshot_id, self._project(ctx))
            if snapshot.volume_id != volume.id:
                raise InvalidVolume(f"Volume {volume.id} does not match with snapshot.volume_id "
                                    f"{snapshot.volume_id}.")  # fmt: skip
            if snapshot.status != statuses.AVAILABLE:
                raise InvalidSnapshot("Snapshot to be backed up must be available, but the "
                                      f'current status is "{snapshot.status}".')  # fmt: skip
            return snapshot.created_at
        if volume.status not in (statuses.AVAILABLE, statuses.IN_USE):
            raise InvalidVolume("Volume to be backed up must be available or in-use, but the "
                                f'current status is "{volume.status}".')  # fmt: skip
        if volume.status == statuses.IN_USE and not req.force:
            raise InvalidVolume("Backing up an in-use volume must use the force flag.")
        return None

    def _parent(
        self,
        conn: Connection,
        ctx: RequestContext,
        req: BackupCreateRequest,
        volume: Volume,
        snapshot_at: datetime | None,
    ) -> Backup | None:
        if not req.incremental:
            return None
        candidates = [b for b in backups.of_volume(conn, volume.id, volume.project_id)
                      if b.project_id == ctx.project_id]  # fmt: skip
        parent = domain.choose_parent(candidates, snapshot_at)
        if parent is None:
            raise InvalidBackup("No backups available to do an incremental backup.")
        return parent

    def _hold_source(self, conn: Connection, req: BackupCreateRequest, volume: Volume) -> None:
        if req.snapshot_id:
            if not snapshots.update(conn, req.snapshot_id,
                                    {"status": domain.SNAPSHOT_BACKING_UP},
                                    expected_status=statuses.AVAILABLE):  # fmt: skip
                raise InvalidSnapshot("Snapshot to be backed up must be available.")
            return
        if not volumes.update(conn, volume.id,
                              {"status": domain.VOLUME_BACKING_UP,
                               "previous_status": volume.status},
                              expected={"status": volume.status}):  # fmt: skip
            raise InvalidVolume("Volume to be backed up must be available or in-use.")

    # Changing ------------------------------------------------------------------------

    def update(self, ctx: RequestContext, backup_id: str, changes: dict[str, Any]) -> Backup:
        with self.db.write() as conn:
            backups.get(conn, backup_id, self._project(ctx))
            metadata = changes.pop("metadata", None)
            if changes:
                backups.update(conn, backup_id, changes)
            if metadata is not None:
                backups.set_metadata(conn, backup_id, metadata)
            return backups.get(conn, backup_id)

    def delete(self, ctx: RequestContext, backup_id: str, *, force: bool = False) -> None:
        with self.db.write() as conn:
            found = backups.get(conn, backup_id, self._project(ctx))
            if not force and found.status not in (domain.AVAILABLE, domain.ERROR):
                raise InvalidBackup("Backup status must be available or error")
            if backups.dependents(conn, backup_id):
                raise InvalidBackup("Incremental backups exist for this backup.")
            host = pick_host(conn, found.availability_zone, found.host, self.service_down_time)
            if host is None:
                raise ServiceUnavailable()
            backups.update(conn, backup_id, {"status": domain.DELETING, "host": host})
        LOG.info("Delete backup with id: %s.", backup_id)
        self._cast(host, "delete_backup", backup_id=backup_id)

    def reset_status(self, ctx: RequestContext, backup_id: str, status: str) -> None:
        with self.db.write() as conn:
            found = backups.get(conn, backup_id, self._project(ctx))
            self._notify("reset_status.start", found)
            backups.update(conn, backup_id, {"status": status})
            changed = backups.get(conn, backup_id)
        LOG.info("Reset backup status started, backup_id: %s, status: %s.", backup_id, status)
        self._notify("reset_status.end", changed)

    def _notify(self, event: str, found: Backup) -> None:
        self.notifier.emit(f"backup.{self.host}", f"backup.{event}", backup_usage(found))

    # Restoring -----------------------------------------------------------------------

    def restore_onto(self, ctx: RequestContext, backup_id: str, volume_id: str) -> Volume:
        """Restore into an existing volume: it must be available and large enough."""
        with self.db.write() as conn:
            found = backups.get(conn, backup_id, self._project(ctx))
            if found.status != domain.AVAILABLE:
                raise InvalidBackup("Backup status must be available")
            volume = volumes.get(conn, volume_id, self._project(ctx))
            if volume.status != statuses.AVAILABLE:
                raise InvalidVolume("Volume to be restored to must be available")
            if found.size > volume.size:
                raise InvalidVolume(f"volume size {volume.size} is too small to restore backup "
                                    f"of size {found.size}.")  # fmt: skip
            claim_for_restore(conn, found, volume.id, self.service_down_time)
            if not volumes.update(conn, volume.id, {"status": domain.VOLUME_RESTORING},
                                  expected={"status": statuses.AVAILABLE}):  # fmt: skip
                raise InvalidVolume("Volume to be restored to must be available")
            host = backups.get(conn, backup_id).host
        LOG.info("Overwriting volume %s with restore of backup %s", volume_id, backup_id)
        assert host is not None
        self._cast(host, "restore_backup", backup_id=backup_id, volume_id=volume_id)
        return volume

    # Records -------------------------------------------------------------------------

    def export_record(self, ctx: RequestContext, backup_id: str) -> dict[str, str]:
        found = self.get(ctx, backup_id)
        if found.status != domain.AVAILABLE:
            raise InvalidBackup(f"Backup status must be available and not {found.status}.")
        return {"backup_service": found.service or "",
                "backup_url": domain.encode_record(found)}  # fmt: skip

    def import_record(self, ctx: RequestContext, service: str, url: str) -> Backup:
        record = domain.decode_record(url)
        backup_id = str(record["id"])
        try:
            size = int(record["size"])
        except (TypeError, ValueError):
            raise InvalidBackup("Provided backup record has an invalid size") from None
        with self.db.write() as conn:
            host = pick_host(conn, None, None, self.service_down_time)
            if host is None:
                raise ServiceUnavailable(service)
            existing = backups.find_any(conn, backup_id)
            if existing is not None and existing.status != domain.DELETED:
                raise InvalidBackup("Backup already exists in database.")
            limits = quotas.limits(conn, ctx.project_id, quota.defaults_dict(self.quota_defaults))
            usage = quotas.usage(conn, ctx.project_id, lock=True)
            quota.check(domain.deltas(size), limits, usage)
            values = {
                "user_id": ctx.user_id,
                "project_id": ctx.project_id,
                "volume_id": domain.IMPORT_VOLUME_ID,
                "status": domain.CREATING,
                "size": size,
                "host": host,
                "display_name": record.get("display_name"),
            }
            if existing is not None:
                backups.revive(conn, backup_id, values)
                backups.set_metadata(conn, backup_id, {})
            else:
                backups.insert_backup(conn, {**values, "id": backup_id,
                                             "created_at": volumes.now()})  # fmt: skip
            quotas.add_usage(conn, ctx.project_id, domain.deltas(size))
            made = backups.get(conn, backup_id)
        self._cast(host, "import_record", backup_id=backup_id, backup_service=service,
                   backup_url=url)  # fmt: skip
        return made
