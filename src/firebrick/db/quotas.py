"""Quota limits and usage, kept exact by changing usage in the resource's own transaction."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Connection, insert, select, update

from firebrick.db.schema import quota_usages, quotas


def limits(conn: Connection, project_id: str, defaults: Mapping[str, int]) -> dict[str, int]:
    found = dict(defaults)
    query = select(quotas.c.resource, quotas.c.hard_limit).where(quotas.c.project_id == project_id)
    for resource, hard_limit in conn.execute(query):
        found[resource] = hard_limit
    return found


def usage(conn: Connection, project_id: str, *, lock: bool = False) -> dict[str, int]:
    query = select(quota_usages.c.resource, quota_usages.c.in_use).where(
        quota_usages.c.project_id == project_id
    )
    if lock:
        query = query.with_for_update()
    return {resource: in_use for resource, in_use in conn.execute(query)}


def add_usage(conn: Connection, project_id: str, deltas: Mapping[str, int]) -> None:
    for resource, delta in deltas.items():
        result = conn.execute(
            update(quota_usages)
            .where(quota_usages.c.project_id == project_id, quota_usages.c.resource == resource)
            .values(in_use=quota_usages.c.in_use + delta)
        )
        if result.rowcount == 0:
            conn.execute(
                insert(quota_usages).values(
                    project_id=project_id, resource=resource, in_use=max(delta, 0)
                )
            )
