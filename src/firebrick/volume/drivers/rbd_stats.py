"""What an RBD backend reports to the scheduler: Cinder's RBD capabilities and capacity.

Capacity comes from the cluster (``ceph df`` and the pool's quota, as Cinder computes it):
with a quota the total is the quota and free what is left of it (no more than the pool's
``max_avail``); without one the total is the cluster's size and free the pool's
``max_avail``; ``report_dynamic_total_capacity`` (default) reports used + free as the
total instead. Images are thin, so the scheduler over-subscribes by
``max_over_subscription_ratio``. ``provisioned_capacity_gb`` is the sum of the pool's image
sizes when the pool is shared (``rbd_exclusive_cinder_pool = false``); in an exclusive
pool the scheduler's own count of allocations is the same number, and cheaper.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

from firebrick.domain.errors import DriverError
from firebrick.volume.drivers.rbd_client import GiB, bindings
from firebrick.volume.drivers.rbd_images import opened

if TYPE_CHECKING:
    from firebrick.volume.drivers.rbd import RbdDriver

LOG = logging.getLogger("firebrick.volume")


def pool_capacity(driver: RbdDriver) -> tuple[float, float]:
    """(free, total) GiB of the backend's pool, rounded to 2 digits."""
    pool = driver.options.pool
    df = driver.client.mon_command({"prefix": "df"})
    quota = driver.client.mon_command({"prefix": "osd pool get-quota", "pool": pool})
    stats = next(p["stats"] for p in df["pools"] if p["name"] == pool)
    used = float(stats.get("stored", stats.get("bytes_used", 0)))
    max_avail = float(stats["max_avail"])
    bytes_quota = float(quota.get("quota_max_bytes") or 0)
    if bytes_quota:
        total = bytes_quota
        free = max(min(total - used, max_avail), 0.0)
    else:
        total = float(df["stats"]["total_bytes"])
        free = max_avail
    if driver.options.dynamic_total_capacity:
        total = free + used
    return round(free / GiB, 2), round(total / GiB, 2)


def provisioned_gb(driver: RbdDriver) -> int:
    """Sum of the sizes of every image in the pool (snapshots not counted), in GiB."""
    _rados, rbd = bindings()
    total = 0
    with driver.client.ioctx() as ioctx:
        for name in rbd.RBD().list(ioctx):
            try:
                with opened(rbd, ioctx, name, read_only=True) as image:
                    total += int(image.size())
            except rbd.ImageNotFound:
                continue
    return math.ceil(total / GiB)


def volume_stats(driver: RbdDriver, allocated_gb: dict[str, float]) -> dict[str, Any]:
    rados, rbd = bindings()
    opts = driver.options
    backend = driver.backend
    location = ":".join([opts.cluster_name, opts.ceph_conf or "", driver.secret_uuid or "",
                         opts.user or "", opts.pool])  # fmt: skip
    pool: dict[str, Any] = {
        "pool_name": backend.volume_backend_name,
        "total_capacity_gb": 0.0,
        "free_capacity_gb": 0.0,
        "allocated_capacity_gb": allocated_gb.get(backend.volume_backend_name, 0.0),
        "reserved_percentage": backend.reserved_percentage,
        "max_over_subscription_ratio": backend.max_over_subscription_ratio,
        "thin_provisioning_support": True,
        "thick_provisioning_support": False,
        "multiattach": True,
        "online_extend_support": True,
        "location_info": location,
        "backend_state": "down",
    }
    reason: str | None = None
    try:
        if not driver.initialized:
            raise DriverError(f"not set up: could not open the Ceph pool {opts.pool}")
        pool["free_capacity_gb"], pool["total_capacity_gb"] = pool_capacity(driver)
        if not opts.exclusive_pool:
            pool["provisioned_capacity_gb"] = provisioned_gb(driver)
        pool["backend_state"] = "up"
    except (rados.Error, rbd.Error, DriverError, KeyError, StopIteration) as exc:
        # Reported as down with no room: the scheduler places nothing here meanwhile.
        LOG.error("Backend %s: could not read the Ceph pool's capacity: %s", backend.name, exc)
        reason = str(exc)
        driver.client.reset()
    from firebrick.volume.drivers.rbd import VERSION

    return {
        "volume_backend_name": backend.volume_backend_name,
        "vendor_name": "Open Source",
        "driver_version": VERSION,
        "storage_protocol": "ceph",
        "location_info": location,
        "backend_state": pool["backend_state"],
        **({"backend_state_reason": reason} if reason else {}),
        "replication_enabled": False,
        "qos_support": False,
        "pools": [pool],
    }
