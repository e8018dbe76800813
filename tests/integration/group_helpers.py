"""Shared helpers of the group tests: types, groups and group snapshots over HTTP.

Used by test_group_types.py, test_groups.py, test_group_snapshots.py,
test_group_recovery.py and test_keystone_groups.py.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from harness import STATUS_TIMEOUT, VolumeApi

GROUPS_MV = "3.14"  # groups (3.13) with group snapshots and create-from-src


def mv(version: str = GROUPS_MV) -> dict[str, str]:
    return {"OpenStack-API-Version": f"volume {version}"}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def volume_type(api: VolumeApi, backend: str | None = None, **extra_specs: str) -> dict[str, Any]:
    """A new volume type; ``backend`` pins it with ``volume_backend_name``."""
    if backend is not None:
        extra_specs["volume_backend_name"] = backend
    body = {"volume_type": {"name": unique("vt"), "extra_specs": extra_specs}}
    resp = api.post("/types", json=body)
    assert resp.status_code == 200, resp.text
    created: dict[str, Any] = resp.json()["volume_type"]
    return created


def group_type(api: VolumeApi, **specs: str) -> dict[str, Any]:
    body = {"group_type": {"name": unique("gt"), "group_specs": specs}}
    resp = api.post("/group_types", json=body, headers=mv("3.11"))
    assert resp.status_code == 202, resp.text
    created: dict[str, Any] = resp.json()["group_type"]
    return created


def show_group(api: VolumeApi, group_id: str, version: str = GROUPS_MV) -> dict[str, Any]:
    resp = api.get(f"/groups/{group_id}", headers=mv(version))
    assert resp.status_code == 200, resp.text
    found: dict[str, Any] = resp.json()["group"]
    return found


def wait_group(
    api: VolumeApi, group_id: str, status: str = "available", timeout: float = STATUS_TIMEOUT
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        last = show_group(api, group_id)
        if last["status"] == status:
            return last
        if last["status"] == "error" and status != "error":
            break
        time.sleep(0.05)
    raise AssertionError(f"group {group_id} did not reach {status}; last: {last}")


def wait_group_gone(api: VolumeApi, group_id: str, timeout: float = STATUS_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = api.get(f"/groups/{group_id}", headers=mv())
        if resp.status_code == 404:
            return
        time.sleep(0.05)
    raise AssertionError(f"group {group_id} is still there: {resp.text}")


def create_group(
    api: VolumeApi,
    gtype: dict[str, Any],
    vtypes: list[dict[str, Any]],
    wait: str | None = "available",
    **fields: Any,
) -> dict[str, Any]:
    body = {"group": {"group_type": gtype["id"], "volume_types": [t["id"] for t in vtypes],
                      "name": fields.pop("name", unique("group")), **fields}}  # fmt: skip
    resp = api.post("/groups", json=body, headers=mv())
    assert resp.status_code == 202, resp.text
    created: dict[str, Any] = resp.json()["group"]
    return created if wait is None else wait_group(api, created["id"], wait)


def member(api: VolumeApi, group: dict[str, Any], vtype: dict[str, Any], **fields: Any
           ) -> dict[str, Any]:  # fmt: skip
    """A new available volume of ``vtype`` created into ``group``."""
    resp = api.post(
        "/volumes",
        json={"volume": {"size": fields.pop("size", 1), "volume_type": vtype["id"],
                         "group_id": group["id"], **fields}},
        headers=mv("3.13"),
    )  # fmt: skip
    assert resp.status_code == 202, resp.text
    assert resp.json()["volume"]["group_id"] == group["id"]
    return api.wait_for_volume(resp.json()["volume"]["id"])


def group_action(api: VolumeApi, group_id: str, body: dict[str, Any], version: str = GROUPS_MV
                 ) -> Any:  # fmt: skip
    return api.post(f"/groups/{group_id}/action", json=body, headers=mv(version))


def delete_group(api: VolumeApi, group_id: str, delete_volumes: bool = True) -> None:
    resp = group_action(api, group_id, {"delete": {"delete-volumes": delete_volumes}})
    assert resp.status_code == 202, resp.text
    wait_group_gone(api, group_id)


def members_of(api: VolumeApi, group_id: str) -> list[dict[str, Any]]:
    resp = api.get("/volumes/detail", params={"group_id": group_id}, headers=mv("3.71"))
    assert resp.status_code == 200, resp.text
    found: list[dict[str, Any]] = resp.json()["volumes"]
    return found


def create_group_snapshot(api: VolumeApi, group_id: str, wait: str | None = "available",
                          **fields: Any) -> dict[str, Any]:  # fmt: skip
    body = {"group_snapshot": {"group_id": group_id, "name": fields.pop("name", unique("gs")),
                               **fields}}  # fmt: skip
    resp = api.post("/group_snapshots", json=body, headers=mv())
    assert resp.status_code == 202, resp.text
    created: dict[str, Any] = resp.json()["group_snapshot"]
    return created if wait is None else wait_group_snapshot(api, created["id"], wait)


def show_group_snapshot(api: VolumeApi, group_snapshot_id: str) -> dict[str, Any]:
    resp = api.get(f"/group_snapshots/{group_snapshot_id}", headers=mv())
    assert resp.status_code == 200, resp.text
    found: dict[str, Any] = resp.json()["group_snapshot"]
    return found


def wait_group_snapshot(
    api: VolumeApi, group_snapshot_id: str, status: str = "available",
    timeout: float = STATUS_TIMEOUT,
) -> dict[str, Any]:  # fmt: skip
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        last = show_group_snapshot(api, group_snapshot_id)
        if last["status"] == status:
            return last
        if last["status"] == "error" and status != "error":
            break
        time.sleep(0.05)
    raise AssertionError(f"group snapshot {group_snapshot_id} did not reach {status}: {last}")


def wait_group_snapshot_gone(api: VolumeApi, group_snapshot_id: str,
                             timeout: float = STATUS_TIMEOUT) -> None:  # fmt: skip
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = api.get(f"/group_snapshots/{group_snapshot_id}", headers=mv())
        if resp.status_code == 404:
            return
        time.sleep(0.05)
    raise AssertionError(f"group snapshot {group_snapshot_id} is still there: {resp.text}")


def member_snapshots(api: VolumeApi, group_snapshot_id: str) -> list[dict[str, Any]]:
    resp = api.get("/snapshots/detail", headers=mv())
    assert resp.status_code == 200, resp.text
    return [s for s in resp.json()["snapshots"] if s["group_snapshot_id"] == group_snapshot_id]


def create_from_src(api: VolumeApi, wait: str | None = "available", **source: Any
                    ) -> dict[str, Any]:  # fmt: skip
    body = {"create-from-src": {"name": source.pop("name", unique("copy")), **source}}
    resp = api.post("/groups/action", json=body, headers=mv())
    assert resp.status_code == 202, resp.text
    created: dict[str, Any] = resp.json()["group"]
    return created if wait is None else wait_group(api, created["id"], wait)


def group_events(notes: list[dict[str, Any]], event_type: str, **payload: Any
                 ) -> list[dict[str, Any]]:  # fmt: skip
    return [n for n in notes if n["event_type"] == event_type
            and all(n["payload"].get(k) == v for k, v in payload.items())]  # fmt: skip
