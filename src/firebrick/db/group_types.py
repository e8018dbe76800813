"""Group types and their group specs."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, bindparam, delete, insert, select, update

from firebrick.db import paging
from firebrick.db.schema import group_type_specs, group_types, groups
from firebrick.db.volumes import now
from firebrick.domain.groups import (
    DEFAULT_CGSNAPSHOT_TYPE,
    GroupType,
    GroupTypeNotFound,
    GroupTypeNotFoundByName,
    GroupTypeSpecsNotFound,
)

SORT_COLUMNS = {
    "id": group_types.c.id,
    "name": group_types.c.name,
    "description": group_types.c.description,
    "is_public": group_types.c.is_public,
    "created_at": group_types.c.created_at,
    "updated_at": group_types.c.updated_at,
}

_SPECS_OF = select(group_type_specs).where(
    group_type_specs.c.group_type_id.in_(bindparam("ids", expanding=True))
)


def _specs(conn: Connection, type_ids: Sequence[str]) -> dict[str, dict[str, str | None]]:
    found: dict[str, dict[str, str | None]] = {i: {} for i in type_ids}
    if type_ids:
        for type_id, key, value in conn.execute(_SPECS_OF, {"ids": list(type_ids)}):
            found[type_id][key] = value
    return found


def _to_type(row: Row[Any], specs: dict[str, str | None]) -> GroupType:
    return GroupType(
        id=row.id, name=row.name, description=row.description, is_public=row.is_public,
        group_specs=specs, created_at=row.created_at,
    )  # fmt: skip


def _visible(query: Any, public_only: bool) -> Any:
    # Cinder has no group type access API: a private type is for admins only.
    return query.where(group_types.c.is_public.is_(True)) if public_only else query


def get(conn: Connection, type_id: str, *, public_only: bool = False) -> GroupType:
    """The type with this id; GroupTypeNotFound otherwise (also a private one for users)."""
    row = conn.execute(
        _visible(select(group_types).where(group_types.c.id == type_id), public_only)
    ).first()
    if row is None:
        raise GroupTypeNotFound(type_id)
    return _to_type(row, _specs(conn, [row.id])[row.id])


def get_by_name(conn: Connection, name: str, *, public_only: bool = False) -> GroupType:
    row = conn.execute(
        _visible(select(group_types).where(group_types.c.name == name), public_only)
    ).first()
    if row is None:
        raise GroupTypeNotFoundByName(name)
    return _to_type(row, _specs(conn, [row.id])[row.id])


def find_by_name(conn: Connection, name: str) -> GroupType | None:
    try:
        return get_by_name(conn, name)
    except GroupTypeNotFoundByName:
        return None


def is_reserved(conn: Connection, type_id: str) -> bool:
    """Whether ``type_id`` is Cinder's ``default_cgsnapshot_type``."""
    reserved = find_by_name(conn, DEFAULT_CGSNAPSHOT_TYPE)
    return reserved is not None and reserved.id == type_id


def list_types(
    conn: Connection,
    *,
    is_public: bool | None,
    sort: Sequence[tuple[str, str]],
    limit: int | None,
    marker: str | None,
    offset: int = 0,
) -> list[GroupType]:
    clauses: list[ColumnElement[bool]] = []
    if is_public is not None:
        clauses.append(group_types.c.is_public.is_(is_public))
    keys = [(SORT_COLUMNS[k], d) for k, d in sort]
    keys.append((group_types.c.id, keys[-1][1] if keys else "desc"))
    if marker:
        clauses.append(paging.after_marker(conn, group_types, marker, keys))
    rows = paging.fetch(conn, select(group_types), clauses, keys, limit, offset)
    specs = _specs(conn, [r.id for r in rows])
    return [_to_type(r, specs[r.id]) for r in rows]


def name_taken(conn: Connection, name: str, *, other_than: str | None = None) -> bool:
    query = select(group_types.c.id).where(group_types.c.name == name)
    if other_than:
        query = query.where(group_types.c.id != other_than)
    return conn.execute(query).first() is not None


def create(
    conn: Connection,
    name: str,
    *,
    description: str | None,
    is_public: bool,
    group_specs: Mapping[str, str | None],
) -> GroupType:
    type_id = str(uuid.uuid4())
    conn.execute(
        insert(group_types).values(
            id=type_id, name=name, description=description, is_public=is_public,
            created_at=now(),
        )
    )  # fmt: skip
    if group_specs:
        set_specs(conn, type_id, group_specs)
    return get(conn, type_id)


def update_type(conn: Connection, type_id: str, values: Mapping[str, Any]) -> None:
    conn.execute(
        update(group_types).where(group_types.c.id == type_id).values(updated_at=now(), **values)
    )


def in_use(conn: Connection, type_id: str) -> bool:
    return conn.execute(select(groups.c.id).where(groups.c.group_type_id == type_id)).first() \
        is not None  # fmt: skip


def remove(conn: Connection, type_id: str) -> None:
    conn.execute(delete(group_type_specs).where(group_type_specs.c.group_type_id == type_id))
    conn.execute(delete(group_types).where(group_types.c.id == type_id))


def set_specs(conn: Connection, type_id: str, specs: Mapping[str, str | None]) -> None:
    """Create or update each spec (Cinder's ``group_type_specs_update_or_create``)."""
    conn.execute(
        delete(group_type_specs).where(
            group_type_specs.c.group_type_id == type_id,
            group_type_specs.c.key.in_(list(specs)),
        )
    )
    conn.execute(
        insert(group_type_specs),
        [{"group_type_id": type_id, "key": k, "value": v} for k, v in specs.items()],
    )
    update_type(conn, type_id, {})


def delete_spec(conn: Connection, type_id: str, key: str) -> None:
    result = conn.execute(
        delete(group_type_specs).where(
            group_type_specs.c.group_type_id == type_id, group_type_specs.c.key == key
        )
    )
    if result.rowcount == 0:
        raise GroupTypeSpecsNotFound(type_id, key)
