"""Reading and writing group snapshot rows and their member snapshots."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, delete, func, insert, select, update

from firebrick.db import paging, snapshots
from firebrick.db.schema import group_snapshots, groups
from firebrick.db.schema import snapshots as snapshots_table
from firebrick.db.volumes import now
from firebrick.domain.errors import MarkerNotFound
from firebrick.domain.groups import GroupSnapshot, GroupSnapshotNotFound
from firebrick.domain.model import Snapshot

COLUMNS = {name: group_snapshots.c[name] for name in (
    "id", "name", "description", "status", "group_id", "group_type_id", "project_id",
    "user_id", "created_at", "updated_at",
)}  # fmt: skip


def _to_group_snapshot(row: Row[Any]) -> GroupSnapshot:
    m = row._mapping
    return GroupSnapshot(
        id=m["id"], group_id=m["group_id"], project_id=m["project_id"], user_id=m["user_id"],
        status=m["status"], group_type_id=m["group_type_id"], created_at=m["created_at"],
        name=m["name"], description=m["description"], updated_at=m["updated_at"],
        task_state=m["task_state"],
    )  # fmt: skip


def insert_group_snapshot(conn: Connection, values: Mapping[str, Any]) -> None:
    conn.execute(insert(group_snapshots), dict(values))


def get(conn: Connection, group_snapshot_id: str, project_id: str | None = None) -> GroupSnapshot:
    query = select(group_snapshots).where(group_snapshots.c.id == group_snapshot_id)
    if project_id is not None:
        query = query.where(group_snapshots.c.project_id == project_id)
    row = conn.execute(query).first()
    if row is None:
        raise GroupSnapshotNotFound(group_snapshot_id)
    return _to_group_snapshot(row)


def find(conn: Connection, group_snapshot_id: str) -> GroupSnapshot | None:
    try:
        return get(conn, group_snapshot_id)
    except GroupSnapshotNotFound:
        return None


def _filters(filters: Mapping[str, Any]) -> list[ColumnElement[bool]] | None:
    clauses: list[ColumnElement[bool]] = []
    for key, value in filters.items():
        if key.endswith("~") and key[:-1] in COLUMNS:
            pattern = str(value).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            clauses.append(COLUMNS[key[:-1]].ilike(f"%{pattern}%", escape="\\"))
        elif key in COLUMNS:
            clauses.append(COLUMNS[key] == value)
        else:
            return None  # no such column: Cinder finds nothing
    return clauses


def list_group_snapshots(
    conn: Connection,
    *,
    project_id: str | None,
    filters: Mapping[str, Any],
    sort: Sequence[tuple[str, str]],
    limit: int | None,
    marker: str | None,
    offset: int = 0,
    hidden_type: str | None = None,
) -> list[GroupSnapshot]:
    clauses = _filters(filters)
    if clauses is None:
        return []
    if project_id is not None:
        clauses.append(group_snapshots.c.project_id == project_id)
    if hidden_type is not None:
        clauses.append(group_snapshots.c.group_type_id != hidden_type)
    keys = [(COLUMNS[k], d) for k, d in sort]
    keys.append((group_snapshots.c.id, keys[-1][1] if keys else "desc"))
    if marker:
        query = select(group_snapshots).where(group_snapshots.c.id == marker)
        marker_row = conn.execute(query).first()
        if marker_row is None:
            raise MarkerNotFound(marker)
        clauses.append(paging.after(marker_row, keys))
    rows = paging.fetch(conn, select(group_snapshots), clauses, keys, limit, offset)
    return [_to_group_snapshot(r) for r in rows]


def update_group_snapshot(
    conn: Connection,
    group_snapshot_id: str,
    values: Mapping[str, Any],
    *,
    expected_status: str | Iterable[str] | None = None,
) -> bool:
    query = update(group_snapshots).where(group_snapshots.c.id == group_snapshot_id)
    if isinstance(expected_status, str):
        query = query.where(group_snapshots.c.status == expected_status)
    elif expected_status is not None:
        query = query.where(group_snapshots.c.status.in_(list(expected_status)))
    return conn.execute(query.values(updated_at=now(), **values)).rowcount > 0


def remove(conn: Connection, group_snapshot_id: str) -> None:
    conn.execute(delete(group_snapshots).where(group_snapshots.c.id == group_snapshot_id))


def members(conn: Connection, group_snapshot_id: str) -> list[Snapshot]:
    """The snapshots the group snapshot is made of, in the order they were made."""
    query = (
        select(snapshots_table.c.id)
        .where(snapshots_table.c.group_snapshot_id == group_snapshot_id)
        .order_by(snapshots_table.c.created_at, snapshots_table.c.id)
    )
    ids = [r.id for r in conn.execute(query)]
    return [snapshots.get(conn, snapshot_id) for snapshot_id in ids]


def set_member_status(conn: Connection, group_snapshot_id: str, status: str) -> None:
    conn.execute(
        update(snapshots_table)
        .where(snapshots_table.c.group_snapshot_id == group_snapshot_id)
        .values(status=status, updated_at=now())
    )


# Recovery ----------------------------------------------------------------------------


def on_backend(conn: Connection, backend: str, statuses: Iterable[str]) -> list[GroupSnapshot]:
    """Group snapshots of groups placed on ``backend`` in one of ``statuses``."""
    query = (
        select(group_snapshots)
        .join(groups, groups.c.id == group_snapshots.c.group_id)
        .where(
            groups.c.host.startswith(f"{backend}#", autoescape=True),
            group_snapshots.c.status.in_(list(statuses)),
        )
    )
    return [_to_group_snapshot(r) for r in conn.execute(query)]


def stale(
    conn: Connection, statuses: Iterable[str], before: datetime
) -> list[tuple[GroupSnapshot, str | None]]:
    """(group snapshot, its group's host) in ``statuses`` unchanged since ``before``."""
    query = (
        select(group_snapshots, groups.c.host.label("group_host"))
        .join(groups, groups.c.id == group_snapshots.c.group_id)
        .where(
            group_snapshots.c.status.in_(list(statuses)),
            func.coalesce(group_snapshots.c.updated_at, group_snapshots.c.created_at) < before,
        )
    )
    return [(_to_group_snapshot(r), r.group_host) for r in conn.execute(query)]
