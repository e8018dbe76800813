"""Quota limits and usage, kept exact by changing usage in the resource's own transaction.

Limits live in ``quotas``: a project's own rows under its id, a quota class's rows under
``__class__<name>`` (project ids never start with ``__``; the prefix is refused as a
project). A project's limit is its own row, else the ``default`` class's, else config.
Usage is only ``in_use``: nothing is ever reserved ahead of the transaction that
creates or removes the resource.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from sqlalchemy import (
    BigInteger,
    Connection,
    String,
    Update,
    bindparam,
    case,
    delete,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from firebrick.db.schema import quota_usages, quotas
from firebrick.domain.errors import InvalidInput

# pg_advisory_xact_lock(classid, objid) class of the per-project quota locks ("FBqu").
QUOTA_LOCK_CLASS = 0x46427175

CLASS_PREFIX = "__class__"
DEFAULT_CLASS = "default"

_LIMITS = select(quotas.c.resource, quotas.c.hard_limit).where(
    quotas.c.project_id == bindparam("project")
)
# A project's own limits and the default class's, in one statement.
_LIMITS_WITH_CLASS = select(quotas.c.project_id, quotas.c.resource, quotas.c.hard_limit).where(
    quotas.c.project_id.in_([bindparam("default_class"), bindparam("project")])
)
_DELETE_LIMITS = delete(quotas).where(quotas.c.project_id == bindparam("project"))
_DROP_LIMIT = delete(quotas).where(quotas.c.resource == bindparam("new"))
_DROP_USAGE = delete(quota_usages).where(quota_usages.c.resource == bindparam("new"))
_RENAME_LIMIT = (
    update(quotas).where(quotas.c.resource == bindparam("old")).values(resource=bindparam("new"))
)
_RENAME_USAGE = (
    update(quota_usages)
    .where(quota_usages.c.resource == bindparam("old"))
    .values(resource=bindparam("new"))
)
_USAGE = select(quota_usages.c.resource, quota_usages.c.in_use).where(
    quota_usages.c.project_id == bindparam("project")
)
_USAGE_LOCKED = _USAGE.with_for_update()
_LOCK_PROJECT = select(
    func.pg_advisory_xact_lock(QUOTA_LOCK_CLASS, func.hashtext(bindparam("project", type_=String)))
)


@functools.cache  # built once for each number of resources
def _add_each(count: int) -> Update:
    """``count`` usage rows of a project changed in one statement: ``in_use`` plus the
    delta its resource is given (``r0``/``d0``, ``r1``/``d1``, …)."""
    names = [bindparam(f"r{i}", type_=String) for i in range(count)]
    deltas = [bindparam(f"d{i}", type_=BigInteger) for i in range(count)]
    return (
        update(quota_usages)
        .where(
            quota_usages.c.project_id == bindparam("project"), quota_usages.c.resource.in_(names)
        )
        .values(
            in_use=quota_usages.c.in_use
            + case(
                *[(quota_usages.c.resource == n, d) for n, d in zip(names, deltas, strict=True)],
                else_=literal(0, BigInteger),
            )
        )
    )


_EXISTING = select(quota_usages.c.resource).where(quota_usages.c.project_id == bindparam("project"))


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


def _set_limit(dialect: str) -> Insert:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(quotas)
        .values(
            project_id=bindparam("project"),
            resource=bindparam("res"),
            hard_limit=bindparam("limit"),
        )
        .on_conflict_do_update(
            index_elements=[quotas.c.project_id, quotas.c.resource],
            set_={"hard_limit": bindparam("limit")},
        )
    )


_CREATE: dict[str, Insert] = {"postgresql": _create("postgresql"), "sqlite": _create("sqlite")}
_SET_LIMIT: dict[str, Insert] = {
    "postgresql": _set_limit("postgresql"),
    "sqlite": _set_limit("sqlite"),
}


def _class_key(class_name: str) -> str:
    return f"{CLASS_PREFIX}{class_name}"


def _own_limits(conn: Connection, key: str) -> dict[str, int]:
    return {resource: limit for resource, limit in conn.execute(_LIMITS, {"project": key})}


def _project_key(project_id: str) -> str:
    if project_id.startswith(CLASS_PREFIX):
        raise InvalidInput(f"Project id {project_id} is reserved for quota classes.")
    return project_id


def limits(conn: Connection, project_id: str, defaults: Mapping[str, int]) -> dict[str, int]:
    """A project's limits: ``defaults``, overridden by the default class, then its own."""
    key = _project_key(project_id)
    rows = conn.execute(
        _LIMITS_WITH_CLASS, {"default_class": _class_key(DEFAULT_CLASS), "project": key}
    ).all()
    found = dict(defaults)
    found.update((resource, limit) for owner, resource, limit in rows if owner != key)
    found.update((resource, limit) for owner, resource, limit in rows if owner == key)
    return found


def class_limits(conn: Connection, class_name: str, defaults: Mapping[str, int]) -> dict[str, int]:
    """A quota class's limits: ``defaults``, overridden by the default class, then its own."""
    found = dict(defaults)
    found.update(_own_limits(conn, _class_key(DEFAULT_CLASS)))
    if class_name != DEFAULT_CLASS:
        found.update(_own_limits(conn, _class_key(class_name)))
    return found


def _set(conn: Connection, key: str, new_limits: Mapping[str, int]) -> None:
    statement = _SET_LIMIT[conn.dialect.name]
    for resource, limit in new_limits.items():
        conn.execute(statement, {"project": key, "res": resource, "limit": limit})


def set_limits(conn: Connection, project_id: str, new_limits: Mapping[str, int]) -> None:
    """Give the project its own limit for each resource in ``new_limits``."""
    _set(conn, _project_key(project_id), new_limits)


def set_class_limits(conn: Connection, class_name: str, new_limits: Mapping[str, int]) -> None:
    _set(conn, _class_key(class_name), new_limits)


def delete_limits(conn: Connection, project_id: str) -> None:
    """Drop the project's own limits (back to the defaults); its usage stays."""
    conn.execute(_DELETE_LIMITS, {"project": _project_key(project_id)})


def rename_type(conn: Connection, old_name: str, new_name: str) -> None:
    """Carry every project's per-type limits and usage over to a renamed volume type.

    Rows already under the new name can only be left from a deleted type of that name
    (names are unique among live types); they are dropped first.
    """
    for prefix in ("volumes_", "snapshots_", "gigabytes_"):
        params = {"old": prefix + old_name, "new": prefix + new_name}
        conn.execute(_DROP_LIMIT, params)
        conn.execute(_DROP_USAGE, params)
        conn.execute(_RENAME_LIMIT, params)
        conn.execute(_RENAME_USAGE, params)


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
    """Add each delta to the project's usage of its resource; a row missing is made."""
    if not deltas:
        return
    # The rows that exist (all of them, but for a project's first use of a resource)
    # change in one statement.
    statement = _add_each(len(deltas))
    params: dict[str, object] = {"project": project_id}
    for i, (resource, delta) in enumerate(deltas.items()):
        params[f"r{i}"] = resource
        params[f"d{i}"] = delta
    if conn.execute(statement, params).rowcount == len(deltas):
        return
    existing = set(conn.execute(_EXISTING, {"project": project_id}).scalars())
    for resource, delta in deltas.items():
        if resource not in existing:
            conn.execute(
                _CREATE[conn.dialect.name],
                {"project": project_id, "res": resource, "delta": delta, "initial": max(delta, 0)},
            )
