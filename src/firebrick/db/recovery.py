"""Queries of recovery: volumes left in a transitional status, and what a backend owns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, func, or_, select

from firebrick.db.schema import volumes


@dataclass(frozen=True)
class Pending:
    volume_id: str
    status: str
    host: str | None
    size: int


_STALE = select(volumes.c.id, volumes.c.status, volumes.c.host, volumes.c.size).where(
    volumes.c.status.in_(bindparam("statuses", expanding=True)),
    func.coalesce(volumes.c.updated_at, volumes.c.created_at) < bindparam("before"),
)


def stale(conn: Connection, statuses: list[str], before: datetime) -> list[Pending]:
    """Volumes in ``statuses`` whose row has not changed since ``before``."""
    rows = conn.execute(_STALE, {"statuses": statuses, "before": before})
    return [Pending(r.id, r.status, r.host, r.size) for r in rows]


def on_backend(conn: Connection, backend: str, statuses: list[str] | None = None) -> list[Pending]:
    """Volumes placed on ``backend`` (``host@backend``), optionally only in ``statuses``."""
    query = select(volumes.c.id, volumes.c.status, volumes.c.host, volumes.c.size).where(
        or_(volumes.c.host.startswith(f"{backend}#", autoescape=True), volumes.c.host == backend)
    )
    if statuses is not None:
        query = query.where(volumes.c.status.in_(statuses))
    return [Pending(r.id, r.status, r.host, r.size) for r in conn.execute(query)]
