"""Quota limits and usage, kept exact by changing usage in the resource's own transaction."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Connection, String, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from firebrick.db.schema import quota_usages, quotas

# pg_advisory_xact_lock(classid, objid) class of the per-project quota locks ("FBqu").
QUOTA_LOCK_CLASS = 0x46427175

_LIMITS = select(quotas.c.resource, quotas.c.hard_limit).where(
    quotas.c.project_id == bindparam("project")
)
_USAGE = select(quota_usages.c.resource, quota_usages.c.in_use).where(
    quota_usages.c.project_id == bindparam("project")
)
_USAGE_LOCKED = _USAGE.with_for_update()
_LOCK_PROJECT = select(
    func.pg_advisory_xact_lock(QUOTA_LOCK_CLASS, func.hashtext(bindparam("project", type_=String)))
)
_ADD = (
    update(quota_usages)
    .where(
        quota_usages.c.project_id == bindparam("project"),
        quota_usages.c.resource == bindparam("res"),
    )
    .values(in_use=quota_usages.c.in_use + bindparam("delta"))
)


def _create(dialect: str) -> Insert:
    """Insert a usage row, or add to it when a concurrent transaction just created it."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(quota_usages)
        .values(
            project_id=bindparam("project"),
            resource=bindparam("res"),
            in_use=bindparam("initial"),
        )
        .on_conflict_do_update(
            index_elements=[quota_usages.c.project_id, quota_usages.c.resource],
            set_={"in_use": quota_usages.c.in_use + bindparam("delta")},
        )
    )


_CREATE: dict[str, Insert] = {"postgresql": _create("postgresql"), "sqlite": _create("sqlite")}


def limits(conn: Connection, project_id: str, defaults: Mapping[str, int]) -> dict[str, int]:
    found = dict(defaults)
    for resource, hard_limit in conn.execute(_LIMITS, {"project": project_id}):
        found[resource] = hard_limit
    return found


def usage(conn: Connection, project_id: str, *, lock: bool = False) -> dict[str, int]:
    """In-use counts; ``lock`` holds the project's usage until the transaction ends.

    On SQLite the write transaction already holds the database's one write lock. On
    PostgreSQL a row lock alone would not cover usage rows that do not exist yet (a
    project's first volume), so the project's advisory lock is taken first.
    """
    if lock and conn.dialect.name == "postgresql":
        conn.execute(_LOCK_PROJECT, {"project": project_id})
    query = _USAGE_LOCKED if lock else _USAGE
    return {resource: in_use for resource, in_use in conn.execute(query, {"project": project_id})}


def add_usage(conn: Connection, project_id: str, deltas: Mapping[str, int]) -> None:
    for resource, delta in deltas.items():
        params = {"project": project_id, "res": resource, "delta": delta}
        result = conn.execute(_ADD, params)
        if result.rowcount == 0:
            conn.execute(_CREATE[conn.dialect.name], {**params, "initial": max(delta, 0)})
