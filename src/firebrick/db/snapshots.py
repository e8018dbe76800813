"""Reading and writing snapshot rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    bindparam,
    delete,
    exists,
    insert,
    select,
)
from sqlalchemy import update as sql_update

from firebrick.db import paging, timefilters
from firebrick.db.keyvalue import KeyValues
from firebrick.db.schema import snapshot_metadata, snapshots
from firebrick.db.volumes import now
from firebrick.domain.errors import SnapshotNotFound
from firebrick.domain.model import Snapshot

_COLUMNS = {
    "id": snapshots.c.id,
    "name": snapshots.c.display_name,
    "display_name": snapshots.c.display_name,
    "status": snapshots.c.status,
    "volume_id": snapshots.c.volume_id,
    "size": snapshots.c.volume_size,
    "created_at": snapshots.c.created_at,
    "updated_at": snapshots.c.updated_at,
    "project_id": snapshots.c.project_id,
}

_GET = select(snapshots).where(snapshots.c.id == bindparam("sid"))
_GET_IN_PROJECT = _GET.where(snapshots.c.project_id == bindparam("project"))


def _to_snapshot(row: Row[Any], metadata: dict[str, str]) -> Snapshot:
    m = row._mapping
    return Snapshot(
        id=m["id"],
        volume_id=m["volume_id"],
        project_id=m["project_id"],
        user_id=m["user_id"],
        volume_size=m["volume_size"],
        status=m["status"],
        created_at=m["created_at"],
        name=m["display_name"],
        description=m["display_description"],
        progress=m["progress"],
        provider_location=m["provider_location"],
        updated_at=m["updated_at"],
        metadata=metadata,
        group_snapshot_id=m["group_snapshot_id"],
    )


METADATA = KeyValues(snapshot_metadata, "snapshot_id")


def _metadata_for(conn: Connection, ids: Sequence[str]) -> dict[str, dict[str, str]]:
    return METADATA.of(conn, ids)


def insert_snapshot(
    conn: Connection, values: Mapping[str, Any], metadata: Mapping[str, str]
) -> None:
    conn.execute(insert(snapshots), dict(values))
    if metadata:
        set_metadata(conn, values["id"], metadata, replace=True)


def get(conn: Connection, snapshot_id: str, project_id: str | None = None) -> Snapshot:
    if project_id is None:
        row = conn.execute(_GET, {"sid": snapshot_id}).first()
    else:
        row = conn.execute(_GET_IN_PROJECT, {"sid": snapshot_id, "project": project_id}).first()
    if row is None:
        raise SnapshotNotFound(snapshot_id)
    return _to_snapshot(row, _metadata_for(conn, [snapshot_id])[snapshot_id])


def find(conn: Connection, snapshot_id: str) -> Snapshot | None:
    try:
        return get(conn, snapshot_id)
    except SnapshotNotFound:
        return None


def created_before(conn: Connection, end: datetime) -> list[tuple[Snapshot, str | None]]:
    """Every snapshot created before ``end``, with its volume's zone (the usage audit)."""
    from firebrick.db.schema import volumes

    query = (
        select(snapshots, volumes.c.availability_zone.label("volume_zone"))
        .join(volumes, volumes.c.id == snapshots.c.volume_id)
        .where(snapshots.c.created_at < end)
        .order_by(snapshots.c.created_at)
    )
    rows = conn.execute(query).all()
    metadata = _metadata_for(conn, [r.id for r in rows]) if rows else {}
    return [(_to_snapshot(r, metadata.get(r.id, {})), r.volume_zone) for r in rows]


def of_volume(conn: Connection, volume_id: str) -> list[Snapshot]:
    rows = conn.execute(select(snapshots).where(snapshots.c.volume_id == volume_id)).all()
    meta = _metadata_for(conn, [r.id for r in rows])
    return [_to_snapshot(r, meta[r.id]) for r in rows]


def latest_of_volume(
    conn: Connection, volume_id: str, project_id: str | None = None
) -> Snapshot | None:
    """The volume's most recently created snapshot (a revert may go back only to it)."""
    query = select(snapshots).where(snapshots.c.volume_id == volume_id)
    if project_id is not None:
        query = query.where(snapshots.c.project_id == project_id)
    row = conn.execute(query.order_by(snapshots.c.created_at.desc()).limit(1)).first()
    if row is None:
        return None
    return _to_snapshot(row, _metadata_for(conn, [row.id])[row.id])


def _filters(filters: Mapping[str, Any]) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    for key, value in filters.items():
        if key == "metadata" and isinstance(value, Mapping):
            for mk, mv in value.items():
                clauses.append(
                    exists().where(
                        snapshot_metadata.c.snapshot_id == snapshots.c.id,
                        snapshot_metadata.c.key == str(mk),
                        snapshot_metadata.c.value == str(mv),
                    )
                )
        elif key in ("created_at", "updated_at") and key in _COLUMNS:
            clauses.extend(timefilters.clauses(_COLUMNS[key], value))
        elif key in _COLUMNS:
            clauses.append(_COLUMNS[key] == value)
    return clauses


def list_snapshots(
    conn: Connection,
    *,
    project_id: str | None,
    filters: Mapping[str, Any],
    sort: Sequence[tuple[str, str]],
    limit: int | None,
    marker: str | None,
    offset: int = 0,
) -> list[Snapshot]:
    clauses = _filters(filters)
    if project_id is not None:
        clauses.append(snapshots.c.project_id == project_id)
    keys = [(_COLUMNS.get(k, snapshots.c.created_at), d) for k, d in sort] or [
        (snapshots.c.created_at, "desc")
    ]
    keys.append((snapshots.c.id, keys[-1][1]))
    if marker:
        clauses.append(paging.after_marker(conn, snapshots, marker, keys))
    rows = paging.fetch(conn, select(snapshots), clauses, keys, limit, offset)
    meta = _metadata_for(conn, [r.id for r in rows])
    return [_to_snapshot(r, meta[r.id]) for r in rows]


def count(conn: Connection, *, project_id: str | None, filters: Mapping[str, Any]) -> int:
    clauses = _filters(filters)
    if project_id is not None:
        clauses.append(snapshots.c.project_id == project_id)
    return paging.count(conn, snapshots, clauses)


def update(
    conn: Connection,
    snapshot_id: str,
    values: Mapping[str, Any],
    *,
    expected_status: str | Sequence[str] | None = None,
) -> bool:
    query = sql_update(snapshots).where(snapshots.c.id == snapshot_id)
    if isinstance(expected_status, str):
        query = query.where(snapshots.c.status == expected_status)
    elif expected_status is not None:
        query = query.where(snapshots.c.status.in_(list(expected_status)))
    return conn.execute(query.values(updated_at=now(), **values)).rowcount > 0


def set_metadata(
    conn: Connection, snapshot_id: str, metadata: Mapping[str, str], *, replace: bool
) -> None:
    METADATA.set(conn, snapshot_id, metadata, replace=replace)


def delete_metadata_key(conn: Connection, snapshot_id: str, key: str) -> bool:
    return METADATA.delete_key(conn, snapshot_id, key)


def remove(conn: Connection, snapshot_id: str) -> None:
    from firebrick.db import deleted_resources
    from firebrick.db.schema import volumes

    gone = find(conn, snapshot_id)
    if gone is not None:
        zone = conn.execute(
            select(volumes.c.availability_zone).where(volumes.c.id == gone.volume_id)
        ).scalar()
        deleted_resources.record_snapshot(conn, gone, zone, now())
    METADATA.clear(conn, snapshot_id)
    conn.execute(delete(snapshots).where(snapshots.c.id == snapshot_id))
