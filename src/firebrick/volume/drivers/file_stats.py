"""What a file backend reports: its pool's capacity and capabilities, or that it is down.

A backend is down when its directory is gone, no longer the backend's (a filesystem
unmounted from under it: the marker file is missing) or read-only: it then reports no
capacity and the reason, so the scheduler places nothing there and says why, instead of
failing every create one by one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from firebrick.volume.drivers.file_store import MARKER, GiB

if TYPE_CHECKING:
    from firebrick.volume.drivers.file import FileDriver

VERSION = "1.1.0"
# What Cinder's open-source reference drivers (LVM, NFS, RBD) report.
VENDOR = "Open Source"


def health(directory: Path) -> str | None:
    """Why the backend in ``directory`` cannot be used now, or None."""
    try:
        if not (directory / MARKER).is_file():
            return f"the backend directory {directory} is missing or unmounted"
        fs = os.statvfs(directory)
    except OSError as exc:
        return f"the backend directory {directory}: {os.strerror(exc.errno or 0)}"
    if fs.f_flag & os.ST_RDONLY:
        return f"the filesystem of {directory} is read-only"
    return None


def report(driver: FileDriver, allocated_gb: dict[str, float]) -> dict[str, Any]:
    pool = driver.backend.volume_backend_name
    backend: dict[str, Any] = {
        "volume_backend_name": pool, "vendor_name": VENDOR, "driver_version": VERSION,
    }  # fmt: skip
    problem = driver.health() or (None if driver.initialized else "not set up yet")
    if problem is not None:
        down = {"pool_name": pool, "total_capacity_gb": 0, "free_capacity_gb": 0,
                "allocated_capacity_gb": allocated_gb.get(pool, 0.0)}  # fmt: skip
        return {**backend, "backend_state": "down", "backend_state_reason": problem,
                "pools": [down]}  # fmt: skip
    fs = os.statvfs(driver.directory)
    total = fs.f_blocks * fs.f_frsize / GiB
    free = fs.f_bavail * fs.f_frsize / GiB
    if driver.capacity_gb is not None:
        total = min(total, driver.capacity_gb)
        free = max(0.0, min(free, driver.capacity_gb - driver.store.used_gb()))
    return {
        **backend,
        "clone_method": driver.clone_method,
        "volume_format": driver.volume_format,
        "backend_state": "up",
        "pools": [
            {
                "pool_name": pool,
                "total_capacity_gb": round(total, 2),
                "free_capacity_gb": round(free, 2),
                "allocated_capacity_gb": allocated_gb.get(pool, 0.0),
                "reserved_percentage": driver.backend.reserved_percentage,
                "max_over_subscription_ratio": driver.backend.max_over_subscription_ratio,
                "thin_provisioning_support": driver.thin,
                "thick_provisioning_support": not driver.thin,
                "multiattach": True,
                # Targets export a fixed size: an attached volume is not grown.
                "online_extend_support": False,
                "clone_method": driver.clone_method,
            }
        ],
    }
