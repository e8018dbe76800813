"""The pool row a placement commits against, locked so that concurrent schedulers agree."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, select

from firebrick.db import services
from firebrick.db.schema import pools
from firebrick.domain.model import PoolState

_LOCK_POOL = select(pools).where(pools.c.name == bindparam("pool")).with_for_update()


def lock_pool(conn: Connection, name: str) -> PoolState | None:
    """The pool as it is now, its row locked until the transaction ends (PostgreSQL).

    On SQLite the write transaction already holds the database's one write lock.
    """
    row = conn.execute(_LOCK_POOL, {"pool": name}).first()
    if row is None:
        return None
    return services.to_pool_state(row)
