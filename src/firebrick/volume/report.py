"""What a volume service publishes at every ``report_interval``: its heartbeat and each
pool's capabilities and capacity.

Each pool report carries the allocations it was measured against, so that the scheduler
can account for placements and deletes made after it. At start (``reset_allocations``)
the allocations are counted again from the volume rows, under the pools' lock.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from firebrick.db import services, volumes
from firebrick.db.engine import Database
from firebrick.rpc.bus import volume_topic
from firebrick.targets.base import STORAGE_PROTOCOLS, Target
from firebrick.volume.drivers.base import VolumeDriver


def publish(
    db: Database,
    driver: VolumeDriver,
    target: Target | None,
    backend: str,
    availability_zone: str,
    binary: str,
    *,
    reset_allocations: bool = False,
) -> None:
    # The driver is asked first, outside any transaction (a Ceph pool's stats or a slow
    # filesystem must not hold the pool rows); its figures are measured against the
    # allocations of that moment, the report carries the exact ones below.
    with db.read() as conn:
        measured = allocated(conn, backend, reset_allocations)
    stats = driver.get_volume_stats({name.split("#", 1)[1]: gb for name, gb in measured.items()})
    backend_caps: dict[str, Any] = {k: v for k, v in stats.items() if k != "pools"}
    if target is not None:
        # The driver stores; the target is what hosts speak to reach the data.
        backend_caps["storage_protocol"] = STORAGE_PROTOCOLS[target.protocol]
        # Back-end QoS specs are enforced by qemu-nbd's throttling, not by tgt.
        backend_caps["QoS_support"] = target.protocol == "nbd"
    with db.write() as conn:
        # Counted under the pools' lock: a placement the scheduler commits meanwhile is
        # either counted here or added after this write, never overwritten by it.
        services.lock_pools(conn, backend)
        exact = allocated(conn, backend, reset_allocations)
        reports = {}
        for pool in stats.get("pools", []):
            name = f"{backend}#{pool['pool_name']}"
            reports[name] = {**backend_caps, **pool, "allocated_capacity_gb": exact.get(name, 0.0)}
        services.heartbeat(conn, backend, binary, volume_topic(backend), availability_zone)
        reset_to = {n: exact.get(n, 0.0) for n in reports} if reset_allocations else None
        services.report_pools(conn, backend, availability_zone, reports, allocated=reset_to)


def allocated(conn: Connection, backend: str, counted: bool) -> dict[str, float]:
    """The pools' allocations: counted from the volume rows, or the running counters."""
    if counted:
        return {n: float(gb) for n, gb in volumes.allocated_by_pool(conn, backend).items()}
    return services.allocations(conn, backend)
