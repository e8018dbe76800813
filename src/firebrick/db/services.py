"""Service registry and heartbeats, and the pools the volume services report."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, true, update
from sqlalchemy.dialects import postgresql, sqlite

from firebrick.db.schema import pools, services
from firebrick.db.volumes import now
from firebrick.domain.errors import InvalidInput
from firebrick.domain.model import PoolState

VOLUME_BINARY = "cinder-volume"


@dataclass
class ServiceRecord:
    id: int
    host: str
    binary: str
    availability_zone: str
    disabled: bool
    disabled_reason: str | None
    updated_at: datetime | None
    created_at: datetime
    frozen: bool = False

    def on_host(self, host: str) -> bool:
        """Cinder's ``host`` filter: the host itself, or any of its backends (host@…)."""
        return self.host == host or self.host.startswith(host + "@")

    def is_up(self, down_time: float, at: datetime | None = None) -> bool:
        seen = self.updated_at or self.created_at
        return (at or now()) - seen <= timedelta(seconds=down_time)


def heartbeat(conn: Connection, host: str, binary: str, topic: str, az: str) -> None:
    """Record that a service is alive (registering it the first time).

    Several processes may serve one host and binary (active-active): the insert gives way
    to the row another process created.
    """
    stamp = now()
    result = conn.execute(
        update(services)
        .where(services.c.host == host, services.c.binary == binary)
        .values(
            updated_at=stamp,
            availability_zone=az,
            report_count=services.c.report_count + 1,
        )
    )
    if result.rowcount == 0:
        insert_ = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        conn.execute(
            insert_(services)
            .values(
                host=host, binary=binary, topic=topic, availability_zone=az,
                disabled=False, report_count=1, created_at=stamp, updated_at=stamp,
            )
            .on_conflict_do_nothing(index_elements=[services.c.host, services.c.binary])
        )  # fmt: skip


def set_disabled(
    conn: Connection, host: str, binary: str, disabled: bool, reason: str | None = None
) -> bool:
    """Enable or disable a service (the scheduler skips disabled volume services)."""
    result = conn.execute(
        update(services)
        .where(services.c.host == host, services.c.binary == binary)
        .values(disabled=disabled, disabled_reason=reason if disabled else None)
    )
    return result.rowcount > 0


_SERVICES = select(services).order_by(services.c.id)
_SERVICES_OF = _SERVICES.where(services.c.binary == bindparam("binary"))
_POOLS = select(pools).order_by(pools.c.name)
_ALLOCATE = (
    update(pools)
    .where(pools.c.name == bindparam("pool"))
    .values(allocated_capacity_gb=pools.c.allocated_capacity_gb + bindparam("gb"))
)


def list_services(conn: Connection, binary: str | None = None) -> list[ServiceRecord]:
    rows = conn.execute(_SERVICES_OF, {"binary": binary}) if binary else conn.execute(_SERVICES)
    return [
        ServiceRecord(
            id=r.id, host=r.host, binary=r.binary, availability_zone=r.availability_zone,
            disabled=r.disabled, disabled_reason=r.disabled_reason,
            updated_at=r.updated_at, created_at=r.created_at, frozen=r.frozen,
        )
        for r in rows
    ]  # fmt: skip


def set_frozen(conn: Connection, hosts: list[str], frozen: bool) -> list[str]:
    """Freeze or thaw these volume services; the hosts whose flag changed."""
    changed = []
    for host in hosts:
        result = conn.execute(
            update(services)
            .where(services.c.host == host, services.c.binary == VOLUME_BINARY,
                   services.c.frozen == (not frozen))
            .values(frozen=frozen)
        )  # fmt: skip
        if result.rowcount:
            changed.append(host)
    return changed


_FROZEN = select(services.c.id).where(
    services.c.host == bindparam("host"),
    services.c.binary == VOLUME_BINARY,
    services.c.frozen == true(),
)


def assert_not_frozen(conn: Connection, volume_host: str | None) -> None:
    """InvalidInput when the volume service of ``volume_host`` (``host@backend#pool``) is
    frozen: it keeps serving what it has, but nothing on it may change (Cinder's check)."""
    if volume_host and conn.execute(_FROZEN, {"host": volume_host.split("#", 1)[0]}).first():
        raise InvalidInput("Modification operations are not allowed on frozen storage backends.")


def report_pools(
    conn: Connection,
    backend: str,
    az: str,
    reports: Mapping[str, Mapping[str, Any]],
    allocated: Mapping[str, float] | None = None,
) -> None:
    """Store a backend's latest pool reports; ``allocated`` resets the exact counters."""
    stamp = now()
    known = {r.name for r in conn.execute(select(pools.c.name).where(pools.c.backend == backend))}
    for name, caps in reports.items():
        values: dict[str, Any] = {
            "capabilities": dict(caps), "availability_zone": az, "updated_at": stamp,
        }  # fmt: skip
        if allocated is not None:
            values["allocated_capacity_gb"] = float(allocated.get(name, 0))
        if name in known:
            conn.execute(update(pools).where(pools.c.name == name).values(**values))
        else:
            values.setdefault("allocated_capacity_gb", float((allocated or {}).get(name, 0)))
            conn.execute(insert(pools).values(name=name, backend=backend, **values))


def lock_pools(conn: Connection, backend: str) -> None:
    """Lock a backend's pool rows until the transaction ends (``SELECT … FOR UPDATE``), as
    a placement locks the row it commits against: counting allocations under this lock
    sees every placement committed before and is seen by every one committed after."""
    conn.execute(select(pools.c.name).where(pools.c.backend == backend).with_for_update())


def allocations(conn: Connection, backend: str) -> dict[str, float]:
    query = select(pools.c.name, pools.c.allocated_capacity_gb).where(pools.c.backend == backend)
    return {name: float(gb) for name, gb in conn.execute(query)}


def current_capabilities(
    capabilities: dict[str, Any], allocated: float, reported_at: datetime
) -> dict[str, Any]:
    """The last report brought up to date with the allocations made since it was sent.

    A placement or a delete changes ``allocated_capacity_gb`` at once; the free space the
    driver reported is moved by the same amount until its next report says otherwise.
    """
    caps = dict(capabilities)
    at_report = caps.get("allocated_capacity_gb")
    free = caps.get("free_capacity_gb")
    if isinstance(at_report, (int, float)) and isinstance(free, (int, float)):
        caps["free_capacity_gb"] = max(0.0, round(free - (allocated - at_report), 2))
    caps["allocated_capacity_gb"] = allocated
    provisioned = caps.get("provisioned_capacity_gb")
    if not isinstance(provisioned, (int, float)) or provisioned < allocated:
        caps["provisioned_capacity_gb"] = allocated
    caps["timestamp"] = reported_at.isoformat()
    return caps


def to_pool_state(row: Any) -> PoolState:
    allocated = float(row.allocated_capacity_gb)
    return PoolState(
        name=row.name,
        backend=row.backend,
        availability_zone=row.availability_zone,
        capabilities=current_capabilities(row.capabilities, allocated, row.updated_at),
        allocated_capacity_gb=allocated,
    )


def pool_states(conn: Connection, live_backends: set[str] | None = None) -> list[PoolState]:
    return [
        to_pool_state(r)
        for r in conn.execute(_POOLS)
        if live_backends is None or r.backend in live_backends
    ]


def add_allocation(conn: Connection, pool_name: str, size_gb: float) -> None:
    conn.execute(_ALLOCATE, {"pool": pool_name, "gb": size_gb})
