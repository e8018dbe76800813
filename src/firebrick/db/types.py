"""Volume types and their extra specs."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from firebrick.db.id_sets import IdsIn
from firebrick.db.schema import volume_type_extra_specs, volume_type_projects, volume_types
from firebrick.db.volumes import now
from firebrick.domain.errors import VolumeTypeNotFound
from firebrick.domain.model import VolumeType

DEFAULT_TYPE_NAME = "__DEFAULT__"


_SPECS_OF = IdsIn(
    volume_type_extra_specs.c.volume_type_id,
    lambda where: select(volume_type_extra_specs).where(where),
)
_BY_NAME_OR_ID = select(volume_types).where(
    or_(volume_types.c.id == bindparam("key"), volume_types.c.name == bindparam("key"))
)


def _specs(conn: Connection, type_ids: list[str]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {i: {} for i in type_ids}
    if type_ids:
        for type_id, key, value in _SPECS_OF.execute(conn, type_ids):
            found[type_id][key] = value
    return found


def _to_type(row: Row[Any], specs: dict[str, str]) -> VolumeType:
    return VolumeType(
        id=row.id,
        name=row.name,
        description=row.description,
        is_public=row.is_public,
        extra_specs=specs,
        qos_specs_id=row.qos_specs_id,
    )


_SHARED_WITH = select(volume_type_projects.c.volume_type_id).where(
    volume_type_projects.c.project_id == bindparam("project")
)


def get(conn: Connection, name_or_id: str, project_id: str | None = None) -> VolumeType:
    """The type with this id, or else this name; VolumeTypeNotFound otherwise.

    ``project_id``: as that project sees types (not an admin): a private type it has no
    access to does not exist for it.
    """
    rows = conn.execute(_BY_NAME_OR_ID, {"key": name_or_id}).all()
    if project_id is not None:
        shared = {r.volume_type_id for r in conn.execute(_SHARED_WITH, {"project": project_id})}
        rows = [r for r in rows if r.is_public or r.id in shared]
    if not rows:
        raise VolumeTypeNotFound(name_or_id)
    row = next((r for r in rows if r.id == name_or_id), rows[0])
    return _to_type(row, _specs(conn, [row.id])[row.id])


def list_types(
    conn: Connection, *, is_public: bool | None = True, project_id: str | None = None
) -> list[VolumeType]:
    """Types by visibility (None: all); ``project_id``: the public ones and the private
    ones shared with that project (what a non-admin sees)."""
    query = select(volume_types).order_by(volume_types.c.created_at, volume_types.c.name)
    if project_id is not None:
        query = query.where(
            or_(volume_types.c.is_public.is_(True),
                volume_types.c.id.in_(_SHARED_WITH.scalar_subquery()))
        )  # fmt: skip
    elif is_public is not None:
        query = query.where(volume_types.c.is_public == is_public)
    rows = conn.execute(query, {"project": project_id}).all()
    specs = _specs(conn, [r.id for r in rows])
    return [_to_type(r, specs[r.id]) for r in rows]


def projects_of(conn: Connection, type_id: str) -> list[str]:
    query = (
        select(volume_type_projects.c.project_id)
        .where(volume_type_projects.c.volume_type_id == type_id)
        .order_by(volume_type_projects.c.project_id)
    )
    return [r.project_id for r in conn.execute(query)]


def share(conn: Connection, type_id: str, project_id: str) -> bool:
    """Give ``project_id`` access to a private type; False if it already had it."""
    if project_id in projects_of(conn, type_id):
        return False
    conn.execute(insert(volume_type_projects).values(volume_type_id=type_id,
                                                     project_id=project_id))  # fmt: skip
    return True


def unshare(conn: Connection, type_id: str, project_id: str) -> bool:
    result = conn.execute(
        delete(volume_type_projects).where(
            volume_type_projects.c.volume_type_id == type_id,
            volume_type_projects.c.project_id == project_id,
        )
    )
    return result.rowcount > 0


def create(
    conn: Connection,
    name: str,
    *,
    description: str | None = None,
    is_public: bool = True,
    extra_specs: Mapping[str, str] | None = None,
    type_id: str | None = None,
) -> VolumeType:
    type_id = type_id or str(uuid.uuid4())
    conn.execute(
        insert(volume_types).values(
            id=type_id, name=name, description=description, is_public=is_public,
            created_at=now(),
        )
    )  # fmt: skip
    if extra_specs:
        set_extra_specs(conn, type_id, extra_specs)
    return get(conn, type_id)


def name_taken(conn: Connection, name: str, *, other_than: str | None = None) -> bool:
    query = select(volume_types.c.id).where(volume_types.c.name == name)
    if other_than:
        query = query.where(volume_types.c.id != other_than)
    return conn.execute(query).first() is not None


def update_type(conn: Connection, type_id: str, values: Mapping[str, Any]) -> None:
    conn.execute(
        update(volume_types).where(volume_types.c.id == type_id).values(updated_at=now(), **values)
    )


def remove(conn: Connection, type_id: str) -> None:
    conn.execute(
        delete(volume_type_extra_specs).where(volume_type_extra_specs.c.volume_type_id == type_id)
    )
    conn.execute(
        delete(volume_type_projects).where(volume_type_projects.c.volume_type_id == type_id)
    )
    conn.execute(delete(volume_types).where(volume_types.c.id == type_id))


def set_extra_specs(conn: Connection, type_id: str, specs: Mapping[str, str]) -> None:
    conn.execute(
        delete(volume_type_extra_specs).where(
            volume_type_extra_specs.c.volume_type_id == type_id,
            volume_type_extra_specs.c.key.in_(list(specs)),
        )
    )
    conn.execute(
        insert(volume_type_extra_specs),
        [{"volume_type_id": type_id, "key": k, "value": v} for k, v in specs.items()],
    )


def delete_extra_spec(conn: Connection, type_id: str, key: str) -> bool:
    result = conn.execute(
        delete(volume_type_extra_specs).where(
            volume_type_extra_specs.c.volume_type_id == type_id,
            volume_type_extra_specs.c.key == key,
        )
    )
    return result.rowcount > 0


def ensure_default(conn: Connection) -> None:
    """Cinder's ``__DEFAULT__`` type exists in every deployment.

    Every process runs this as it starts, several at once: the one whose insert finds the
    name taken (by a transaction that committed meanwhile) leaves it be.
    """
    if name_taken(conn, DEFAULT_TYPE_NAME):
        return
    insert_ = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(
        insert_(volume_types)
        .values(
            id=str(uuid.uuid4()),
            name=DEFAULT_TYPE_NAME,
            description="Default Volume Type",
            is_public=True,
            created_at=now(),
        )
        .on_conflict_do_nothing(index_elements=[volume_types.c.name])
    )
