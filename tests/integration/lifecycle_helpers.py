"""Shared helpers for the lifecycle tests: clients, snapshot waits, patterns in files.

Used by test_snapshots.py, test_clones.py, test_volume_actions.py and test_idempotency.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import openstack
import pytest
from cinderclient import client as cinder_client
from harness import STATUS_TIMEOUT, Service, VolumeApi
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint

KiB = 1 << 10
MiB = 1 << 20
GiB = 1 << 30
FAR = 700 * MiB  # a second pattern far into a 1 GiB volume, past a hole

# Cinder's legacy usage payloads (notifications.md §2 and §4).
VOLUME_PAYLOAD_KEYS = {
    "tenant_id", "user_id", "host", "availability_zone", "volume_id", "volume_type",
    "display_name", "launched_at", "created_at", "status", "snapshot_id", "size",
    "replication_status", "replication_extended_status", "replication_driver_data",
    "metadata", "volume_attachment",
}  # fmt: skip
SNAPSHOT_PAYLOAD_KEYS = {
    "tenant_id", "user_id", "availability_zone", "volume_id", "volume_size", "snapshot_id",
    "display_name", "created_at", "status", "deleted", "metadata",
}  # fmt: skip
ENVELOPE_KEYS = {"message_id", "publisher_id", "event_type", "priority", "payload", "timestamp"}


def unavailable(reason: str) -> None:
    """Skip, or fail when ``CI`` is set (the environment must provide what CI needs)."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)")
    pytest.skip(reason)


# ---------------------------------------------------------------------------------------
# clients


def keystone_session(service: Service, project: str, user: str = "tester") -> Any:
    endpoint = service.endpoint(project)
    return ks_session.Session(auth=token_endpoint.Token(endpoint, f"{user}:{project}"))


def cinder_for(service: Service, project: str, version: str = "3.71") -> Any:
    return cinder_client.Client(version, session=keystone_session(service, project))


def sdk_for(service: Service, project: str) -> Any:
    return openstack.connection.Connection(
        session=keystone_session(service, project),
        block_storage_endpoint_override=service.endpoint(project),
        block_storage_api_version="3",
    )


# ---------------------------------------------------------------------------------------
# snapshots over HTTP


def create_snapshot(
    api: VolumeApi,
    volume_id: str,
    wait: str | None = "available",
    headers: dict[str, str] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    resp = api.post(
        "/snapshots", json={"snapshot": {"volume_id": volume_id, **fields}}, headers=headers
    )
    assert resp.status_code == 202, f"snapshot create: {resp.status_code} {resp.text}"
    snapshot: dict[str, Any] = resp.json()["snapshot"]
    if wait is None:
        return snapshot
    return wait_snapshot(api, snapshot["id"], wait)


def wait_snapshot(
    api: VolumeApi, snapshot_id: str, status: str = "available", timeout: float = STATUS_TIMEOUT
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        resp = api.get(f"/snapshots/{snapshot_id}", headers=api.mv("3.71"))
        last = f"{resp.status_code} {resp.text}"
        if resp.status_code == 200:
            snapshot: dict[str, Any] = resp.json()["snapshot"]
            if snapshot["status"] == status:
                return snapshot
            if snapshot["status"] in {"error", "error_deleting"} and status != snapshot["status"]:
                break
        time.sleep(0.02)
    raise AssertionError(f"snapshot {snapshot_id} did not reach {status}; last: {last}")


def wait_snapshot_gone(api: VolumeApi, snapshot_id: str, timeout: float = STATUS_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        resp = api.get(f"/snapshots/{snapshot_id}")
        if resp.status_code == 404:
            return
        last = f"{resp.status_code} {resp.text}"
        time.sleep(0.02)
    raise AssertionError(f"snapshot {snapshot_id} is still there; last: {last}")


def snapshot_ids(api: VolumeApi, **params: Any) -> list[str]:
    resp = api.get("/snapshots/detail", params=params)
    assert resp.status_code == 200, resp.text
    return [s["id"] for s in resp.json()["snapshots"]]


def reset_volume(api: VolumeApi, volume_id: str, status: str) -> None:
    resp = api.post(f"/volumes/{volume_id}/action", json={"os-reset_status": {"status": status}})
    assert resp.status_code == 202, resp.text


def reset_snapshot(api: VolumeApi, snapshot_id: str, status: str) -> None:
    resp = api.post(
        f"/snapshots/{snapshot_id}/action", json={"os-reset_status": {"status": status}}
    )
    assert resp.status_code == 202, resp.text


def volume(api: VolumeApi, volume_id: str) -> dict[str, Any]:
    resp = api.get(f"/volumes/{volume_id}", headers=api.mv("3.71"))
    assert resp.status_code == 200, resp.text
    found: dict[str, Any] = resp.json()["volume"]
    return found


def backend_of(vol: dict[str, Any]) -> str:
    host: str = vol["os-vol-host-attr:host"]
    return host.split("@", 1)[1].split("#", 1)[0]


def quota_usage(api: VolumeApi) -> dict[str, Any]:
    resp = api.get(f"/os-quota-sets/{api.project}", params={"usage": "true"})
    assert resp.status_code == 200, resp.text
    usage: dict[str, Any] = resp.json()["quota_set"]
    return usage


def set_quota(api: VolumeApi, **limits: int) -> None:
    resp = api.put(f"/os-quota-sets/{api.project}", json={"quota_set": limits})
    assert resp.status_code == 200, resp.text


def messages_for(api: VolumeApi, resource_uuid: str) -> list[dict[str, Any]]:
    resp = api.get("/messages", headers=api.mv("3.3"))
    assert resp.status_code == 200, resp.text
    return [m for m in resp.json()["messages"] if m.get("resource_uuid") == resource_uuid]


def pool_capabilities(api: VolumeApi) -> dict[str, dict[str, Any]]:
    resp = api.get("/scheduler-stats/get_pools", params={"detail": "true"})
    assert resp.status_code == 200, resp.text
    return {p["name"]: p["capabilities"] for p in resp.json()["pools"]}


def create_type(api: VolumeApi, **extra_specs: str) -> dict[str, Any]:
    name = f"t-{uuid.uuid4().hex[:10]}"
    resp = api.post("/types", json={"volume_type": {"name": name, "extra_specs": extra_specs}})
    assert resp.status_code == 200, resp.text
    created: dict[str, Any] = resp.json()["volume_type"]
    return created


# ---------------------------------------------------------------------------------------
# notifications


def events(service: Service, event_type: str, **payload: Any) -> list[dict[str, Any]]:
    """Notifications of ``event_type`` whose payload has these values."""
    return [
        n
        for n in service.notifications()
        if n.get("event_type") == event_type
        and isinstance(n.get("payload"), dict)
        and all(n["payload"].get(k) == v for k, v in payload.items())
    ]


def wait_event(
    service: Service, event_type: str, timeout: float = STATUS_TIMEOUT, **payload: Any
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = events(service, event_type, **payload)
        if found:
            return found[-1]
        time.sleep(0.05)
    raise AssertionError(f"no {event_type} notification with {payload}")


def assert_envelope(note: dict[str, Any], publisher_prefix: str) -> None:
    assert set(note) >= ENVELOPE_KEYS, note
    assert note["priority"] == "INFO", note
    assert note["publisher_id"].startswith(publisher_prefix), note


# ---------------------------------------------------------------------------------------
# data in files


def pwrite_pattern(path: Path, byte: int, offset: int = 0, length: int = MiB) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, bytes([byte]) * length, offset)
        os.fsync(fd)
    finally:
        os.close(fd)


def raw_holds(path: Path, byte: int, offset: int = 0, length: int = MiB) -> bool:
    with open(path, "rb") as handle:
        handle.seek(offset)
        return handle.read(length) == bytes([byte]) * length


def need_qemu() -> None:
    if shutil.which("qemu-img") is None or shutil.which("qemu-io") is None:
        unavailable("qemu-img/qemu-io are missing (apt-get install qemu-utils)")


def qcow2_write(path: Path, byte: int, offset: int = 0) -> None:
    command = f"write -P {byte:#x} {offset} 1M"
    subprocess.run(
        ["qemu-io", "-f", "qcow2", "-c", command, str(path)], check=True, capture_output=True
    )


def qcow2_holds(path: Path, byte: int, offset: int = 0) -> bool:
    command = f"read -P {byte:#x} {offset} 1M"
    done = subprocess.run(
        ["qemu-io", "-f", "qcow2", "-c", command, str(path)], capture_output=True, text=True
    )
    # qemu-io exits 0 even when the pattern differs; it says so on stdout.
    return done.returncode == 0 and "Pattern verification failed" not in done.stdout + done.stderr


def qcow2_virtual_size(path: Path) -> int:
    import json

    out = subprocess.run(
        ["qemu-img", "info", "-U", "--output=json", "-f", "qcow2", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    size: int = json.loads(out)["virtual-size"]
    return size


@contextmanager
def loop_xfs(workdir: Path, size: int = 3 * GiB) -> Iterator[Path]:
    """An XFS with reflink, loop-mounted under ``workdir`` and removed afterwards."""
    with loop_fs(workdir, "xfs", size) as mountpoint:
        yield mountpoint


MKFS = {"xfs": ["mkfs.xfs", "-q", "-m", "reflink=1"], "ext4": ["mkfs.ext4", "-q", "-F"]}


@contextmanager
def loop_fs(workdir: Path, fstype: str, size: int) -> Iterator[Path]:
    """A filesystem of ``size`` bytes (``xfs`` with reflink, or ``ext4``), loop-mounted
    under ``workdir`` and removed afterwards."""
    if os.geteuid() != 0:
        unavailable("a loop-mounted filesystem needs root")
    if not Path("/dev/loop-control").exists():
        unavailable("no loop device (/dev/loop-control is missing)")
    if shutil.which(MKFS[fstype][0]) is None:
        unavailable(f"{MKFS[fstype][0]} is missing")
    image, mountpoint = workdir / f"{fstype}.img", workdir / fstype
    mountpoint.mkdir()
    with open(image, "wb") as handle:
        handle.truncate(size)
    subprocess.run([*MKFS[fstype], str(image)], check=True)
    mounted = subprocess.run(
        ["mount", "-o", "loop", str(image), str(mountpoint)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        unavailable(f"cannot loop-mount the {fstype} image: {mounted.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)
        image.unlink(missing_ok=True)
