"""Reading and writing backup rows and their metadata.

A deleted backup keeps its row (``deleted``) as Cinder keeps it, so that an export record
can bring it back; only ``find_any`` and the usage audit (``existed_in``) read one.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, case, delete, false, func, insert, select
from sqlalchemy import update as sql_update

from firebrick.db import paging
from firebrick.db.schema.features import backup_metadata, backups
from firebrick.db.volumes import now
from firebrick.domain.backups import DELETED, Backup, BackupNotFound

# Filter and sort names -> columns.
COLUMNS = {
    "id": backups.c.id,
    "display_name": backups.c.display_name,
    "status": backups.c.status,
    "volume_id": backups.c.volume_id,
    "snapshot_id": backups.c.snapshot_id,
    "parent_id": backups.c.parent_id,
    "project_id": backups.c.project_id,
    "user_id": backups.c.user_id,
    "host": backups.c.host,
    "availability_zone": backups.c.availability_zone,
    "container": backups.c.container,
    "size": backups.c.size,
    "object_count": backups.c.object_count,
    "data_timestamp": backups.c.data_timestamp,
    "created_at": backups.c.created_at,
    "updated_at": backups.c.updated_at,
}
INTEGER_COLUMNS = frozenset({"size", "object_count"})
TIME_COLUMNS = frozenset({"created_at", "updated_at", "data_timestamp"})

_LIVE = backups.c.deleted == false()


def _metadata_of(conn: Connection, ids: Sequence[str]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {i: {} for i in ids}
    if not ids:
        return found
    query = select(backup_metadata).where(backup_metadata.c.backup_id.in_(list(ids)))
    for row in conn.execute(query):
        found[row.backup_id][row.key] = row.value
    return found


def _to_backup(row: Row[Any], metadata: dict[str, str] | None = None) -> Backup:
    m = row._mapping
    return Backup(
        id=m["id"], project_id=m["project_id"], user_id=m["user_id"],
        volume_id=m["volume_id"], status=m["status"], size=m["size"],
        created_at=m["created_at"], name=m["display_name"],
        description=m["display_description"], container=m["container"],
        availability_zone=m["availability_zone"], host=m["host"], service=m["service"],
        service_metadata=m["service_metadata"], fail_reason=m["fail_reason"],
        object_count=m["object_count"] or 0, parent_id=m["parent_id"],
        num_dependent_backups=m["num_dependent_backups"] or 0,
        snapshot_id=m["snapshot_id"], restore_volume_id=m["restore_volume_id"],
        temp_snapshot_id=m["temp_snapshot_id"], data_timestamp=m["data_timestamp"],
        encryption_key_id=m["encryption_key_id"], updated_at=m["updated_at"],
        metadata=dict(metadata or {}),
    )  # fmt: skip


def _backups(conn: Connection, rows: Sequence[Row[Any]]) -> list[Backup]:
    meta = _metadata_of(conn, [r.id for r in rows])
    return [_to_backup(r, meta[r.id]) for r in rows]


def insert_backup(
    conn: Connection, values: Mapping[str, Any], metadata: Mapping[str, str] | None = None
) -> None:
    defaults = {"object_count": 0, "num_dependent_backups": 0, "deleted": False}
    conn.execute(insert(backups), {**defaults, **values})
    set_metadata(conn, str(values["id"]), metadata or {})


def set_metadata(conn: Connection, backup_id: str, metadata: Mapping[str, str]) -> None:
    """Replace the backup's metadata with ``metadata``."""
    conn.execute(delete(backup_metadata).where(backup_metadata.c.backup_id == backup_id))
    if metadata:
        conn.execute(
            insert(backup_metadata),
            [{"backup_id": backup_id, "key": k, "value": v} for k, v in metadata.items()],
        )


def find(conn: Connection, backup_id: str) -> Backup | None:
    row = conn.execute(select(backups).where(backups.c.id == backup_id, _LIVE)).first()
    return _backups(conn, [row])[0] if row is not None else None


def find_any(conn: Connection, backup_id: str) -> Backup | None:
    """The backup's row even once deleted (its status is then ``deleted``)."""
    row = conn.execute(select(backups).where(backups.c.id == backup_id)).first()
    return _backups(conn, [row])[0] if row is not None else None


def get(conn: Connection, backup_id: str, project_id: str | None = None) -> Backup:
    """The backup; ``project_id`` set: only if it belongs to that project (else 404)."""
    found = find(conn, backup_id)
    if found is None or (project_id is not None and found.project_id != project_id):
        raise BackupNotFound(backup_id)
    return found


def device(conn: Connection, backup_id: str) -> dict[str, Any] | None:
    """Where the backup service reads (or writes) the backup's volume data, as recorded."""
    value = conn.execute(select(backups.c.device).where(backups.c.id == backup_id)).scalar()
    return dict(value) if isinstance(value, dict) else None


def point(conn: Connection, backup_id: str) -> tuple[str | None, str | None]:
    """(point id, host@backend keeping it) of a backup."""
    row = conn.execute(
        select(backups.c.point_id, backups.c.point_host).where(backups.c.id == backup_id)
    ).first()
    return (row.point_id, row.point_host) if row is not None else (None, None)


def _clauses(project_id: str | None, filters: Mapping[str, Any]) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = [_LIVE]
    if project_id is not None:
        clauses.append(backups.c.project_id == project_id)
    for key, value in filters.items():
        column = COLUMNS[key]
        if isinstance(value, dict):  # time comparisons: {operator: datetime}
            clauses.extend(paging_compare(column, op, when) for op, when in value.items())
        else:
            clauses.append(column == value)
    return clauses


def paging_compare(column: Any, operator: str, value: Any) -> ColumnElement[bool]:
    compare: dict[str, ColumnElement[bool]] = {
        "gt": column > value, "gte": column >= value, "eq": column == value,
        "neq": column != value, "lt": column < value, "lte": column <= value,
    }  # fmt: skip
    return compare[operator]


def list_backups(
    conn: Connection,
    *,
    project_id: str | None,
    filters: Mapping[str, Any],
    sort: Sequence[tuple[str, str]],
    limit: int | None,
    marker: str | None,
    offset: int = 0,
) -> list[Backup]:
    clauses = _clauses(project_id, filters)
    keys = [(COLUMNS[k], d) for k, d in sort]
    if not any(column is backups.c.id for column, _ in keys):
        keys.append((backups.c.id, keys[-1][1] if keys else "desc"))
    if marker:
        clauses.append(paging.after_marker(conn, backups, marker, keys))
    rows = paging.fetch(conn, select(backups), clauses, keys, limit, offset)
    return _backups(conn, rows)


def count(conn: Connection, *, project_id: str | None, filters: Mapping[str, Any]) -> int:
    return paging.count(conn, backups, _clauses(project_id, filters))


def update(
    conn: Connection,
    backup_id: str,
    values: Mapping[str, Any],
    *,
    expected: Collection[str] | str | None = None,
) -> bool:
    """Change a live backup (only from an ``expected`` status); whether it changed."""
    query = sql_update(backups).where(backups.c.id == backup_id, _LIVE)
    if expected is not None:
        wanted = [expected] if isinstance(expected, str) else list(expected)
        query = query.where(backups.c.status.in_(wanted))
    return conn.execute(query.values(updated_at=now(), **values)).rowcount > 0


def mark_deleted(conn: Connection, backup_id: str) -> bool:
    stamp = now()
    query = sql_update(backups).where(backups.c.id == backup_id, _LIVE)
    values = {"status": DELETED, "deleted": True, "deleted_at": stamp, "updated_at": stamp,
              "device": None, "point_id": None, "point_host": None}  # fmt: skip
    return conn.execute(query.values(**values)).rowcount > 0


def existed_in(
    conn: Connection, begin: datetime, end: datetime
) -> list[tuple[Backup, datetime | None]]:
    """Every backup that existed at some time in [begin, end), deleted ones included, with
    when it was deleted (the usage audit)."""
    rows = conn.execute(
        select(backups)
        .where(backups.c.created_at < end)
        .where((backups.c.deleted == false()) | (backups.c.deleted_at >= begin))
        .order_by(backups.c.created_at)
    ).all()
    found = _backups(conn, rows)
    return [(b, row._mapping["deleted_at"]) for b, row in zip(found, rows, strict=True)]


def revive(conn: Connection, backup_id: str, values: Mapping[str, Any]) -> bool:
    """Bring a deleted row back (an import of its record)."""
    query = sql_update(backups).where(backups.c.id == backup_id, backups.c.deleted.is_(True))
    changed = {"deleted": False, "deleted_at": None, "updated_at": now(), **values}
    return conn.execute(query.values(**changed)).rowcount > 0


def of_volume(conn: Connection, volume_id: str, project_id: str | None = None) -> list[Backup]:
    query = select(backups).where(backups.c.volume_id == volume_id, _LIVE)
    if project_id is not None:
        query = query.where(backups.c.project_id == project_id)
    return _backups(conn, list(conn.execute(query.order_by(backups.c.created_at))))


def dependents(conn: Connection, backup_id: str) -> int:
    query = select(func.count()).select_from(backups).where(backups.c.parent_id == backup_id, _LIVE)
    return int(conn.execute(query).scalar_one())


def add_dependent(conn: Connection, backup_id: str, delta: int) -> None:
    column = backups.c.num_dependent_backups
    query = sql_update(backups).where(backups.c.id == backup_id)
    conn.execute(
        query.values(num_dependent_backups=case((column + delta < 0, 0), else_=column + delta))
    )


def on_host(conn: Connection, host: str, statuses: Collection[str]) -> list[Backup]:
    """Live backups a backup service host was working on, in these statuses."""
    query = select(backups).where(
        backups.c.host == host, backups.c.status.in_(list(statuses)), _LIVE
    )
    return _backups(conn, list(conn.execute(query)))


def restoring_into(conn: Connection, volume_id: str) -> Backup | None:
    """The backup being restored into ``volume_id``, if any."""
    query = select(backups).where(
        backups.c.restore_volume_id == volume_id, backups.c.status == "restoring", _LIVE
    )
    row = conn.execute(query).first()
    return _backups(conn, [row])[0] if row is not None else None


def with_points(conn: Connection, volume_id: str) -> list[tuple[str, str, str]]:
    """(backup id, point id, point host) of the volume's backups that keep a point."""
    query = select(backups.c.id, backups.c.point_id, backups.c.point_host).where(
        backups.c.volume_id == volume_id, backups.c.point_id.is_not(None)
    )
    return [(r.id, r.point_id, r.point_host) for r in conn.execute(query)]
