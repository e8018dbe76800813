"""A service SIGKILLed in the middle of a group snapshot or of a group copy: once it runs
again nothing is left in a transition, and every member is from the same moment."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from group_helpers import (
    create_from_src,
    create_group,
    create_group_snapshot,
    group_type,
    member,
    member_snapshots,
    members_of,
    mv,
    volume_type,
    wait_group,
    wait_group_snapshot,
)
from harness import Service
from lifecycle_helpers import pwrite_pattern, raw_holds

# Each snapshot and copy holds this long once made: time to kill the service between two.
SLOW = {"file-1": {"file_copy_delay": "1.0"}}
RECOVERY_TIMEOUT = 90.0


def files(service: Service, prefix: str) -> set[str]:
    folder = service.backends["file-1"].volume_dir
    return {p.name for p in folder.iterdir() if p.name.startswith(prefix)}


def slow_group(api: Any, service: Service) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    vt = volume_type(api)
    group = create_group(api, group_type(api), [vt])
    vols = [member(api, group, vt) for _ in range(3)]
    for i, vol in enumerate(vols):
        pwrite_pattern(volume_path(service, vol), 0x30 + i)
    return group, vols


def volume_path(service: Service, vol: dict[str, Any]) -> Path:
    return service.backends["file-1"].volume_path(vol["id"])


def nothing_in_transition(api: Any) -> None:
    volumes = api.get("/volumes/detail", headers=mv("3.13")).json()["volumes"]
    snapshots = api.get("/snapshots/detail").json()["snapshots"]
    groups = api.get("/groups/detail", headers=mv()).json()["groups"]
    group_snapshots = api.get("/group_snapshots/detail", headers=mv()).json()["group_snapshots"]
    stuck = [
        (kind, item["id"], item["status"])
        for kind, items in (
            ("volume", volumes),
            ("snapshot", snapshots),
            ("group", groups),
            ("group snapshot", group_snapshots),
        )
        for item in items
        if item["status"] in {"creating", "deleting", "updating"}
    ]
    assert stuck == []  # fmt: skip


def test_killed_mid_group_snapshot(start_service):
    svc = start_service(backends=SLOW)
    with svc.client() as api:
        group, vols = slow_group(api, svc)
        before = files(svc, "snapshot-")
        gs = create_group_snapshot(api, group["id"], wait=None)
        api.wait_for(lambda: len(files(svc, "snapshot-") - before) >= 1, "a first member snapshot")
        svc.stop(signal.SIGKILL)
        taken = len(files(svc, "snapshot-") - before)
        assert 1 <= taken < 3, "the kill came too late to interrupt the group snapshot"
        # Written while the service is down: the members taken before the kill do not hold
        # it; a group snapshot finished from there would mix two moments.
        for i, vol in enumerate(vols):
            pwrite_pattern(volume_path(svc, vol), 0x50 + i)
        project = api.project
    svc.restart()
    with svc.client(project) as api:
        wait_group_snapshot(api, gs["id"], timeout=RECOVERY_TIMEOUT)
        snaps = member_snapshots(api, gs["id"])
        assert {s["status"] for s in snaps} == {"available"} and len(snaps) == 3
        folder = svc.backends["file-1"].volume_dir
        for snap in snaps:
            index = [v["id"] for v in vols].index(snap["volume_id"])
            assert raw_holds(folder / f"snapshot-{snap['id']}", 0x50 + index), snap
        nothing_in_transition(api)
        assert "resuming interrupted create_group_snapshot" in svc.log("volume")


def test_killed_mid_group_copies(start_service):
    svc = start_service(backends=SLOW)
    with svc.client() as api:
        group, vols = slow_group(api, svc)
        gs = create_group_snapshot(api, group["id"])
        before = files(svc, "volume-")
        from_snapshot = create_from_src(api, wait=None, group_snapshot_id=gs["id"])
        api.wait_for(lambda: len(files(svc, "volume-") - before) >= 1, "a first copy")
        svc.stop(signal.SIGKILL)
        assert len(files(svc, "volume-") - before) < 3, "the kill came too late"
        project = api.project
    svc.restart()
    with svc.client(project) as api:
        wait_group(api, from_snapshot["id"], timeout=RECOVERY_TIMEOUT)
        copies = members_of(api, from_snapshot["id"])
        assert {c["status"] for c in copies} == {"available"} and len(copies) == 3
        by_source = {s["id"]: s["volume_id"] for s in member_snapshots(api, gs["id"])}
        for copy in copies:
            index = [v["id"] for v in vols].index(by_source[copy["snapshot_id"]])
            assert raw_holds(volume_path(svc, copy), 0x30 + index)
        nothing_in_transition(api)

        before = files(svc, "volume-")
        clone = create_from_src(api, wait=None, source_group_id=group["id"])
        api.wait_for(lambda: len(files(svc, "volume-") - before) >= 1, "a first clone")
        svc.stop(signal.SIGKILL)
        assert len(files(svc, "volume-") - before) < 3, "the kill came too late"
        for i, vol in enumerate(vols):
            pwrite_pattern(volume_path(svc, vol), 0x70 + i)
    svc.restart()
    with svc.client(project) as api:
        wait_group(api, clone["id"], timeout=RECOVERY_TIMEOUT)
        clones = members_of(api, clone["id"])
        assert {c["status"] for c in clones} == {"available"} and len(clones) == 3
        for copy in clones:
            index = [v["id"] for v in vols].index(copy["source_volid"])
            # Every clone from the same moment: after the restart, all of them.
            assert raw_holds(volume_path(svc, copy), 0x70 + index)
        nothing_in_transition(api)
