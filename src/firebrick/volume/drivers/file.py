"""Volumes as raw sparse files in one directory.

Paths are built only from volume ids that Firebrick generated (UUIDs), never from user
input. Works on any filesystem; no kernel features needed.
"""

from __future__ import annotations

import errno
import os
import time
import uuid
from pathlib import Path
from typing import Any

from firebrick.config import BackendConfig
from firebrick.domain.errors import DriverError, DriverNotInitialized
from firebrick.domain.model import Volume
from firebrick.volume.drivers.base import ModelUpdate

GiB = 1 << 30
VERSION = "1.0.0"


class FileDriver:
    def __init__(self, backend: BackendConfig, state_path: Path) -> None:
        self.backend = backend
        default_dir = state_path / "volumes" / backend.name
        self.directory = Path(backend.get("file_volume_dir") or default_dir)
        cap = backend.get("file_capacity_gb")
        self.capacity_gb = float(cap) if cap else None
        self.thin = backend.get_bool("file_thin_provisioning", True)
        self.fail_create = backend.get_bool("file_fail_create", False)
        # Test hook: hold every create this long after making the file (crash tests).
        self.create_delay = float(backend.get("file_create_delay") or 0)
        self.initialized = False

    def do_setup(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.initialized = True

    def path(self, volume_id: str) -> Path:
        # uuid.UUID refuses anything that is not an id: no "..", no "/".
        return self.directory / f"volume-{uuid.UUID(volume_id)}"

    def _check(self) -> None:
        if not self.initialized:
            raise DriverNotInitialized(self.backend.name)

    def create_volume(self, volume: Volume) -> ModelUpdate:
        self._check()
        if self.fail_create:
            raise DriverError(f"Backend {self.backend.name} refused to create the volume.")
        path = self.path(volume.id)
        size = volume.size * GiB
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                if os.fstat(fd).st_size != size:
                    if self.thin:
                        os.ftruncate(fd, size)
                    else:
                        os.posix_fallocate(fd, 0, size)
            finally:
                os.close(fd)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                path.unlink(missing_ok=True)
            raise DriverError(
                f"Could not create volume file: {os.strerror(exc.errno or 0)}"
            ) from exc
        if self.create_delay:
            time.sleep(self.create_delay)
        return {"provider_location": path.name}

    def delete_volume(self, volume: Volume) -> None:
        self._check()
        try:
            self.path(volume.id).unlink(missing_ok=True)
        except OSError as exc:
            raise DriverError(
                f"Could not delete volume file: {os.strerror(exc.errno or 0)}"
            ) from exc

    def volume_ids(self) -> set[str]:
        """Ids of every volume that has storage on this backend."""
        found = set()
        with os.scandir(self.directory) as entries:
            for entry in entries:
                if entry.name.startswith("volume-"):
                    try:
                        found.add(str(uuid.UUID(entry.name[len("volume-") :])))
                    except ValueError:
                        continue
        return found

    def _used_gb(self) -> float:
        used = 0
        with os.scandir(self.directory) as entries:
            for entry in entries:
                if entry.name.startswith("volume-") and entry.is_file(follow_symlinks=False):
                    st = entry.stat(follow_symlinks=False)
                    used += st.st_blocks * 512 if self.thin else st.st_size
        return used / GiB

    def get_volume_stats(self, allocated_gb: dict[str, float]) -> dict[str, Any]:
        fs = os.statvfs(self.directory)
        total = fs.f_blocks * fs.f_frsize / GiB
        free = fs.f_bavail * fs.f_frsize / GiB
        if self.capacity_gb is not None:
            total = min(total, self.capacity_gb)
            free = max(0.0, min(free, self.capacity_gb - self._used_gb()))
        pool = self.backend.volume_backend_name
        return {
            "volume_backend_name": self.backend.volume_backend_name,
            "vendor_name": "Firebrick",
            "driver_version": VERSION,
            "storage_protocol": "file",
            "pools": [
                {
                    "pool_name": pool,
                    "total_capacity_gb": round(total, 2),
                    "free_capacity_gb": round(free, 2),
                    "allocated_capacity_gb": allocated_gb.get(pool, 0.0),
                    "reserved_percentage": self.backend.reserved_percentage,
                    "max_over_subscription_ratio": self.backend.max_over_subscription_ratio,
                    "thin_provisioning_support": self.thin,
                    "thick_provisioning_support": not self.thin,
                    "QoS_support": False,
                    "multiattach": False,
                    "online_extend_support": True,
                }
            ],
        }


def build(backend: BackendConfig, state_path: Path) -> FileDriver:
    return FileDriver(backend, state_path)
