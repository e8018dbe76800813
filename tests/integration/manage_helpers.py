"""Helpers of the manage/unmanage tests: a backend's files, its pool and a project's usage."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any

from harness import Service, VolumeApi

MiB = 1 << 20
GiB = 1 << 30


def files(directory: Path) -> dict[str, tuple[int, int, int, str]]:
    """Every name of ``directory`` with its inode, size, mtime and the hash of its first
    MiB (symlinks: their target), the driver's lock file aside: equal means untouched."""
    found = {}
    for path in sorted(p for p in directory.iterdir() if p.name != ".chain.lock"):
        st = path.lstat()
        if path.is_symlink():
            what = os.readlink(path)
        elif path.is_file():
            with open(path, "rb") as handle:
                what = hashlib.sha256(handle.read(MiB)).hexdigest()
        else:
            what = "not a file"
        found[path.name] = (st.st_ino, st.st_size, st.st_mtime_ns, what)
    return found


def pool_name(service: Service, backend: str = "file-1") -> str:
    return f"{service.host}@{backend}#{backend}"


def allocated(api: VolumeApi, pool: str) -> float:
    resp = api.get("/scheduler-stats/get_pools", params={"detail": "true"})
    assert resp.status_code == 200, resp.text
    found = {p["name"]: p["capabilities"] for p in resp.json()["pools"]}
    value: float = found[pool]["allocated_capacity_gb"]
    return value


def usage(api: VolumeApi) -> dict[str, int]:
    """``in_use`` of each quota resource of the client's project."""
    resp = api.get(f"/os-quota-sets/{api.project}", params={"usage": "true"})
    assert resp.status_code == 200, resp.text
    return {k: v["in_use"] for k, v in resp.json()["quota_set"].items() if isinstance(v, dict)}


def all_volume_ids(api: VolumeApi) -> set[str]:
    resp = api.get("/volumes", params={"all_tenants": "1"})
    assert resp.status_code == 200, resp.text
    return {v["id"] for v in resp.json()["volumes"]}


def all_snapshot_ids(api: VolumeApi) -> set[str]:
    resp = api.get("/snapshots", params={"all_tenants": "1"})
    assert resp.status_code == 200, resp.text
    return {s["id"] for s in resp.json()["snapshots"]}


def state(api: VolumeApi, service: Service, backend: str = "file-1") -> dict[str, Any]:
    """Everything a refused request must leave as it was."""
    return {
        "files": files(service.backends[backend].volume_dir),
        "volumes": all_volume_ids(api),
        "snapshots": all_snapshot_ids(api),
        "usage": usage(api),
        "allocated": allocated(api, pool_name(service, backend)),
    }


def manage_volume(api: VolumeApi, host: str, source: str, **fields: Any) -> Any:
    """POST /os-volume-manage of the file ``source`` (``fields``: name, metadata, ...)."""
    return api.post(
        "/os-volume-manage",
        json={"volume": {"host": host, "ref": {"source-name": source}, **fields}},
    )


def manage_snapshot(api: VolumeApi, volume_id: str, ref: Any, **fields: Any) -> Any:
    return api.post(
        "/os-snapshot-manage",
        json={"snapshot": {"volume_id": volume_id, "ref": ref, **fields}},
    )


def manageable(api: VolumeApi, kind: str, host: str, **params: Any) -> list[dict[str, Any]]:
    resp = api.get(
        f"/manageable_{kind}s/detail", params={"host": host, **params}, headers=api.mv("3.8")
    )
    assert resp.status_code == 200, resp.text
    entries: list[dict[str, Any]] = resp.json()[f"manageable-{kind}s"]
    return entries


def entry_for(entries: list[dict[str, Any]], name: str) -> dict[str, Any]:
    found = [e for e in entries if e["reference"] == {"source-name": name}]
    assert len(found) == 1, f"{name} not listed once in {entries}"
    return found[0]


def wait_until(predicate: Any, what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
