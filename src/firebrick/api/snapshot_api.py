"""The api role's side of snapshots: validate, record, hand over to the volume's backend."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from firebrick.api.group_members import refuse_group_snapshot_member_delete
from firebrick.api.listing import ListQuery
from firebrick.api.microversion import APIVersion
from firebrick.api.validation import SnapshotCreateRequest, VolumeUpdateRequest
from firebrick.config import QuotaDefaults
from firebrick.context import RequestContext
from firebrick.db import idempotency, quotas, services, snapshots, volumes
from firebrick.db.engine import Database
from firebrick.domain import migration, quota, statuses
from firebrick.domain.errors import (
    Invalid,
    InvalidInput,
    InvalidSnapshot,
    InvalidVolume,
    VolumeNotFound,
)
from firebrick.domain.model import Snapshot
from firebrick.notifier import Notifier, snapshot_usage
from firebrick.rpc.bus import Bus, cast_or_defer, volume_topic

SNAPSHOT_IN_USE = APIVersion(3, 66)
# Cinder's SnapshotStatus.ALL, what an admin may reset a snapshot to.
SNAPSHOT_STATUSES = (
    "error", "available", "creating", "deleting", "deleted", "updating", "error_deleting",
    "unmanaging", "backing-up", "restoring",
)  # fmt: skip
UPDATE_STATUS_MAP = {
    statuses.CREATING: (statuses.CREATING, statuses.AVAILABLE, statuses.ERROR),
    statuses.DELETING: (statuses.DELETING, statuses.ERROR_DELETING),
}


@dataclass
class SnapshotAPI:
    db: Database
    bus: Bus
    notifier: Notifier
    host: str
    quota_defaults: QuotaDefaults

    def _project(self, ctx: RequestContext) -> str | None:
        return None if ctx.is_admin else ctx.project_id

    def get(self, ctx: RequestContext, snapshot_id: str) -> Snapshot:
        with self.db.read() as conn:
            return snapshots.get(conn, snapshot_id, self._project(ctx))

    def list_snapshots(
        self, ctx: RequestContext, query: ListQuery
    ) -> tuple[list[Snapshot], int | None]:
        project = None if (ctx.is_admin and query.all_tenants) else ctx.project_id
        with self.db.read() as conn:
            found = snapshots.list_snapshots(
                conn, project_id=project, filters=query.filters, sort=query.sort,
                limit=query.limit, marker=query.marker, offset=query.offset,
            )  # fmt: skip
            total = (
                snapshots.count(conn, project_id=project, filters=query.filters)
                if query.with_count
                else None
            )
        return found, total

    def create(
        self,
        ctx: RequestContext,
        req: SnapshotCreateRequest,
        version: APIVersion,
        idempotency_key: str | None = None,
    ) -> Snapshot:
        try:
            return self._create(ctx, req, version, idempotency_key)
        except IntegrityError:
            # A concurrent twin with the same key committed first: answer with its snapshot.
            found = (
                idempotency.twin(
                    self.db, ctx.project_id, "snapshot", idempotency_key, snapshots.get
                )
                if idempotency_key
                else None
            )
            if found is None:
                raise
            return found

    def _create(
        self,
        ctx: RequestContext,
        req: SnapshotCreateRequest,
        version: APIVersion,
        idempotency_key: str | None,
    ) -> Snapshot:
        if req.volume_id is None:
            raise VolumeNotFound("None")
        snapshot_id = str(uuid.uuid4())
        stamp = volumes.now()
        with self.db.write() as conn:
            digest = idempotency.fingerprint(req) if idempotency_key else None
            if idempotency_key:
                earlier = idempotency.replay(
                    conn, ctx.project_id, "snapshot", idempotency_key, digest, snapshots.find
                )
                if earlier is not None:
                    return earlier
            volume = volumes.get(conn, req.volume_id, self._project(ctx))
            services.assert_not_frozen(conn, volume.host)
            if version >= SNAPSHOT_IN_USE and req.force is False:
                raise InvalidInput(
                    "The 'force' flag is not supported from microversion 3.66 on: "
                    "snapshots of in-use volumes need no force."
                )
            allowed = {statuses.AVAILABLE}
            if req.force or version >= SNAPSHOT_IN_USE:
                allowed.add(statuses.IN_USE)
            if volume.status not in allowed:
                raise InvalidVolume(
                    f"Volume {volume.id} status must be available, but current status is: "
                    f"{volume.status}."
                )
            if volume.host is None:
                raise InvalidVolume(f"Volume {volume.id} is not placed on a backend yet.")
            if migration.is_migrating(volume.migration_status):
                raise InvalidVolume("Snapshot cannot be created while volume is migrating.")
            limits = quotas.limits(conn, ctx.project_id, quota.defaults_dict(self.quota_defaults))
            usage = quotas.usage(conn, ctx.project_id, lock=True)
            quota.check(quota.snapshot_deltas(volume.size, volume.volume_type_name), limits, usage)
            values = {
                "id": snapshot_id, "volume_id": volume.id, "project_id": ctx.project_id,
                "user_id": ctx.user_id, "display_name": req.name,
                "display_description": req.description, "volume_size": volume.size,
                "status": statuses.CREATING, "progress": "0%", "created_at": stamp,
            }  # fmt: skip
            snapshots.insert_snapshot(conn, values, req.metadata)
            quotas.add_usage(
                conn, ctx.project_id, quota.snapshot_deltas(volume.size, volume.volume_type_name)
            )
            services.add_allocation(conn, volume.host, volume.size)
            if idempotency_key:
                idempotency.remember(
                    conn, ctx.project_id, "snapshot", idempotency_key, snapshot_id, digest
                )
        backend = volume.host.split("#", 1)[0]
        cast_or_defer(self.bus, volume_topic(backend), "create_snapshot",
                      {"snapshot_id": snapshot_id})  # fmt: skip
        return Snapshot(
            id=snapshot_id, volume_id=volume.id, project_id=ctx.project_id,
            user_id=ctx.user_id, volume_size=volume.size, status=statuses.CREATING,
            created_at=stamp, name=req.name, description=req.description,
            metadata=dict(req.metadata),
        )  # fmt: skip

    def update(self, ctx: RequestContext, snapshot_id: str, req: VolumeUpdateRequest) -> Snapshot:
        changes = req.changes()
        values = {}
        if "name" in changes:
            values["display_name"] = changes["name"]
        if "description" in changes:
            values["display_description"] = changes["description"]
        with self.db.write() as conn:
            before = snapshots.get(conn, snapshot_id, self._project(ctx))
            self.notifier.emit(f"snapshot.{self.host}", "snapshot.update.start",
                               snapshot_usage(before, None))  # fmt: skip
            if values:
                snapshots.update(conn, snapshot_id, values)
            updated = snapshots.get(conn, snapshot_id)
        self.notifier.emit(f"snapshot.{self.host}", "snapshot.update.end",
                           snapshot_usage(updated, None))  # fmt: skip
        return updated

    def delete(self, ctx: RequestContext, snapshot_id: str, *, force: bool = False) -> None:
        with self.db.write() as conn:
            snapshot = snapshots.get(conn, snapshot_id, self._project(ctx))
            services.assert_not_frozen(conn, volumes.get(conn, snapshot.volume_id).host)
            refuse_group_snapshot_member_delete(snapshot, force=force)
            if volumes.being_created_from(conn, snapshot_id):
                raise InvalidSnapshot(
                    f"Snapshot {snapshot_id} is busy: a volume is being created from it."
                )
            # Forced, any status goes (Cinder's): also deleting again, creating, error_*.
            allowed = None if force else (statuses.AVAILABLE, statuses.ERROR)
            if not snapshots.update(conn, snapshot_id, {"status": statuses.DELETING},
                                    expected_status=allowed):  # fmt: skip
                raise InvalidSnapshot(
                    f"Snapshot status must be available or error, but is {snapshot.status}."
                )
            volume = volumes.get(conn, snapshot.volume_id)
        assert volume.host is not None
        cast_or_defer(self.bus, volume_topic(volume.host.split("#", 1)[0]), "delete_snapshot",
                      {"snapshot_id": snapshot_id})  # fmt: skip

    def reset_status(self, ctx: RequestContext, snapshot_id: str, status: str) -> None:
        """Cinder's admin reset: any snapshot status, with reset_status notifications."""
        wanted = status.lower()
        if wanted not in SNAPSHOT_STATUSES:
            raise InvalidInput(
                f"Snapshot status: {status} is invalid, valid statuses are: "
                f"{', '.join(SNAPSHOT_STATUSES)}."
            )
        publisher = f"snapshot.{self.host}"
        with self.db.write() as conn:
            before = snapshots.get(conn, snapshot_id)
            self.notifier.emit(publisher, "snapshot.reset_status.start",
                               snapshot_usage(before, None))  # fmt: skip
            snapshots.update(conn, snapshot_id, {"status": wanted})
            after = snapshots.get(conn, snapshot_id)
        self.notifier.emit(publisher, "snapshot.reset_status.end", snapshot_usage(after, None))

    def update_status(self, ctx: RequestContext, snapshot_id: str, body: object) -> None:
        """``os-update_snapshot_status``: what a driver reports of a snapshot in progress.

        Cinder's transitions: creating → creating, available or error; deleting →
        deleting or error_deleting; an optional integer ``progress`` percentage.
        """
        if not isinstance(body, dict) or "status" not in body:
            raise Invalid("'status' is a required property")
        extra = sorted(set(body) - {"status", "progress"})
        if extra:
            raise Invalid(f"Additional properties are not allowed ({', '.join(extra)} unexpected)")
        status, progress = body["status"], body.get("progress")
        if not isinstance(status, str):
            raise Invalid(f"Invalid input for field/attribute status. Value: {status!r}.")
        values: dict[str, str] = {"status": status}
        if progress:
            values["progress"] = _progress(progress)
        with self.db.write() as conn:
            current = snapshots.get(conn, snapshot_id, self._project(ctx))
            allowed = UPDATE_STATUS_MAP.get(current.status)
            if allowed is None:
                raise Invalid(
                    f"Snapshot status {current.status} not allowed for update_snapshot_status"
                )
            if status not in allowed:
                raise Invalid(
                    f"Provided snapshot status {status} not allowed for snapshot with status "
                    f"{current.status}."
                )
            snapshots.update(conn, snapshot_id, values, expected_status=current.status)


def _progress(value: object) -> str:
    """Cinder's ``progress`` format: an integer percentage from 0% to 100%."""
    if not isinstance(value, str):
        raise InvalidInput("progress must be an integer percentage")
    digits = value[:-1]
    if not (digits.isascii() and digits.lstrip("-").isdigit() and len(digits) <= 4):
        raise InvalidInput("progress must be an integer percentage")
    if not 0 <= int(digits) <= 100 or value[-1] != "%":
        raise InvalidInput("progress must be an integer percentage between 0 and 100")
    return value
