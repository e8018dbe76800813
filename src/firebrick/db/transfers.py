"""Reading and writing transfer rows.

Only active transfers (not accepted, not deleted) are ever read back. A transfer belongs
to the project that owns its volume, as in Cinder: a non-admin sees a transfer through
its volume.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, and_, false, func, insert, select
from sqlalchemy import update as sql_update

from firebrick.db import paging
from firebrick.db.schema import transfers, volumes
from firebrick.db.volumes import now
from firebrick.domain.transfers import Secret, Transfer, TransferNotFound

# Filter and sort names -> columns. The salt and hash are neither filters nor sort keys.
COLUMNS = {
    "id": transfers.c.id,
    "volume_id": transfers.c.volume_id,
    "display_name": transfers.c.display_name,
    "no_snapshots": transfers.c.no_snapshots,
    "source_project_id": transfers.c.source_project_id,
    "destination_project_id": transfers.c.destination_project_id,
    "accepted": transfers.c.accepted,
    "created_at": transfers.c.created_at,
    "updated_at": transfers.c.updated_at,
}
BOOLEAN_COLUMNS = frozenset({"no_snapshots", "accepted"})
TIME_COLUMNS = frozenset({"created_at", "updated_at"})

_ACTIVE = transfers.c.deleted == false()
_WITH_OWNER = select(transfers, volumes.c.project_id.label("owner")).join(
    volumes, volumes.c.id == transfers.c.volume_id
)


def _to_transfer(row: Row[Any]) -> Transfer:
    m = row._mapping
    return Transfer(
        id=m["id"],
        volume_id=m["volume_id"],
        name=m["display_name"],
        created_at=m["created_at"],
        no_snapshots=bool(m["no_snapshots"]),
        source_project_id=m["source_project_id"],
        destination_project_id=m["destination_project_id"],
        accepted=bool(m["accepted"]),
    )


def insert_transfer(conn: Connection, values: Mapping[str, Any]) -> None:
    conn.execute(insert(transfers), {"accepted": False, "deleted": False, **values})


def _row(conn: Connection, transfer_id: str, project_id: str | None) -> Row[Any]:
    query = _WITH_OWNER.where(transfers.c.id == transfer_id, _ACTIVE)
    if project_id is not None:
        query = query.where(volumes.c.project_id == project_id)
    row = conn.execute(query).first()
    if row is None:
        raise TransferNotFound(transfer_id)
    return row


def get(conn: Connection, transfer_id: str, project_id: str | None = None) -> Transfer:
    """The active transfer; ``project_id`` set: only if that project owns its volume."""
    return _to_transfer(_row(conn, transfer_id, project_id))


def secret(conn: Connection, transfer_id: str) -> Secret:
    row = _row(conn, transfer_id, None)
    return Secret(salt=row.salt, crypt_hash=row.crypt_hash)


def _clauses(project_id: str | None, filters: Mapping[str, Any]) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = [_ACTIVE]
    if project_id is not None:
        clauses.append(volumes.c.project_id == project_id)
    for key, value in filters.items():
        clauses.append(COLUMNS[key] == value)
    return clauses


def list_transfers(
    conn: Connection,
    *,
    project_id: str | None,
    filters: Mapping[str, Any],
    sort: Sequence[tuple[str, str]],
    limit: int | None,
    marker: str | None,
    offset: int = 0,
) -> list[Transfer]:
    """A page of active transfers; ``filters`` are exact matches on ``COLUMNS``."""
    clauses = _clauses(project_id, filters)
    keys = [(COLUMNS[k], d) for k, d in sort]
    if not any(column is transfers.c.id for column, _ in keys):
        keys.append((transfers.c.id, keys[-1][1] if keys else "asc"))
    if marker:
        # The marker must be a transfer the caller could see (Cinder looks it up so).
        clauses.append(paging.after(_row(conn, marker, project_id), keys))
    rows = paging.fetch(conn, _WITH_OWNER, clauses, keys, limit, offset)
    return [_to_transfer(r) for r in rows]


def count(conn: Connection, *, project_id: str | None, filters: Mapping[str, Any]) -> int:
    query = select(func.count()).select_from(
        transfers.join(volumes, volumes.c.id == transfers.c.volume_id)
    )
    return int(conn.execute(query.where(and_(*_clauses(project_id, filters)))).scalar_one())


def _close(conn: Connection, transfer_id: str, values: Mapping[str, Any]) -> bool:
    stamp = now()
    query = sql_update(transfers).where(transfers.c.id == transfer_id, _ACTIVE)
    result = conn.execute(query.values(deleted=True, deleted_at=stamp, updated_at=stamp, **values))
    return result.rowcount > 0


def retire_stale(conn: Connection, volume_id: str) -> int:
    """Retire the offers of a volume that is no longer awaiting transfer (an admin reset
    its status): a new offer must not leave an old key able to take it."""
    stamp = now()
    query = sql_update(transfers).where(transfers.c.volume_id == volume_id, _ACTIVE)
    return conn.execute(query.values(deleted=True, deleted_at=stamp, updated_at=stamp)).rowcount


def mark_deleted(conn: Connection, transfer_id: str) -> bool:
    """Retire an active transfer; False if it was no longer active."""
    return _close(conn, transfer_id, {})


def mark_accepted(conn: Connection, transfer_id: str, destination_project_id: str) -> bool:
    """Retire an active transfer as accepted by ``destination_project_id``."""
    return _close(
        conn, transfer_id, {"accepted": True, "destination_project_id": destination_project_id}
    )
