"""Queries of recovery: volumes left in a transitional status, and what a backend owns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, bindparam, func, not_, or_, select

from firebrick.db.schema import volumes

# A migration's copy is created and moved on by its migration, never by create recovery.
NOT_MIGRATION_TARGET: ColumnElement[bool] = or_(
    volumes.c.migration_status.is_(None),
    not_(volumes.c.migration_status.startswith("target:", autoescape=True)),
)


@dataclass(frozen=True)
class Pending:
    volume_id: str
    status: str
    host: str | None
    size: int


_STALE = select(volumes.c.id, volumes.c.status, volumes.c.host, volumes.c.size).where(
    volumes.c.status.in_(bindparam("statuses", expanding=True)),
    func.coalesce(volumes.c.updated_at, volumes.c.created_at) < bindparam("before"),
    NOT_MIGRATION_TARGET,
)


def stale(conn: Connection, statuses: list[str], before: datetime) -> list[Pending]:
    """Volumes in ``statuses`` whose row has not changed since ``before``."""
    rows = conn.execute(_STALE, {"statuses": statuses, "before": before})
    return [Pending(r.id, r.status, r.host, r.size) for r in rows]


def on_backend(conn: Connection, backend: str, statuses: list[str] | None = None) -> list[Pending]:
    """Volumes placed on ``backend`` (``host@backend``), optionally only in ``statuses``
    (then without migration copies, which their migration moves on)."""
    query = select(volumes.c.id, volumes.c.status, volumes.c.host, volumes.c.size).where(
        _placed_on(backend)
    )
    if statuses is not None:
        query = query.where(volumes.c.status.in_(statuses), NOT_MIGRATION_TARGET)
    return [Pending(r.id, r.status, r.host, r.size) for r in conn.execute(query)]


def _placed_on(backend: str) -> ColumnElement[bool]:
    return or_(volumes.c.host.startswith(f"{backend}#", autoescape=True), volumes.c.host == backend)


def storage_on_backend(conn: Connection, backend: str) -> set[str]:
    """The storage ids (Cinder's ``name_id``) of every volume placed on ``backend``."""
    query = select(func.coalesce(volumes.c.name_id, volumes.c.id)).where(_placed_on(backend))
    return {row[0] for row in conn.execute(query)}
