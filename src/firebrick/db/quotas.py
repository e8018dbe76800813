"""Quota limits and usage, kept exact by changing usage in the resource's own transaction."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Connection, bindparam, insert, select, update

from firebrick.db.schema import quota_usages, quotas

_LIMITS = select(quotas.c.resource, quotas.c.hard_limit).where(
    quotas.c.project_id == bindparam("project")
)
_USAGE = select(quota_usages.c.resource, quota_usages.c.in_use).where(
    quota_usages.c.project_id == bindparam("project")
)
_USAGE_LOCKED = _USAGE.with_for_update()
_ADD = (
    update(quota_usages)
    .where(
        quota_usages.c.project_id == bindparam("project"),
        quota_usages.c.resource == bindparam("res"),
    )
    .values(in_use=quota_usages.c.in_use + bindparam("delta"))
)
_CREATE = insert(quota_usages)


def limits(conn: Connection, project_id: str, defaults: Mapping[str, int]) -> dict[str, int]:
    found = dict(defaults)
    for resource, hard_limit in conn.execute(_LIMITS, {"project": project_id}):
        found[resource] = hard_limit
    return found


def usage(conn: Connection, project_id: str, *, lock: bool = False) -> dict[str, int]:
    """In-use counts; ``lock`` holds the project's usage rows until the transaction ends."""
    query = _USAGE_LOCKED if lock else _USAGE
    return {resource: in_use for resource, in_use in conn.execute(query, {"project": project_id})}


def add_usage(conn: Connection, project_id: str, deltas: Mapping[str, int]) -> None:
    for resource, delta in deltas.items():
        result = conn.execute(_ADD, {"project": project_id, "res": resource, "delta": delta})
        if result.rowcount == 0:
            conn.execute(
                _CREATE,
                {"project_id": project_id, "resource": resource, "in_use": max(delta, 0)},
            )
