"""The api role's side of group snapshots (3.14): a snapshot of each member, together.

Creating one records the group snapshot and a ``creating`` snapshot of each member volume
in one transaction (snapshot quota and the backend's capacity counted as for single
snapshots) and casts it to the group's backend, which takes them all back to back.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Connection

from firebrick.api.group_listing import CollectionQuery
from firebrick.api.group_schemas import validate
from firebrick.config import QuotaDefaults
from firebrick.context import RequestContext
from firebrick.db import group_snapshots, group_types, groups, quotas, services, volumes
from firebrick.db import snapshots as snapshots_db
from firebrick.db.engine import Database
from firebrick.domain import groups as domain
from firebrick.domain import quota, statuses
from firebrick.domain.errors import InvalidVolume
from firebrick.domain.groups import (
    GroupSnapshot,
    InvalidGroup,
    InvalidGroupSnapshot,
    reserved_type_refused,
)
from firebrick.domain.model import Volume
from firebrick.notifier import Notifier
from firebrick.rpc.bus import Bus, cast_or_defer, volume_topic

# Cinder reserves a volume in these for a snapshot of it only with force; a group snapshot
# takes both (its allow_in_use).
_SNAPSHOTTABLE = (statuses.AVAILABLE, statuses.IN_USE)


@dataclass
class GroupSnapshotAPI:
    db: Database
    bus: Bus
    notifier: Notifier
    host: str
    quota_defaults: QuotaDefaults

    def _project(self, ctx: RequestContext) -> str | None:
        return None if ctx.is_admin else ctx.project_id

    def _get(self, conn: Connection, ctx: RequestContext, group_snapshot_id: str) -> GroupSnapshot:
        found = group_snapshots.get(conn, group_snapshot_id, self._project(ctx))
        if group_types.is_reserved(conn, found.group_type_id):
            raise reserved_type_refused(found.group_type_id, snapshots=True)
        return found

    def get(self, ctx: RequestContext, group_snapshot_id: str) -> GroupSnapshot:
        with self.db.read() as conn:
            return self._get(conn, ctx, group_snapshot_id)

    def list_group_snapshots(
        self, ctx: RequestContext, query: CollectionQuery
    ) -> list[GroupSnapshot]:
        project = None if (ctx.is_admin and query.all_tenants) else ctx.project_id
        with self.db.read() as conn:
            reserved = group_types.find_by_name(conn, domain.DEFAULT_CGSNAPSHOT_TYPE)
            return group_snapshots.list_group_snapshots(
                conn, project_id=project, filters=query.filters, sort=query.sort,
                limit=query.limit, marker=query.marker, offset=query.offset,
                hidden_type=reserved.id if reserved else None,
            )  # fmt: skip

    def create(self, ctx: RequestContext, payload: object) -> GroupSnapshot:
        spec = validate("group_snapshot_create", payload)["group_snapshot"]
        group_snapshot_id = str(uuid.uuid4())
        stamp = volumes.now()
        with self.db.write() as conn:
            group = groups.get(conn, spec["group_id"], self._project(ctx), lock=True)
            if group_types.is_reserved(conn, group.group_type_id):
                raise reserved_type_refused(group.group_type_id, snapshots=True)
            if group.status not in (domain.AVAILABLE, domain.IN_USE) or group.backend is None:
                raise InvalidGroup(
                    f"Group {group.id} status must be available or in-use, but current status "
                    f"is: {group.status}."
                )
            members = groups.members(conn, group.id)
            for volume in members:
                _check_member(volume)
            deltas: dict[str, int] = {}
            for volume in members:
                for key, value in quota.snapshot_deltas(
                    volume.size, volume.volume_type_name
                ).items():
                    deltas[key] = deltas.get(key, 0) + value  # fmt: skip
            limits = quotas.limits(conn, ctx.project_id, quota.defaults_dict(self.quota_defaults))
            usage = quotas.usage(conn, ctx.project_id, lock=True)
            quota.check(deltas, limits, usage)
            name = spec.get("name")
            description = spec.get("description")
            group_snapshots.insert_group_snapshot(conn, {
                "id": group_snapshot_id, "group_id": group.id, "project_id": ctx.project_id,
                "user_id": ctx.user_id, "name": name, "description": description,
                "status": domain.CREATING, "group_type_id": group.group_type_id,
                "created_at": stamp,
            })  # fmt: skip
            for volume in members:
                snapshots_db.insert_snapshot(conn, {
                    "id": str(uuid.uuid4()), "volume_id": volume.id,
                    "project_id": ctx.project_id, "user_id": ctx.user_id,
                    "display_name": name, "display_description": description,
                    "volume_size": volume.size, "status": statuses.CREATING,
                    "progress": "0%", "created_at": stamp,
                    "group_snapshot_id": group_snapshot_id,
                }, {})  # fmt: skip
                assert volume.host is not None
                services.add_allocation(conn, volume.host, volume.size)
            if deltas:
                quotas.add_usage(conn, ctx.project_id, deltas)
            created = group_snapshots.get(conn, group_snapshot_id)
        cast_or_defer(self.bus, volume_topic(group.backend), "create_group_snapshot",
                      {"group_snapshot_id": group_snapshot_id})  # fmt: skip
        return created

    def delete(self, ctx: RequestContext, group_snapshot_id: str) -> None:
        with self.db.write() as conn:
            found = self._get(conn, ctx, group_snapshot_id)
            members = group_snapshots.members(conn, found.id)
            busy = groups.creating_from(conn, group_snapshot_id=found.id) or any(
                volumes.being_created_from(conn, s.id) for s in members
            )
            if busy or not group_snapshots.update_group_snapshot(
                conn,
                found.id,
                {"status": domain.DELETING},
                expected_status=(domain.AVAILABLE, domain.ERROR),
            ):
                raise InvalidGroupSnapshot(
                    "GroupSnapshot status must be available or error, and no Group can be "
                    "currently using it as source for its creation."
                )
            group_snapshots.set_member_status(conn, found.id, statuses.DELETING)
            group = groups.get(conn, found.group_id)
        assert group.backend is not None
        cast_or_defer(self.bus, volume_topic(group.backend), "delete_group_snapshot",
                      {"group_snapshot_id": found.id})  # fmt: skip

    def reset_status(self, ctx: RequestContext, group_snapshot_id: str, payload: object) -> None:
        status = validate("group_snapshot_reset_status", payload)["reset_status"]["status"]
        status = status.lower()
        publisher = f"groupSnapshotStatusUpdate.{self.host}"
        self.notifier.emit(publisher, "groupsnapshots.reset_status.start",
                           {"id": group_snapshot_id, "update": status})  # fmt: skip
        with self.db.write() as conn:
            found = self._get(conn, ctx, group_snapshot_id)
            group_snapshots.update_group_snapshot(conn, found.id, {"status": status})
        self.notifier.emit(publisher, "groupsnapshots.reset_status.end",
                           {"id": group_snapshot_id, "update": status})  # fmt: skip


def _check_member(volume: Volume) -> None:
    """Cinder's ``_create_snapshot_in_db_validate`` for each member, and its status."""
    if not volume.host:
        raise InvalidVolume(
            "The snapshot cannot be created because volume has not been scheduled to any host."
        )
    if volume.status == statuses.MAINTENANCE:
        raise InvalidVolume("The snapshot cannot be created when the volume is in maintenance "
                            "mode.")  # fmt: skip
    if volume.migration_status in ("migrating", "starting", "completing"):
        raise InvalidVolume("Snapshot cannot be created while volume is migrating.")
    if volume.status == statuses.ERROR:
        raise InvalidVolume("The snapshot cannot be created when the volume is in error status.")
    if volume.status not in _SNAPSHOTTABLE:
        raise InvalidVolume(
            f"Volume {volume.id} status must be {', '.join(_SNAPSHOTTABLE)}, but current "
            f"status is: {volume.status}."
        )
