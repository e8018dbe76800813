"""Helpers for the migration and revert tests: data patterns in volume files, pools,
the migration's temporary copy, and the OpenStack CLI against a noauth service."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

from harness import Service, VolumeApi

MiB = 1 << 20
GiB = 1 << 30
MV = "3.71"
CLI_TIMEOUT = 120


def write_random(
    path: Path, seed: int, offsets: tuple[int, ...] = (0, 300 * MiB)
) -> dict[int, bytes]:
    """Write 1 MiB of seeded random bytes at each offset of a raw volume file; what was
    written where."""
    rng = random.Random(seed)
    written = {offset: rng.randbytes(MiB) for offset in offsets}
    with path.open("r+b") as handle:
        for offset, data in written.items():
            handle.seek(offset)
            handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return written


def holds(path: Path, written: dict[int, bytes], size: int = GiB) -> bool:
    """Whether the raw file has ``size`` bytes, the written data, and zeroes right after."""
    if path.stat().st_size != size:
        return False
    with path.open("rb") as handle:
        for offset, data in written.items():
            handle.seek(offset)
            if handle.read(len(data)) != data:
                return False
            if handle.read(4096) != bytes(4096):
                return False
    return True


def allocations(api: VolumeApi) -> dict[str, float]:
    """allocated_capacity_gb of every pool, as get_pools shows it."""
    resp = api.get("/scheduler-stats/get_pools", params={"detail": "true"})
    assert resp.status_code == 200, resp.text
    return {
        pool["name"]: float(pool["capabilities"]["allocated_capacity_gb"])
        for pool in resp.json()["pools"]
    }


def pool_of(service: Service, backend: str) -> str:
    return f"{service.host}@{backend}#{backend}"


def other_backend(service: Service, vol: dict[str, Any]) -> str:
    mine = vol["os-vol-host-attr:host"].split("@", 1)[1].split("#", 1)[0]
    return next(name for name in service.backends if name != mine)


def show(api: VolumeApi, volume_id: str) -> dict[str, Any]:
    resp = api.get(f"/volumes/{volume_id}", headers=api.mv(MV))
    assert resp.status_code == 200, resp.text
    found: dict[str, Any] = resp.json()["volume"]
    return found


def migrate(api: VolumeApi, volume_id: str, version: str = MV, **body: Any) -> Any:
    return api.post(f"/volumes/{volume_id}/action", json={"os-migrate_volume": body},
                    headers=api.mv(version))  # fmt: skip


def wait_migration(
    api: VolumeApi,
    volume_id: str,
    states: tuple[str, ...] = ("success", "error"),
    timeout: float = 60.0,
) -> dict[str, Any]:
    """Poll until the volume's migration_status is one of ``states``."""
    last: dict[str, Any] = {}

    def done() -> bool:
        nonlocal last
        last = show(api, volume_id)
        return last["migration_status"] in states

    try:
        api.wait_for(done, f"migration of {volume_id} in {states}", timeout=timeout)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last: {last}") from None
    return last


def copies_of(api: VolumeApi, volume_id: str) -> list[dict[str, Any]]:
    """The migration copies of the project (volumes no quota counts: Cinder's temporary
    volumes), while they exist: in flight as ``target:<volume_id>``, then being deleted."""
    resp = api.get("/volumes/detail", headers=api.mv(MV))
    assert resp.status_code == 200, resp.text
    copies = [v for v in resp.json()["volumes"] if not v["consumes_quota"]]
    for copy in copies:
        assert copy["migration_status"] in (f"target:{volume_id}", "deleting"), copy
    return copies


def wait_no_copies(api: VolumeApi, volume_id: str) -> None:
    api.wait_for(lambda: not copies_of(api, volume_id), f"copies of {volume_id} gone")


def openstack_cli(service: Service, project: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``openstack`` with the noauth token (admin) of ``project``, at microversion 3.71."""
    script = Path(sys.executable).parent / "openstack"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["HOME"] = str(service.state_path)
    return subprocess.run(
        [str(script), "--os-auth-type", "admin_token", "--os-token", f"tester:{project}",
         "--os-endpoint", service.endpoint(project), "--os-volume-api-version", MV, *args],
        capture_output=True, text=True, env=env, timeout=CLI_TIMEOUT,
    )  # fmt: skip
