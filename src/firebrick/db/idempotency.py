"""Idempotency keys: a retried create returns the resource its first attempt made."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, bindparam, delete, insert, select

from firebrick.db.engine import Database
from firebrick.db.schema import idempotency_keys
from firebrick.db.volumes import now
from firebrick.domain.errors import Invalid

T = TypeVar("T")

_LOOKUP = select(idempotency_keys.c.resource_id, idempotency_keys.c.fingerprint).where(
    idempotency_keys.c.project_id == bindparam("project"),
    idempotency_keys.c.resource_type == bindparam("kind"),
    idempotency_keys.c.key == bindparam("key"),
)


def fingerprint(request: Any) -> str:
    """A digest of what was asked, to tell a retry from a different request."""
    data = asdict(request) if is_dataclass(request) and not isinstance(request, type) else request
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def lookup(
    conn: Connection, project_id: str, kind: str, key: str, request_fingerprint: str | None = None
) -> str | None:
    """The resource the key made, if any; a different request under the same key is a 400."""
    row = conn.execute(_LOOKUP, {"project": project_id, "kind": kind, "key": key}).first()
    if row is None:
        return None
    if request_fingerprint and row.fingerprint and row.fingerprint != request_fingerprint:
        raise Invalid(
            f"Idempotency-Key {key!r} was already used for a different {kind} create request."
        )
    return str(row.resource_id)


def forget(conn: Connection, project_id: str, kind: str, key: str) -> None:
    """Drop a key whose resource is gone, so that the key makes a new one."""
    conn.execute(
        delete(idempotency_keys).where(
            idempotency_keys.c.project_id == project_id,
            idempotency_keys.c.resource_type == kind,
            idempotency_keys.c.key == key,
        )
    )


def remember(
    conn: Connection,
    project_id: str,
    kind: str,
    key: str,
    resource_id: str,
    request_fingerprint: str | None = None,
) -> None:
    """Record the key in the resource's own transaction; a concurrent twin fails the insert."""
    conn.execute(
        insert(idempotency_keys).values(
            project_id=project_id, resource_type=kind, key=key, resource_id=resource_id,
            created_at=now(), fingerprint=request_fingerprint,
        )
    )  # fmt: skip


def replay(
    conn: Connection,
    project_id: str,
    kind: str,
    key: str,
    request_fingerprint: str | None,
    find: Callable[[Connection, str], T | None],
) -> T | None:
    """The resource an earlier request with ``key`` made, if it still exists.

    A key whose resource is gone is forgotten, so that it makes a new one.
    """
    existing = lookup(conn, project_id, kind, key, request_fingerprint)
    if existing is None:
        return None
    found = find(conn, existing)
    if found is None:
        forget(conn, project_id, kind, key)
    return found


def twin(
    db: Database, project_id: str, kind: str, key: str, get: Callable[[Connection, str], T]
) -> T | None:
    """After a create lost its key's insert to a concurrent twin: the twin's resource."""
    with db.read() as conn:
        existing = lookup(conn, project_id, kind, key)
        return None if existing is None else get(conn, existing)
