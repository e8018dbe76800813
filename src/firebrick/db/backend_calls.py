"""Rows of ``backend_calls``: a question the API put to a volume service, and its answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from firebrick.db.schema import backend_calls
from firebrick.db.volumes import now

# The bus request a volume service answers by writing into this table.
CALL = "backend_call"


@dataclass(frozen=True)
class Answer:
    finished: bool
    result: Any = None
    error_code: int | None = None
    error: str | None = None


def start(conn: Connection, call_id: str, backend: str, method: str) -> None:
    conn.execute(
        insert(backend_calls).values(id=call_id, backend=backend, method=method, created_at=now())
    )


def finish(
    conn: Connection,
    call_id: str,
    *,
    result: Any = None,
    error_code: int | None = None,
    error: str | None = None,
) -> bool:
    """Record the answer; False when nobody waits for it any more (the row is gone)."""
    query = (
        update(backend_calls)
        .where(backend_calls.c.id == call_id, backend_calls.c.finished_at.is_(None))
        .values(result=result, error_code=error_code, error=error, finished_at=now())
    )
    return conn.execute(query).rowcount > 0


def answer(conn: Connection, call_id: str) -> Answer | None:
    row = conn.execute(select(backend_calls).where(backend_calls.c.id == call_id)).first()
    if row is None:
        return None
    return Answer(row.finished_at is not None, row.result, row.error_code, row.error)


def remove(conn: Connection, call_id: str) -> None:
    conn.execute(delete(backend_calls).where(backend_calls.c.id == call_id))


def purge(conn: Connection, before: datetime) -> None:
    """Forget calls older than ``before`` (their callers gave up long ago)."""
    conn.execute(delete(backend_calls).where(backend_calls.c.created_at < before))
