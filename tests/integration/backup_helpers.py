"""What the backup tests share: waiting for backups, writing and reading volume data."""

from __future__ import annotations

import hashlib
import os
import random
import time
from pathlib import Path
from typing import Any

from harness import STATUS_TIMEOUT, Service, VolumeApi

MiB = 1 << 20
GiB = 1 << 30
FINAL = {"available", "error", "error_deleting"}


def wait_backup(
    api: VolumeApi, backup_id: str, status: str = "available", timeout: float = STATUS_TIMEOUT
) -> dict[str, Any]:
    """Poll ``GET /backups/{id}`` until ``status``; fail at once on another final status."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        resp = api.get(f"/backups/{backup_id}", headers=api.mv("3.71"))
        last = f"{resp.status_code} {resp.text}"
        if resp.status_code == 200:
            backup: dict[str, Any] = resp.json()["backup"]
            if backup["status"] == status:
                return backup
            if backup["status"] in FINAL:
                break
        time.sleep(0.05)
    raise AssertionError(f"backup {backup_id} did not reach {status}; last: {last}")


def wait_backup_gone(api: VolumeApi, backup_id: str, timeout: float = STATUS_TIMEOUT) -> None:
    api.wait_for(lambda: api.get(f"/backups/{backup_id}").status_code == 404,
                 f"backup {backup_id} deleted", timeout)  # fmt: skip


def create_backup(api: VolumeApi, volume_id: str, wait: str | None = "available",
                  **fields: Any) -> dict[str, Any]:  # fmt: skip
    resp = api.post("/backups", json={"backup": {"volume_id": volume_id, **fields}},
                    headers=api.mv("3.71"))  # fmt: skip
    assert resp.status_code == 202, resp.text
    backup: dict[str, Any] = resp.json()["backup"]
    return backup if wait is None else wait_backup(api, backup["id"], wait)


def restore(api: VolumeApi, backup_id: str, volume_id: str | None = None, **extra: Any
            ) -> dict[str, Any]:  # fmt: skip
    body: dict[str, Any] = {"restore": {**extra}}
    if volume_id is not None:
        body["restore"]["volume_id"] = volume_id
    resp = api.post(f"/backups/{backup_id}/restore", json=body)
    assert resp.status_code == 202, resp.text
    found: dict[str, Any] = resp.json()["restore"]
    return found


def write_pattern(path: Path, seed: int, regions: list[tuple[int, int]]) -> None:
    """Write seeded random bytes at each (offset, length)."""
    rng = random.Random(seed)
    with open(path, "r+b") as handle:
        for offset, length in regions:
            handle.seek(offset)
            handle.write(rng.randbytes(length))
        handle.flush()
        os.fsync(handle.fileno())


def digest(path: Path, size: int | None = None) -> str:
    """SHA-256 of the file's first ``size`` bytes (the whole file by default)."""
    sha = hashlib.sha256()
    remaining = size if size is not None else os.path.getsize(path)
    with open(path, "rb") as handle:
        while remaining > 0:
            piece = handle.read(min(8 * MiB, remaining))
            if not piece:
                piece = bytes(min(8 * MiB, remaining))
            sha.update(piece)
            remaining -= len(piece)
    return sha.hexdigest()


def volume_file(service: Service, volume_id: str) -> Path:
    path = service.find_volume_file(volume_id)
    assert path is not None, f"no file for volume {volume_id}"
    return path


def backup_objects(service: Service, backup: dict[str, Any]) -> list[Path]:
    """The stored objects of a backup in the default posix store, manifest included."""
    directory = service.state_path / "backup" / backup["container"]
    return sorted(p for p in directory.iterdir() if p.is_file()) if directory.is_dir() else []


def usage(api: VolumeApi) -> dict[str, int]:
    resp = api.get(f"/os-quota-sets/{api.project}", params={"usage": "true"})
    assert resp.status_code == 200, resp.text
    quota = resp.json()["quota_set"]
    return {k: quota[k]["in_use"] for k in ("backups", "backup_gigabytes")}
