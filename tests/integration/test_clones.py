"""Volumes from snapshots and clones (``source_volid``), checked on the real files.

A pattern goes into the volume's file directly (pwrite for raw, qemu-io for qcow2), the
rest goes through the API; the new volume's file must hold what the source held at the
time of the snapshot or clone. Each clone method available here is exercised on its own
service: ``copy`` (the tmp filesystem, ext4), ``qcow2`` (``file_volume_format = qcow2``)
and ``reflink`` (an XFS with ``reflink=1`` loop-mounted by the test; skipped without root
or loop devices, failed instead when ``CI`` is set).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.register_assert_rewrite("lifecycle_helpers")

from lifecycle_helpers import (  # noqa: E402
    FAR,
    GiB,
    backend_of,
    cinder_for,
    create_snapshot,
    loop_xfs,
    need_qemu,
    pool_capabilities,
    pwrite_pattern,
    qcow2_holds,
    qcow2_virtual_size,
    qcow2_write,
    raw_holds,
    reset_snapshot,
    reset_volume,
    sdk_for,
    snapshot_ids,
    volume,
    wait_event,
    wait_snapshot,
    wait_snapshot_gone,
)

MISSING = "00000000-0000-0000-0000-000000000000"


@dataclass
class Format:
    name: str
    write: Callable[[Path, int, int], None]
    holds: Callable[[Path, int, int], bool]
    virtual_size: Callable[[Path], int]


RAW = Format("raw", pwrite_pattern, raw_holds, lambda p: os.stat(p).st_size)
QCOW2 = Format("qcow2", qcow2_write, qcow2_holds, qcow2_virtual_size)


def set_bootable(api, volume_id, flag=True):
    resp = api.post(f"/volumes/{volume_id}/action", json={"os-set_bootable": {"bootable": flag}})
    assert resp.status_code == 200, resp.text


def volume_file(service, volume_id):
    path = service.find_volume_file(volume_id)
    assert path is not None, f"no file for {volume_id} in {service.volume_files()}"
    return path


def exercise_data_path(service, fmt: Format, method: str) -> None:
    """Snapshot → overwrite → restore; clone; extend: the data each file must hold."""
    with service.client() as api:
        pools = pool_capabilities(api)
        assert pools, "no pools reported"
        assert {caps.get("clone_method") for caps in pools.values()} == {method}, pools

        src = api.create_volume(size=1, name="src")
        set_bootable(api, src["id"])
        src_path = volume_file(service, src["id"])
        fmt.write(src_path, 0xAB, 0)
        fmt.write(src_path, 0xAC, FAR)

        snap = create_snapshot(api, src["id"], name="before")
        src_path = volume_file(service, src["id"])
        fmt.write(src_path, 0xCD, 0)  # after the snapshot: must not reach it

        resp = api.post(
            "/volumes", json={"volume": {"size": 2, "snapshot_id": snap["id"], "name": "restored"}}
        )
        assert resp.status_code == 202, resp.text
        assert resp.json()["volume"]["snapshot_id"] == snap["id"]
        restored = api.wait_for_volume(resp.json()["volume"]["id"])
        assert restored["size"] == 2
        assert restored["snapshot_id"] == snap["id"]
        assert restored["source_volid"] is None
        assert restored["bootable"] == "true"
        assert restored["os-vol-host-attr:host"] == src["os-vol-host-attr:host"]
        restored_path = volume_file(service, restored["id"])
        assert fmt.holds(restored_path, 0xAB, 0), "restored volume lost the snapshot's data"
        assert fmt.holds(restored_path, 0xAC, FAR), "restored volume lost the far pattern"
        assert fmt.virtual_size(restored_path) == 2 * GiB
        assert fmt.holds(volume_file(service, src["id"]), 0xCD, 0)

        resp = api.post("/volumes", json={"volume": {"size": 2, "source_volid": src["id"]}})
        assert resp.status_code == 202, resp.text
        clone = api.wait_for_volume(resp.json()["volume"]["id"])
        assert clone["source_volid"] == src["id"]
        assert clone["snapshot_id"] is None
        assert clone["bootable"] == "true"
        assert clone["os-vol-host-attr:host"] == src["os-vol-host-attr:host"]
        clone_path = volume_file(service, clone["id"])
        assert fmt.holds(clone_path, 0xCD, 0), "clone does not hold the source's data"
        assert fmt.holds(clone_path, 0xAC, FAR)
        assert fmt.virtual_size(clone_path) == 2 * GiB

        # The copies are independent of their sources and of each other.
        fmt.write(clone_path, 0xEE, 0)
        fmt.write(restored_path, 0xEF, FAR)
        src_path = volume_file(service, src["id"])
        assert fmt.holds(src_path, 0xCD, 0)
        assert fmt.holds(src_path, 0xAC, FAR)
        assert fmt.holds(restored_path, 0xAB, 0)

        # A second restore from the same snapshot still sees the old data.
        again = api.create_volume(size=1, snapshot_id=snap["id"])
        assert fmt.holds(volume_file(service, again["id"]), 0xAB, 0)

        # Extend keeps the data and grows the file.
        resp = api.post(f"/volumes/{src['id']}/action", json={"os-extend": {"new_size": 3}})
        assert resp.status_code == 202, resp.text
        api.wait_for(lambda: volume(api, src["id"])["size"] == 3, "extend to 3 GiB")
        extended = api.wait_for_volume(src["id"])
        assert extended["size"] == 3
        src_path = volume_file(service, src["id"])
        assert fmt.virtual_size(src_path) == 3 * GiB
        assert fmt.holds(src_path, 0xCD, 0)
        assert fmt.holds(src_path, 0xAC, FAR)
        fmt.write(src_path, 0x77, 2 * GiB + 5 * (1 << 20))  # the new space is usable
        assert fmt.holds(src_path, 0x77, 2 * GiB + 5 * (1 << 20))

        # Everything goes, and leaves no file behind (qcow2 clone bases included).
        ids = [src["id"], restored["id"], clone["id"], again["id"], snap["id"]]
        for vid in (restored["id"], clone["id"], again["id"]):
            api.delete_volume(vid)
        resp = api.delete(f"/volumes/{src['id']}", params={"cascade": "true"})
        assert resp.status_code == 202, resp.text
        api.wait_for_gone(src["id"])
        wait_snapshot_gone(api, snap["id"])
        backend = service.backends[backend_of(src)]
        left = [p.name for p in backend.volume_dir.iterdir() if any(i in p.name for i in ids)]
        assert left == [], f"files left behind: {left}"


def test_data_copy_method(start_service):
    service = start_service(backends={"c1": {"file_clone_method": "copy"}})
    exercise_data_path(service, RAW, "copy")


def test_data_qcow2_method(start_service):
    need_qemu()
    service = start_service(backends={"q1": {"file_volume_format": "qcow2"}})
    exercise_data_path(service, QCOW2, "qcow2")


def test_data_reflink_method(start_service, tmp_path):
    with loop_xfs(tmp_path) as mountpoint:
        service = start_service(backends={"x1": {"file_volume_dir": str(mountpoint / "vols")}})
        try:
            exercise_data_path(service, RAW, "reflink")
        finally:
            service.stop()


def test_data_on_the_shared_service(service):
    """The default backends (auto on the tmp filesystem: no reflink on ext4 → copy)."""
    with service.client() as api:
        methods = {c.get("clone_method") for c in pool_capabilities(api).values()}
    assert len(methods) == 1 and methods <= {"copy", "reflink"}, methods
    exercise_data_path(service, RAW, methods.pop())


# ---------------------------------------------------------------------------------------
# the API rules of copies


def test_copies_land_on_the_source_backend_and_inherit(service, api):
    src = api.create_volume(size=1)
    set_bootable(api, src["id"])
    snap = create_snapshot(api, src["id"])
    copies = [api.create_volume(size=1, source_volid=src["id"], wait=None) for _ in range(3)]
    copies += [api.create_volume(size=2, snapshot_id=snap["id"], wait=None) for _ in range(3)]
    for c in copies:
        done = api.wait_for_volume(c["id"])
        assert done["os-vol-host-attr:host"] == src["os-vol-host-attr:host"], done
        assert done["bootable"] == "true"
        assert done["volume_type"] == src["volume_type"]
        assert done["availability_zone"] == src["availability_zone"]
    assert api.get(f"/volumes/{copies[-1]['id']}").json()["volume"]["size"] == 2


def test_size_defaults_to_the_source(api):
    src = api.create_volume(size=2)
    snap = create_snapshot(api, src["id"])
    for field in ({"source_volid": src["id"]}, {"snapshot_id": snap["id"]}):
        resp = api.post("/volumes", json={"volume": field})
        assert resp.status_code == 202, resp.text
        assert api.wait_for_volume(resp.json()["volume"]["id"])["size"] == 2


def test_copy_errors_create_nothing(api):
    src = api.create_volume(size=2)
    snap = create_snapshot(api, src["id"])
    count = api.volume_count()
    cases = [
        ({"size": 1, "source_volid": src["id"]}, 400),
        ({"size": 1, "snapshot_id": snap["id"]}, 400),
        ({"size": 2, "source_volid": MISSING}, 404),
        ({"size": 2, "snapshot_id": MISSING}, 404),
    ]
    for body, status in cases:
        api.assert_fault(api.post("/volumes", json={"volume": body}), status)
    reset_snapshot(api, snap["id"], "error")
    api.assert_fault(api.post("/volumes", json={"volume": {"snapshot_id": snap["id"]}}), 400)
    reset_snapshot(api, snap["id"], "available")
    reset_volume(api, src["id"], "error")
    api.assert_fault(api.post("/volumes", json={"volume": {"source_volid": src["id"]}}), 400)
    reset_volume(api, src["id"], "available")
    assert api.volume_count() == count


def test_source_cannot_be_deleted_while_a_copy_is_made(api):
    src = api.create_volume()
    clone = api.create_volume(source_volid=src["id"])
    # Hold the copy in "creating" (as while the driver copies) and try to delete its source.
    reset_volume(api, clone["id"], "creating")
    message = api.assert_fault(api.delete(f"/volumes/{src['id']}"), 400)
    assert src["id"] in message or "busy" in message.lower(), message
    api.assert_fault(api.post(f"/volumes/{src['id']}/action", json={"os-force_delete": {}}), 400)
    assert volume(api, src["id"])["status"] == "available"

    snap = create_snapshot(api, src["id"])
    restored = api.create_volume(snapshot_id=snap["id"])
    reset_volume(api, restored["id"], "creating")
    api.assert_fault(api.delete(f"/snapshots/{snap['id']}"), 400)
    assert wait_snapshot(api, snap["id"])["status"] == "available"
    reset_volume(api, clone["id"], "available")
    api.assert_fault(api.delete(f"/volumes/{src['id']}", params={"cascade": "true"}), 400)
    assert snapshot_ids(api) == [snap["id"]]

    reset_volume(api, restored["id"], "available")
    assert api.delete(f"/snapshots/{snap['id']}").status_code == 202
    wait_snapshot_gone(api, snap["id"])
    api.delete_volume(src["id"])


def test_copies_with_the_clients(service, project):
    cinder = cinder_for(service, project)
    sdk = sdk_for(service, project)
    try:
        with service.client(project) as api:
            src = api.create_volume(size=1)
            snap = create_snapshot(api, src["id"])
            from_snap = cinder.volumes.create(2, snapshot_id=snap["id"], name="cc-from-snap")
            clone = cinder.volumes.create(1, source_volid=src["id"], name="cc-clone")
            sdk_clone = sdk.block_storage.create_volume(size=1, source_volume_id=src["id"])
            sdk_snap = sdk.block_storage.create_volume(size=1, snapshot_id=snap["id"])
            for vid in (from_snap.id, clone.id, sdk_clone.id, sdk_snap.id):
                api.wait_for_volume(vid)
            assert cinder.volumes.get(from_snap.id).snapshot_id == snap["id"]
            assert cinder.volumes.get(clone.id).source_volid == src["id"]
            assert sdk.block_storage.get_volume(sdk_clone.id).source_volume_id == src["id"]
            assert sdk.block_storage.get_volume(sdk_snap.id).snapshot_id == snap["id"]
            note = wait_event(service, "volume.create.end", volume_id=from_snap.id)
            assert note["payload"]["snapshot_id"] == snap["id"]
            assert note["payload"]["size"] == 2
    finally:
        sdk.close()
