"""Reading and writing the journal of migrations in flight (``volume_migrations``)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, or_, select, update

from firebrick.db.schema import volume_migrations as table
from firebrick.db.volumes import now


@dataclass
class Migration:
    volume_id: str
    source_host: str
    lock_volume: bool
    phase: str
    created_at: datetime
    updated_at: datetime
    target_id: str | None = None
    requested_host: str | None = None
    dest_host: str | None = None
    new_type_id: str | None = None
    # The source's export for a remote destination, with the target's secret: never shown.
    connection_info: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def is_retype(self) -> bool:
        return self.new_type_id is not None


def _to_migration(row: Any) -> Migration:
    m = row._mapping
    return Migration(**{k: m[k] for k in Migration.__dataclass_fields__})


def insert_migration(
    conn: Connection,
    *,
    volume_id: str,
    source_host: str,
    requested_host: str | None,
    new_type_id: str | None,
    lock_volume: bool,
    phase: str,
) -> None:
    stamp = now()
    conn.execute(
        insert(table).values(
            volume_id=volume_id, source_host=source_host, requested_host=requested_host,
            new_type_id=new_type_id, lock_volume=lock_volume, phase=phase,
            created_at=stamp, updated_at=stamp,
        )
    )  # fmt: skip


def find(conn: Connection, volume_id: str) -> Migration | None:
    row = conn.execute(select(table).where(table.c.volume_id == volume_id)).first()
    return _to_migration(row) if row is not None else None


def advance(
    conn: Connection,
    volume_id: str,
    values: Mapping[str, Any],
    *,
    phases: Collection[str],
) -> bool:
    """Set ``values`` if the migration is still in one of ``phases``; whether it was."""
    query = (
        update(table)
        .where(table.c.volume_id == volume_id, table.c.phase.in_(list(phases)))
        .values(updated_at=now(), **values)
    )
    return conn.execute(query).rowcount > 0


def remove(conn: Connection, volume_id: str, *, phases: Collection[str] | None = None) -> bool:
    """Drop the migration's row (only from one of ``phases`` if given); whether it was there."""
    query = delete(table).where(table.c.volume_id == volume_id)
    if phases is not None:
        query = query.where(table.c.phase.in_(list(phases)))
    return conn.execute(query).rowcount > 0


def _on(column: Any, backend: str) -> Any:
    return or_(column.startswith(f"{backend}#", autoescape=True), column == backend)


def to_destination(conn: Connection, backend: str) -> list[Migration]:
    """Migrations whose copy is placed on ``backend`` (``host@backend``)."""
    rows = conn.execute(select(table).where(_on(table.c.dest_host, backend)))
    return [_to_migration(r) for r in rows]


def from_source(conn: Connection, backend: str) -> list[Migration]:
    """Migrations whose volume is on ``backend`` (``host@backend``)."""
    rows = conn.execute(select(table).where(_on(table.c.source_host, backend)))
    return [_to_migration(r) for r in rows]


def stale(conn: Connection, phases: Collection[str], before: datetime) -> list[Migration]:
    """Migrations in one of ``phases`` whose row has not changed since ``before``."""
    rows = conn.execute(
        select(table).where(table.c.phase.in_(list(phases)), table.c.updated_at < before)
    )
    return [_to_migration(r) for r in rows]
