"""Idempotency keys: a retried create returns the resource its first attempt made."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, insert, select

from firebrick.db.schema import idempotency_keys
from firebrick.db.volumes import now

_LOOKUP = select(idempotency_keys.c.resource_id).where(
    idempotency_keys.c.project_id == bindparam("project"),
    idempotency_keys.c.resource_type == bindparam("kind"),
    idempotency_keys.c.key == bindparam("key"),
)


def lookup(conn: Connection, project_id: str, kind: str, key: str) -> str | None:
    row = conn.execute(_LOOKUP, {"project": project_id, "kind": kind, "key": key}).first()
    return None if row is None else str(row.resource_id)


def remember(conn: Connection, project_id: str, kind: str, key: str, resource_id: str) -> None:
    """Record the key in the resource's own transaction; a concurrent twin fails the insert."""
    conn.execute(
        insert(idempotency_keys).values(
            project_id=project_id, resource_type=kind, key=key, resource_id=resource_id,
            created_at=now(),
        )
    )  # fmt: skip
