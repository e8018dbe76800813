"""``POST /groups/action {"create-from-src": ...}`` (3.14): a group from a group snapshot
(a new volume from each member snapshot) or from another group (a clone of each member).

As in Cinder, the new group takes its source's type, volume types, zone and backend; its
volumes are recorded with it in one transaction (quota, and capacity on the backend's
pool, checked there) and the backend's volume service makes them all.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection

from firebrick.api.group_api import GroupAPI, stripped
from firebrick.api.group_schemas import validate
from firebrick.context import RequestContext
from firebrick.db import group_snapshots, group_types, groups, placement, quotas, services
from firebrick.db import volumes as volumes_db
from firebrick.domain import groups as domain
from firebrick.domain import quota, statuses
from firebrick.domain.errors import InvalidSnapshot, InvalidVolume
from firebrick.domain.groups import Group, InvalidGroup, reserved_type_refused
from firebrick.domain.model import RequestSpec, Snapshot, Volume
from firebrick.rpc.bus import cast_or_defer, volume_topic
from firebrick.scheduler.filter_scheduler import FilterScheduler

# (what the new volume copies: a snapshot or a volume, the volume it comes from)
Source = tuple[Snapshot | Volume, Volume]


def _from_group_snapshot(
    conn: Connection, api: GroupAPI, ctx: RequestContext, group_snapshot_id: str
) -> tuple[Group, list[Source]]:
    group_snapshot = group_snapshots.get(conn, group_snapshot_id, api.project_scope(ctx))
    source_group = groups.get(conn, group_snapshot.group_id, api.project_scope(ctx))
    if group_types.is_reserved(conn, group_snapshot.group_type_id):
        raise reserved_type_refused(group_snapshot.group_type_id)
    members = group_snapshots.members(conn, group_snapshot.id)
    if not members:
        raise InvalidGroup("Group snapshot is empty. No group will be created.")
    sources: list[Source] = []
    for snapshot in members:
        if snapshot.status != statuses.AVAILABLE:
            raise InvalidSnapshot("Originating snapshot status must be one of 'available' values")
        sources.append((snapshot, volumes_db.get(conn, snapshot.volume_id)))
    return source_group, sources


def _from_group(
    conn: Connection, api: GroupAPI, ctx: RequestContext, source_group_id: str
) -> tuple[Group, list[Source]]:
    source_group = groups.get(conn, source_group_id, api.project_scope(ctx))
    if group_types.is_reserved(conn, source_group.group_type_id):
        raise reserved_type_refused(source_group.group_type_id)
    members = groups.members(conn, source_group.id)
    if not members:
        raise InvalidGroup("Source Group is empty. No group will be created.")
    for volume in members:
        if volume.status not in (statuses.AVAILABLE, statuses.IN_USE):
            raise InvalidVolume(
                "Originating source volume status must be one of 'available, in-use' values"
            )
    return source_group, [(volume, volume) for volume in members]


def create_from_src(
    api: GroupAPI, scheduler: FilterScheduler, ctx: RequestContext, payload: object
) -> Group:
    spec = validate("group_create_from_src", payload)["create-from-src"]
    group_id = str(uuid.uuid4())
    stamp = volumes_db.now()
    with api.db.write() as conn:
        if spec.get("group_snapshot_id"):
            source_group, sources = _from_group_snapshot(conn, api, ctx, spec["group_snapshot_id"])
        else:
            source_group, sources = _from_group(conn, api, ctx, spec["source_group_id"])
        sizes = [_size(item) for item, _parent in sources]
        deltas: dict[str, int] = {"groups": 1}
        for size, (_item, parent) in zip(sizes, sources, strict=True):
            for key, value in quota.volume_deltas(size, parent.volume_type_name).items():
                deltas[key] = deltas.get(key, 0) + value
        api.check_quota(conn, ctx, deltas)
        host = source_group.host
        pool = placement.lock_pool(conn, host) if host else None
        room = RequestSpec(volume_id=group_id, size=sum(sizes), operation="create_group")
        if pool is None or scheduler.explain([pool], room)[pool.name] is not None:
            raise InvalidGroup(f"No valid host to create group {group_id}.")
        groups.insert_group(conn, {
            "id": group_id, "project_id": ctx.project_id, "user_id": ctx.user_id,
            "name": stripped(spec.get("name")),
            "description": stripped(spec.get("description")),
            "status": domain.CREATING, "availability_zone": source_group.availability_zone,
            "group_type_id": source_group.group_type_id, "host": host,
            "group_snapshot_id": spec.get("group_snapshot_id"),
            "source_group_id": spec.get("source_group_id"),
            "replication_status": "disabled", "created_at": stamp,
        }, source_group.volume_type_ids)  # fmt: skip
        for size, (item, parent) in zip(sizes, sources, strict=True):
            volumes_db.insert_volume(conn, _volume_values(ctx, group_id, source_group, size,
                                                          item, parent, stamp), {})  # fmt: skip
        quotas.add_usage(conn, ctx.project_id, deltas)
        assert host is not None
        services.add_allocation(conn, host, sum(sizes))
        created = groups.get(conn, group_id)
    cast_or_defer(api.bus, volume_topic(host.split("#", 1)[0]), "create_group_from_src",
                  {"group_id": group_id})  # fmt: skip
    return created


def _size(item: Snapshot | Volume) -> int:
    return item.volume_size if isinstance(item, Snapshot) else item.size


def _volume_values(
    ctx: RequestContext,
    group_id: str,
    source_group: Group,
    size: int,
    item: Snapshot | Volume,
    parent: Volume,
    stamp: Any,
) -> dict[str, Any]:
    from_snapshot = isinstance(item, Snapshot)
    return {
        "id": str(uuid.uuid4()), "project_id": ctx.project_id, "user_id": ctx.user_id,
        "display_name": None, "display_description": None, "size": size,
        "status": statuses.CREATING, "attach_status": statuses.DETACHED,
        "availability_zone": source_group.availability_zone,
        "volume_type_id": parent.volume_type_id, "host": source_group.host,
        "snapshot_id": item.id if from_snapshot else None,
        "source_volid": None if from_snapshot else item.id,
        "bootable": False, "multiattach": parent.multiattach, "replication_status": None,
        "created_at": stamp, "scheduled_at": stamp, "scheduling_attempts": 1,
        "task_state": "scheduled", "group_id": group_id,
    }  # fmt: skip
