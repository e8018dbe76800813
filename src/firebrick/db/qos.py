"""QoS specs, their keys, and which volume types point at them."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, delete, false, insert, select, update

from firebrick.db import paging
from firebrick.db.schema import qos_spec_items, quality_of_service_specs, volume_types
from firebrick.db.volumes import now
from firebrick.domain.errors import VolumeTypeNotFound
from firebrick.domain.qos import QosSpecs, QoSSpecsKeyNotFound, QoSSpecsNotFound

specs_table = quality_of_service_specs

# API sort/filter names → columns.
COLUMNS = {
    "id": specs_table.c.id,
    "name": specs_table.c.name,
    "consumer": specs_table.c.consumer,
    "created_at": specs_table.c.created_at,
    "updated_at": specs_table.c.updated_at,
}


def _items(conn: Connection, ids: Sequence[str]) -> dict[str, dict[str, str | None]]:
    found: dict[str, dict[str, str | None]] = {i: {} for i in ids}
    if ids:
        query = select(qos_spec_items).where(qos_spec_items.c.specs_id.in_(list(ids)))
        for specs_id, key, value in conn.execute(query):
            found[specs_id][key] = value
    return found


def _to_specs(row: Row[Any], items: dict[str, str | None]) -> QosSpecs:
    return QosSpecs(
        id=row.id,
        name=row.name,
        consumer=row.consumer,
        created_at=row.created_at,
        updated_at=row.updated_at,
        specs=items,
    )


def get(conn: Connection, specs_id: str) -> QosSpecs:
    """The specs, or QoSSpecsNotFound."""
    row = conn.execute(select(specs_table).where(specs_table.c.id == specs_id)).first()
    if row is None:
        raise QoSSpecsNotFound(specs_id)
    return _to_specs(row, _items(conn, [row.id])[row.id])


def name_taken(conn: Connection, name: str) -> bool:
    query = select(specs_table.c.id).where(specs_table.c.name == name)
    return conn.execute(query).first() is not None


def create(conn: Connection, name: str, consumer: str, specs: Mapping[str, str | None]) -> QosSpecs:
    """A new row (the caller checks the name first; the unique index decides races)."""
    specs_id = str(uuid.uuid4())
    conn.execute(
        insert(specs_table).values(id=specs_id, name=name, consumer=consumer, created_at=now())
    )
    if specs:
        conn.execute(
            insert(qos_spec_items),
            [{"specs_id": specs_id, "key": k, "value": v} for k, v in specs.items()],
        )
    return get(conn, specs_id)


def list_specs(
    conn: Connection,
    *,
    filters: Mapping[str, str],
    sort: Sequence[tuple[str, str]],
    limit: int | None,
    marker: str | None,
    offset: int = 0,
) -> list[QosSpecs]:
    """A page of specs; a filter on anything but id, name or consumer matches nothing
    (Cinder filters on its table's columns and finds nothing for the others)."""
    clauses: list[ColumnElement[bool]] = []
    for key, value in filters.items():
        clauses.append(COLUMNS[key] == value if key in ("id", "name", "consumer") else false())
    tiebreak = sort[-1][1] if sort else "desc"
    keys = [(COLUMNS[k], d) for k, d in sort] + [(specs_table.c.id, tiebreak)]
    if marker:
        clauses.append(paging.after_marker(conn, specs_table, marker, keys))
    rows = paging.fetch(conn, select(specs_table), clauses, keys, limit, offset)
    items = _items(conn, [r.id for r in rows])
    return [_to_specs(r, items[r.id]) for r in rows]


def set_specs(
    conn: Connection, specs_id: str, consumer: str | None, specs: Mapping[str, str | None]
) -> None:
    """Add or replace ``specs`` (and the consumer, if given)."""
    values: dict[str, Any] = {"updated_at": now()}
    if consumer is not None:
        values["consumer"] = consumer
    conn.execute(update(specs_table).where(specs_table.c.id == specs_id).values(**values))
    if specs:
        conn.execute(
            delete(qos_spec_items).where(
                qos_spec_items.c.specs_id == specs_id, qos_spec_items.c.key.in_(list(specs))
            )
        )
        conn.execute(
            insert(qos_spec_items),
            [{"specs_id": specs_id, "key": k, "value": v} for k, v in specs.items()],
        )


def delete_keys(conn: Connection, specs: QosSpecs, keys: Sequence[str]) -> None:
    """Remove ``keys``: all of them, or none when one is missing (QoSSpecsKeyNotFound).

    Cinder removes the keys before the first missing one and then fails; here a failed
    request changes nothing.
    """
    for key in keys:
        if key not in specs.specs:
            raise QoSSpecsKeyNotFound(specs.id, key)
    if keys:
        conn.execute(
            delete(qos_spec_items).where(
                qos_spec_items.c.specs_id == specs.id, qos_spec_items.c.key.in_(list(keys))
            )
        )
    conn.execute(update(specs_table).where(specs_table.c.id == specs.id).values(updated_at=now()))


def remove(conn: Connection, specs_id: str) -> None:
    """Delete the specs and their keys; the caller has disassociated every type."""
    conn.execute(delete(qos_spec_items).where(qos_spec_items.c.specs_id == specs_id))
    conn.execute(delete(specs_table).where(specs_table.c.id == specs_id))


# -- associations ----------------------------------------------------------------------


def associations(conn: Connection, specs_id: str) -> list[tuple[str, str]]:
    """(id, name) of each volume type pointing at the specs."""
    query = (
        select(volume_types.c.id, volume_types.c.name)
        .where(volume_types.c.qos_specs_id == specs_id)
        .order_by(volume_types.c.created_at, volume_types.c.id)
    )
    return [(r.id, r.name) for r in conn.execute(query)]


def type_qos_id(conn: Connection, type_id: str) -> str | None:
    """The qos_specs_id of the type with this id (by id only, as Cinder looks it up)."""
    row = conn.execute(
        select(volume_types.c.qos_specs_id).where(volume_types.c.id == type_id)
    ).first()
    if row is None:
        raise VolumeTypeNotFound(type_id)
    qos_specs_id: str | None = row.qos_specs_id
    return qos_specs_id


def associate(conn: Connection, specs_id: str, type_id: str) -> None:
    conn.execute(
        update(volume_types)
        .where(volume_types.c.id == type_id)
        .values(qos_specs_id=specs_id, updated_at=now())
    )


def disassociate(conn: Connection, specs_id: str, type_id: str) -> None:
    """Clear the type's association if it is with these specs (else leave it)."""
    conn.execute(
        update(volume_types)
        .where(volume_types.c.id == type_id, volume_types.c.qos_specs_id == specs_id)
        .values(qos_specs_id=None, updated_at=now())
    )


def disassociate_all(conn: Connection, specs_id: str) -> None:
    conn.execute(
        update(volume_types)
        .where(volume_types.c.qos_specs_id == specs_id)
        .values(qos_specs_id=None, updated_at=now())
    )


def of_type(conn: Connection, type_id: str | None) -> QosSpecs | None:
    """The specs associated with a volume type, if any (what an export applies)."""
    if type_id is None:
        return None
    row = conn.execute(
        select(specs_table)
        .join(volume_types, volume_types.c.qos_specs_id == specs_table.c.id)
        .where(volume_types.c.id == type_id)
    ).first()
    if row is None:
        return None
    return _to_specs(row, _items(conn, [row.id])[row.id])
