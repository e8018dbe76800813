"""Reading and writing group rows, their volume types and their member volumes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from firebrick.db import paging, volumes
from firebrick.db.schema import group_snapshots, group_volume_types, groups
from firebrick.db.schema import volumes as volumes_table
from firebrick.domain.groups import CREATING, DELETING, Group, GroupNotFound
from firebrick.domain.model import Volume

COLUMNS = {name: groups.c[name] for name in (
    "id", "name", "description", "status", "availability_zone", "host", "group_type_id",
    "project_id", "user_id", "group_snapshot_id", "source_group_id", "replication_status",
    "created_at", "updated_at",
)}  # fmt: skip

_TYPES_OF = (
    select(group_volume_types.c.group_id, group_volume_types.c.volume_type_id)
    .where(group_volume_types.c.group_id.in_(bindparam("ids", expanding=True)))
    .order_by(group_volume_types.c.group_id, group_volume_types.c.position)
)


def _types(conn: Connection, group_ids: Sequence[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {i: [] for i in group_ids}
    if group_ids:
        for group_id, type_id in conn.execute(_TYPES_OF, {"ids": list(group_ids)}):
            found[group_id].append(type_id)
    return found


def _to_group(row: Row[Any], type_ids: list[str]) -> Group:
    m = row._mapping
    return Group(
        id=m["id"], project_id=m["project_id"], user_id=m["user_id"], status=m["status"],
        group_type_id=m["group_type_id"], created_at=m["created_at"], name=m["name"],
        description=m["description"], availability_zone=m["availability_zone"],
        host=m["host"], group_snapshot_id=m["group_snapshot_id"],
        source_group_id=m["source_group_id"], replication_status=m["replication_status"],
        volume_type_ids=type_ids, updated_at=m["updated_at"], task_state=m["task_state"],
    )  # fmt: skip


def insert_group(conn: Connection, values: Mapping[str, Any], volume_type_ids: list[str]) -> None:
    conn.execute(insert(groups), dict(values))
    conn.execute(
        insert(group_volume_types),
        [{"group_id": values["id"], "volume_type_id": type_id, "position": i}
         for i, type_id in enumerate(volume_type_ids)],
    )  # fmt: skip


def get(
    conn: Connection, group_id: str, project_id: str | None = None, *, lock: bool = False
) -> Group:
    """The group, or GroupNotFound (also when it belongs to another project).

    ``lock``: its row stays locked until the transaction ends (PostgreSQL; SQLite's write
    transaction holds the whole database), so that membership changes, deletes, group
    snapshots and new members of one group happen one after another.
    """
    query = select(groups).where(groups.c.id == group_id)
    if project_id is not None:
        query = query.where(groups.c.project_id == project_id)
    if lock:
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise GroupNotFound(group_id)
    return _to_group(row, _types(conn, [group_id])[group_id])


def find(conn: Connection, group_id: str) -> Group | None:
    try:
        return get(conn, group_id)
    except GroupNotFound:
        return None


def _filters(filters: Mapping[str, Any]) -> list[ColumnElement[bool]] | None:
    """Exact matches on group columns; None when a key is no column (Cinder finds nothing)."""
    clauses: list[ColumnElement[bool]] = []
    for key, value in filters.items():
        if key not in COLUMNS:
            return None
        clauses.append(COLUMNS[key] == value)
    return clauses


def list_groups(
    conn: Connection,
    *,
    project_id: str | None,
    filters: Mapping[str, Any],
    sort: Sequence[tuple[str, str]],
    limit: int | None,
    marker: str | None,
    offset: int = 0,
    hidden_type: str | None = None,
) -> list[Group]:
    """A page of groups; ``hidden_type``: a group type whose groups are left out."""
    clauses = _filters(filters)
    if clauses is None:
        return []
    if project_id is not None:
        clauses.append(groups.c.project_id == project_id)
    if hidden_type is not None:
        clauses.append(groups.c.group_type_id != hidden_type)
    keys = [(COLUMNS[k], d) for k, d in sort]
    keys.append((groups.c.id, keys[-1][1] if keys else "desc"))
    if marker:
        clauses.append(paging.after_marker(conn, groups, marker, keys))
    rows = paging.fetch(conn, select(groups), clauses, keys, limit, offset)
    types = _types(conn, [r.id for r in rows])
    return [_to_group(r, types[r.id]) for r in rows]


def update_group(
    conn: Connection,
    group_id: str,
    values: Mapping[str, Any],
    *,
    expected_status: str | Iterable[str] | None = None,
) -> bool:
    """Set ``values``; with ``expected_status`` only if the group is in (one of) it."""
    query = update(groups).where(groups.c.id == group_id)
    if isinstance(expected_status, str):
        query = query.where(groups.c.status == expected_status)
    elif expected_status is not None:
        query = query.where(groups.c.status.in_(list(expected_status)))
    return conn.execute(query.values(updated_at=volumes.now(), **values)).rowcount > 0


def remove(conn: Connection, group_id: str) -> None:
    conn.execute(delete(group_volume_types).where(group_volume_types.c.group_id == group_id))
    conn.execute(delete(groups).where(groups.c.id == group_id))


def uses_volume_type(conn: Connection, volume_type_id: str) -> bool:
    query = select(group_volume_types.c.group_id).where(
        group_volume_types.c.volume_type_id == volume_type_id
    )
    return conn.execute(query.limit(1)).first() is not None


# Members -----------------------------------------------------------------------------


def members(conn: Connection, group_id: str) -> list[Volume]:
    """The group's volumes, oldest first."""
    return volumes.list_volumes(
        conn, project_id=None, filters={"group_id": group_id},
        sort=[("created_at", "asc")], limit=None, marker=None,
    )  # fmt: skip


def member_ids(conn: Connection, group_ids: Sequence[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {i: [] for i in group_ids}
    if group_ids:
        query = (
            select(volumes_table.c.group_id, volumes_table.c.id)
            .where(volumes_table.c.group_id.in_(list(group_ids)))
            .order_by(volumes_table.c.created_at, volumes_table.c.id)
        )
        for group_id, volume_id in conn.execute(query):
            found[group_id].append(volume_id)
    return found


def set_group_of(conn: Connection, volume_ids: Iterable[str], group_id: str | None) -> None:
    ids = list(volume_ids)
    if ids:
        conn.execute(
            update(volumes_table)
            .where(volumes_table.c.id.in_(ids))
            .values(group_id=group_id, updated_at=volumes.now())
        )


def has_group_snapshots(conn: Connection, group_id: str) -> bool:
    query = select(group_snapshots.c.id).where(group_snapshots.c.group_id == group_id)
    return conn.execute(query.limit(1)).first() is not None


def creating_from(
    conn: Connection, *, source_group_id: str | None = None, group_snapshot_id: str | None = None
) -> bool:
    """Whether a group is being created from this group or group snapshot (holds it busy)."""
    query = select(groups.c.id).where(groups.c.status == CREATING)
    if source_group_id is not None:
        query = query.where(groups.c.source_group_id == source_group_id)
    if group_snapshot_id is not None:
        query = query.where(groups.c.group_snapshot_id == group_snapshot_id)
    return conn.execute(query.limit(1)).first() is not None


# Recovery ----------------------------------------------------------------------------


def _on_backend(backend: str) -> ColumnElement[bool]:
    return or_(groups.c.host.startswith(f"{backend}#", autoescape=True), groups.c.host == backend)


def on_backend(conn: Connection, backend: str, statuses: Iterable[str]) -> list[Group]:
    """Groups placed on ``backend`` (``host@backend``) in one of ``statuses``."""
    query = select(groups).where(_on_backend(backend), groups.c.status.in_(list(statuses)))
    rows = conn.execute(query).all()
    types = _types(conn, [r.id for r in rows])
    return [_to_group(r, types[r.id]) for r in rows]


def stale(conn: Connection, statuses: Iterable[str], before: datetime) -> list[Group]:
    """Groups in ``statuses`` whose row has not changed since ``before``."""
    query = select(groups).where(
        groups.c.status.in_(list(statuses)),
        func.coalesce(groups.c.updated_at, groups.c.created_at) < before,
    )
    rows = conn.execute(query).all()
    return [_to_group(r, []) for r in rows]


def unplaced(conn: Connection) -> list[str]:
    """Ids of groups accepted but never placed by a scheduler."""
    query = select(groups.c.id).where(groups.c.status == CREATING, groups.c.host.is_(None))
    return [r.id for r in conn.execute(query)]


def owned_by_group_work(conn: Connection, backend: str | None = None) -> set[str]:
    """Volumes a group's own request creates or deletes (the group's worker handles them).

    The members of a group created from a source are made together, and the volume create
    flow must not pick one up alone (it would reschedule a failure away from the group's
    backend); the members of a group being deleted go with the group.
    """
    source = or_(groups.c.group_snapshot_id.is_not(None), groups.c.source_group_id.is_not(None))
    created = and_(groups.c.status == CREATING, source, volumes_table.c.status == CREATING)
    deleted = and_(groups.c.status == DELETING, volumes_table.c.status == DELETING)
    query = (
        select(volumes_table.c.id)
        .join(groups, volumes_table.c.group_id == groups.c.id)
        .where(or_(created, deleted))
    )
    if backend is not None:
        query = query.where(_on_backend(backend))
    return {r.id for r in conn.execute(query)}
