"""Reading and writing volume rows."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy import update as sql_update

from firebrick.db import images, paging, timefilters
from firebrick.db.keyvalue import KeyValues
from firebrick.db.schema import snapshots, volume_metadata, volume_types, volumes
from firebrick.domain.errors import MarkerNotFound, VolumeNotFound
from firebrick.domain.model import Volume

# API sort/filter names → columns.
_COLUMNS = {
    "id": volumes.c.id,
    "name": volumes.c.display_name,
    "display_name": volumes.c.display_name,
    "status": volumes.c.status,
    "size": volumes.c.size,
    "availability_zone": volumes.c.availability_zone,
    "created_at": volumes.c.created_at,
    "updated_at": volumes.c.updated_at,
    "bootable": volumes.c.bootable,
    "volume_type": volumes.c.volume_type_id,
    "volume_type_id": volumes.c.volume_type_id,
    "migration_status": volumes.c.migration_status,
    "project_id": volumes.c.project_id,
    "user_id": volumes.c.user_id,
}

_SELECT = select(volumes, volume_types.c.name.label("volume_type_name")).outerjoin(
    volume_types, volumes.c.volume_type_id == volume_types.c.id
)


def now() -> datetime:
    """Naive UTC, as stored."""
    return datetime.now(UTC).replace(tzinfo=None)


# A row of _SELECT as a Volume: its fields in their order, each read by its position in
# the row (a list page builds 1,000; by name through ``row._mapping`` it cost four times
# as much). The metadata comes from its own table.
_COLUMN_OF = {"name": "display_name", "description": "display_description"}
_FIELDS = [f.name for f in dataclasses.fields(Volume)]
_META_AT = _FIELDS.index("metadata")
_POSITION = {key: at for at, key in enumerate(_SELECT.selected_columns.keys())}
_BEFORE_METADATA = itemgetter(*[_POSITION[_COLUMN_OF.get(f, f)] for f in _FIELDS[:_META_AT]])
_AFTER_METADATA = itemgetter(*[_POSITION[_COLUMN_OF.get(f, f)] for f in _FIELDS[_META_AT + 1 :]])


def _to_volume(row: Row[Any], metadata: dict[str, str]) -> Volume:
    values: tuple[Any, ...] = (*_BEFORE_METADATA(row), metadata, *_AFTER_METADATA(row))
    return Volume(*values)


# Statements on the hot paths are built once, with bound parameters: building a new
# statement costs more than executing it, and SQLAlchemy caches the compiled form.
_GET = _SELECT.where(volumes.c.id == bindparam("vid"))
_GET_IN_PROJECT = _GET.where(volumes.c.project_id == bindparam("project"))
_METADATA_OF = select(volume_metadata).where(volume_metadata.c.volume_id == bindparam("vid"))
_INSERT = insert(volumes)
_INSERT_METADATA = insert(volume_metadata)


METADATA = KeyValues(volume_metadata, "volume_id")
# migration_status of a migration's copy: "target:<id of the volume it will replace>".
TARGET_PREFIX = "target:"


def _metadata_for(conn: Connection, ids: Sequence[str]) -> dict[str, dict[str, str]]:
    if len(ids) == 1:
        found: dict[str, str] = {}
        for _, key, value in conn.execute(_METADATA_OF, {"vid": ids[0]}):
            found[key] = value
        return {ids[0]: found}
    return METADATA.of(conn, ids)


def insert_volume(conn: Connection, values: Mapping[str, Any], metadata: Mapping[str, str]) -> None:
    conn.execute(_INSERT, dict(values))
    if metadata:
        conn.execute(
            _INSERT_METADATA,
            [{"volume_id": values["id"], "key": k, "value": v} for k, v in metadata.items()],
        )


def get(conn: Connection, volume_id: str, project_id: str | None = None) -> Volume:
    """The volume, or VolumeNotFound (also when it belongs to another project)."""
    if project_id is None:
        row = conn.execute(_GET, {"vid": volume_id}).first()
    else:
        row = conn.execute(_GET_IN_PROJECT, {"vid": volume_id, "project": project_id}).first()
    if row is None:
        raise VolumeNotFound(volume_id)
    return _to_volume(row, _metadata_for(conn, [volume_id])[volume_id])


def find(conn: Connection, volume_id: str) -> Volume | None:
    try:
        return get(conn, volume_id)
    except VolumeNotFound:
        return None


def created_before(conn: Connection, end: datetime) -> list[Volume]:
    """Every volume created before ``end``, migration copies left out (the usage audit)."""
    rows = conn.execute(
        _SELECT.where(volumes.c.created_at < end, volumes.c.use_quota.is_(True)).order_by(
            volumes.c.created_at
        )
    ).all()
    metadata = METADATA.of(conn, [r.id for r in rows]) if rows else {}
    return [_to_volume(r, metadata.get(r.id, {})) for r in rows]


def _on_backend(backend: str) -> ColumnElement[bool]:
    """Hosts ``backend#<pool>``; ``_`` and ``%`` in the name are not wildcards."""
    return volumes.c.host.startswith(f"{backend}#", autoescape=True)


def _filters(filters: Mapping[str, Any]) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    for key, value in filters.items():
        if key == "metadata" and isinstance(value, Mapping):
            for mk, mv in value.items():
                clauses.append(
                    exists().where(
                        volume_metadata.c.volume_id == volumes.c.id,
                        volume_metadata.c.key == str(mk),
                        volume_metadata.c.value == str(mv),
                    )
                )
        elif key == "glance_metadata" and isinstance(value, Mapping):
            clauses.extend(images.filter_clauses(value))
        elif key.endswith("~") and key[:-1] in _COLUMNS:
            # Wildcards in the value are literal; case-insensitive on every backend
            # (SQLite's LIKE is, PostgreSQL's is not).
            pattern = str(value).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            clauses.append(_COLUMNS[key[:-1]].ilike(f"%{pattern}%", escape="\\"))
        elif key in ("created_at", "updated_at"):
            clauses.extend(timefilters.clauses(_COLUMNS[key], value))
        elif key == "host":
            clauses.append(or_(volumes.c.host == value, _on_backend(value)))
        elif key == "no_migration_targets":
            clauses.append(
                or_(volumes.c.migration_status.is_(None),
                    ~volumes.c.migration_status.startswith(TARGET_PREFIX, autoescape=True))
            )  # fmt: skip
        elif key == "consumes_quota":
            clauses.append(volumes.c.use_quota.is_(value in (True, "true", "True")))
        elif key == "group_id":
            clauses.append(volumes.c.group_id == value)
        elif key in _COLUMNS:
            column = _COLUMNS[key]
            if isinstance(value, (list, tuple)):
                clauses.append(column.in_(list(value)))
            else:
                clauses.append(column == value)
    return clauses


def list_volumes(
    conn: Connection,
    *,
    project_id: str | None,
    filters: Mapping[str, Any],
    sort: Sequence[tuple[str, str]],
    limit: int | None,
    marker: str | None,
    offset: int = 0,
) -> list[Volume]:
    query = _SELECT
    clauses = _filters(filters)
    if project_id is not None:
        clauses.append(volumes.c.project_id == project_id)
    tiebreak = sort[-1][1] if sort else "desc"
    keys = [(_COLUMNS[k], d) for k, d in sort] + [(volumes.c.id, tiebreak)]
    if marker:
        marker_query = select(volumes).where(volumes.c.id == marker)
        if project_id is not None:
            marker_query = marker_query.where(volumes.c.project_id == project_id)
        marker_row = conn.execute(marker_query).first()
        if marker_row is None:
            raise MarkerNotFound(marker)
        clauses.append(paging.after(marker_row, keys))
    rows = paging.fetch(conn, query, clauses, keys, limit, offset)
    meta = _metadata_for(conn, [r.id for r in rows])
    return [_to_volume(r, meta[r.id]) for r in rows]


def count(conn: Connection, *, project_id: str | None, filters: Mapping[str, Any]) -> int:
    clauses = _filters(filters)
    if project_id is not None:
        clauses.append(volumes.c.project_id == project_id)
    return paging.count(conn, volumes, clauses)


_UPDATES: dict[tuple[Any, ...], Any] = {}


def _update_statement(values: Sequence[str], expected: Mapping[str, Any]) -> Any:
    """``UPDATE volumes SET <values> WHERE id = :vid AND <expected>``, built once per shape."""
    shape = (tuple(values), tuple((k, _kind(v)) for k, v in expected.items()))
    statement = _UPDATES.get(shape)
    if statement is None:
        statement = sql_update(volumes).where(volumes.c.id == bindparam("vid"))
        for key, kind in shape[1]:
            column = volumes.c[key]
            if kind == "in":
                statement = statement.where(column.in_(bindparam(f"x_{key}", expanding=True)))
            elif kind == "in_or_null":
                statement = statement.where(
                    or_(column.is_(None), column.in_(bindparam(f"x_{key}", expanding=True)))
                )
            elif kind is True:
                statement = statement.where(column.is_(None))
            else:
                statement = statement.where(column == bindparam(f"x_{key}"))
        statement = statement.values({k: bindparam(f"v_{k}") for k in values})
        _UPDATES[shape] = statement
    return statement


def _kind(value: Any) -> str | bool:
    """How an expected value is matched: a collection (with None: or NULL), NULL, equal."""
    if isinstance(value, (set, frozenset, list, tuple)):
        return "in_or_null" if None in value else "in"
    return value is None


def update(
    conn: Connection,
    volume_id: str,
    values: Mapping[str, Any],
    *,
    expected: Mapping[str, Any] | None = None,
) -> bool:
    """Set ``values``; with ``expected``, only if the row still holds those values (a
    collection means any of them; one holding None also matches NULL).

    Returns whether a row changed: the conditional form is how state transitions stay
    exact when several processes act on one volume.
    """
    expected = expected or {}
    changes = {"updated_at": now(), **values}
    statement = _update_statement(list(changes), expected)
    params: dict[str, Any] = {"vid": volume_id}
    params.update({f"v_{k}": v for k, v in changes.items()})
    for key, value in expected.items():
        if isinstance(value, (set, frozenset, list, tuple)):
            params[f"x_{key}"] = [v for v in value if v is not None]
        elif value is not None:
            params[f"x_{key}"] = value
    result = conn.execute(statement, params)
    return result.rowcount > 0


def set_metadata(
    conn: Connection, volume_id: str, metadata: Mapping[str, str], *, replace: bool
) -> None:
    METADATA.set(conn, volume_id, metadata, replace=replace)


def remove(conn: Connection, volume_id: str) -> bool:
    """Delete the volume's row (its usage kept for the audit); whether there was one."""
    from firebrick.db import deleted_resources

    gone = find(conn, volume_id)
    if gone is not None:
        deleted_resources.record_volume(conn, gone, now())
    METADATA.clear(conn, volume_id)
    return conn.execute(delete(volumes).where(volumes.c.id == volume_id)).rowcount > 0


def in_status(conn: Connection, statuses: Iterable[str], host_prefix: str) -> list[str]:
    """Ids of volumes on a backend (``host@backend``) in one of ``statuses``; migration
    copies are left out (their migration moves them on)."""
    query = select(volumes.c.id).where(
        volumes.c.status.in_(list(statuses)),
        _on_backend(host_prefix),
        or_(volumes.c.migration_status.is_(None),
            ~volumes.c.migration_status.startswith(TARGET_PREFIX, autoescape=True)),
    )  # fmt: skip
    return [r.id for r in conn.execute(query)]


def allocated_by_pool(conn: Connection, backend: str) -> dict[str, int]:
    query = (
        select(volumes.c.host, func.sum(volumes.c.size))
        .where(_on_backend(backend))
        .group_by(volumes.c.host)
    )
    return {host: int(total or 0) for host, total in conn.execute(query)}


def usage_on_backend(conn: Connection, backend: str) -> dict[str, tuple[int, int]]:
    """Per project: (volumes, GiB) on ``backend`` (``host@backend``)."""
    query = (
        select(volumes.c.project_id, func.count(), func.sum(volumes.c.size))
        .where(_on_backend(backend))
        .group_by(volumes.c.project_id)
    )
    return {p: (int(n), int(gb or 0)) for p, n, gb in conn.execute(query)}


def snapshot_usage_on_backend(conn: Connection, backend: str) -> dict[str, tuple[int, int]]:
    """Per project: (snapshots, GiB) of the volumes on ``backend``."""
    query = (
        select(snapshots.c.project_id, func.count(), func.sum(snapshots.c.volume_size))
        .join(volumes, volumes.c.id == snapshots.c.volume_id)
        .where(_on_backend(backend))
        .group_by(snapshots.c.project_id)
    )
    return {p: (int(n), int(gb or 0)) for p, n, gb in conn.execute(query)}


def uses_type(conn: Connection, type_id: str) -> bool:
    query = select(volumes.c.id).where(volumes.c.volume_type_id == type_id).limit(1)
    return conn.execute(query).first() is not None


def summary(conn: Connection, project_id: str) -> tuple[int, int, dict[str, list[str]]]:
    """(count, total GiB, metadata key -> distinct values) of a project's volumes."""
    mine = volumes.c.project_id == project_id
    count_, size = conn.execute(select(func.count(), func.sum(volumes.c.size)).where(mine)).one()
    query = (
        select(volume_metadata.c.key, volume_metadata.c.value)
        .join(volumes, volumes.c.id == volume_metadata.c.volume_id)
        .where(mine)
        .distinct()
        .order_by(volume_metadata.c.key, volume_metadata.c.value)
    )
    metadata: dict[str, list[str]] = {}
    for key, value in conn.execute(query):
        metadata.setdefault(key, []).append(value)
    return int(count_), int(size or 0), metadata


def delete_metadata_key(conn: Connection, volume_id: str, key: str) -> bool:
    return METADATA.delete_key(conn, volume_id, key)


_CREATING_FROM = select(volumes.c.id).where(
    volumes.c.status == "creating",
    or_(
        volumes.c.source_volid == bindparam("source"),
        volumes.c.snapshot_id == bindparam("source"),
    ),
)


def being_created_from(conn: Connection, source_id: str) -> list[str]:
    """Volumes still being created from this volume or snapshot (they hold it busy)."""
    return [r.id for r in conn.execute(_CREATING_FROM, {"source": source_id})]
