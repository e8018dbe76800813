"""Revert to snapshot (3.40): ``POST /volumes/{id}/action {"revert": {"snapshot_id"}}``,
driven by python-cinderclient, openstacksdk, the ``openstack`` CLI and plain HTTP, with
the data checked on the real files (raw and qcow2 volumes)."""

from __future__ import annotations

import signal
import sqlite3
import uuid

import pytest

pytest.register_assert_rewrite("lifecycle_helpers", "migration_helpers")

from lifecycle_helpers import (  # noqa: E402
    SNAPSHOT_PAYLOAD_KEYS,
    VOLUME_PAYLOAD_KEYS,
    MiB,
    cinder_for,
    create_snapshot,
    events,
    messages_for,
    need_qemu,
    pwrite_pattern,
    qcow2_holds,
    qcow2_write,
    raw_holds,
    reset_snapshot,
    reset_volume,
    sdk_for,
    wait_snapshot,
)
from migration_helpers import MV, openstack_cli, show  # noqa: E402

FAR = 600 * MiB


def revert(api, volume_id, snapshot_id, version="3.40"):
    return api.post(f"/volumes/{volume_id}/action", json={"revert": {"snapshot_id": snapshot_id}},
                    headers=api.mv(version))  # fmt: skip


def wait_reverted(api, volume_id, snapshot_id):
    api.wait_for(lambda: show(api, volume_id)["status"] != "reverting", "revert done")
    vol = api.wait_for_volume(volume_id)
    snap = wait_snapshot(api, snapshot_id)
    return vol, snap


def test_cinderclient_revert_restores_the_snapshots_bytes(service, api, project):
    vol = api.create_volume(size=1)
    path = service.find_volume_file(vol["id"])
    pwrite_pattern(path, 0xA1)
    pwrite_pattern(path, 0xA2, FAR)
    snap = create_snapshot(api, vol["id"])
    pwrite_pattern(path, 0xB1)
    pwrite_pattern(path, 0xB2, FAR)
    pwrite_pattern(path, 0xB3, 900 * MiB)

    cinder = cinder_for(service, project, "3.40")
    cinder.volumes.revert_to_snapshot(vol["id"], snap["id"])
    reverted, snapshot = wait_reverted(api, vol["id"], snap["id"])

    assert raw_holds(path, 0xA1) and raw_holds(path, 0xA2, FAR)
    assert raw_holds(path, 0x00, 900 * MiB), "data written after the snapshot survived"
    assert path.stat().st_size == 1 << 30
    assert (reverted["status"], snapshot["status"]) == ("available", "available")
    assert service.find_volume_file(vol["id"]) == path
    starts = events(service, "volume.revert.start", volume_id=vol["id"])
    ends = events(service, "volume.revert.end", volume_id=vol["id"])
    assert len(starts) == len(ends) == 1
    assert set(ends[0]["payload"]) >= VOLUME_PAYLOAD_KEYS
    assert ends[0]["publisher_id"] == f"volume.{vol['os-vol-host-attr:host'].split('#')[0]}"
    snap_events = events(service, "snapshot.revert.end", snapshot_id=snap["id"])
    assert len(snap_events) == 1 and set(snap_events[0]["payload"]) >= SNAPSHOT_PAYLOAD_KEYS
    # The snapshot is still the snapshot, and still deletable.
    assert raw_holds(path.parent / f"snapshot-{snap['id']}", 0xA1)
    assert api.delete(f"/snapshots/{snap['id']}").status_code == 202


def test_openstacksdk_and_openstack_cli_revert(service, api, project):
    vol = api.create_volume(size=1, name=f"rv-{uuid.uuid4().hex[:6]}")
    path = service.find_volume_file(vol["id"])
    pwrite_pattern(path, 0x11)
    first = create_snapshot(api, vol["id"], name=f"first-{uuid.uuid4().hex[:6]}")
    pwrite_pattern(path, 0x22)

    conn = sdk_for(service, project)
    try:
        conn.block_storage.revert_volume_to_snapshot(vol["id"], first["id"])
    finally:
        conn.close()
    wait_reverted(api, vol["id"], first["id"])
    assert raw_holds(path, 0x11)

    pwrite_pattern(path, 0x33)
    second = create_snapshot(api, vol["id"], name=f"second-{uuid.uuid4().hex[:6]}")
    pwrite_pattern(path, 0x44)
    done = openstack_cli(service, project, "volume", "revert", second["name"])
    assert done.returncode == 0, done.stderr
    wait_reverted(api, vol["id"], second["id"])
    assert raw_holds(path, 0x33)


def test_qcow2_volume_reverts_by_its_format(start_service):
    need_qemu()
    svc = start_service(backends={"file-1": {"file_volume_format": "qcow2",
                                             "file_clone_method": "qcow2"}})  # fmt: skip
    with svc.client(microversion=MV) as api:
        vol = api.create_volume(size=1)
        path = svc.find_volume_file(vol["id"])
        qcow2_write(path, 0x5A)
        older = create_snapshot(api, vol["id"])
        qcow2_write(path, 0x6B)
        qcow2_write(path, 0x6C, FAR)
        latest = create_snapshot(api, vol["id"])
        qcow2_write(path, 0x7D)
        # A clone made after the snapshot puts a clone base under the volume: the revert
        # must not lose it for the clone.
        clone = api.create_volume(size=1, source_volid=vol["id"])

        assert revert(api, vol["id"], latest["id"]).status_code == 202
        wait_reverted(api, vol["id"], latest["id"])
        assert qcow2_holds(path, 0x6B) and qcow2_holds(path, 0x6C, FAR)
        clone_path = svc.find_volume_file(clone["id"])
        assert qcow2_holds(clone_path, 0x7D)

        # The older snapshot is not the latest: refused, nothing changes.
        refused = revert(api, vol["id"], older["id"])
        assert "not the latest one" in api.assert_fault(refused, 400)
        assert qcow2_holds(path, 0x6B)
        # Deleting everything leaves no file behind.
        for snapshot in (older, latest):
            assert api.delete(f"/snapshots/{snapshot['id']}").status_code == 202
        api.wait_for(lambda: api.get(f"/snapshots/{latest['id']}").status_code == 404, "gone")
        api.wait_for(lambda: api.get(f"/snapshots/{older['id']}").status_code == 404, "gone")
        assert qcow2_holds(path, 0x6B)
        api.delete_volume(vol["id"])
        api.delete_volume(clone["id"])
        assert sorted(p.name for p in svc.backends["file-1"].volume_dir.iterdir()
                      if not p.name.startswith(".")) == []  # fmt: skip


def test_bad_reverts_are_refused_and_change_nothing(service, api):
    vol = api.create_volume(size=1)
    path = service.find_volume_file(vol["id"])
    pwrite_pattern(path, 0x01)

    none_yet = revert(api, vol["id"], str(uuid.uuid4()))
    assert f"Volume {vol['id']} doesn't have any snapshots." in api.assert_fault(none_yet, 400)
    older = create_snapshot(api, vol["id"])
    latest = create_snapshot(api, vol["id"])
    pwrite_pattern(path, 0x02)

    def unchanged() -> None:
        assert show(api, vol["id"])["status"] == "available"
        for snapshot in (older, latest):
            assert wait_snapshot(api, snapshot["id"])["status"] == "available"
        assert raw_holds(path, 0x02)

    cases = [
        (revert(api, vol["id"], older["id"]), 400, "is None or not the latest one"),
        (revert(api, vol["id"], None), 400, "Specified snapshot None is None or not the latest"),
        (revert(api, vol["id"], 42), 400, "snapshot_id must be a string or null"),
        (
            api.post(f"/volumes/{vol['id']}/action", json={"revert": []}, headers=api.mv("3.40")),
            400,
            "revert must be an object",
        ),
        (revert(api, vol["id"], latest["id"], version="3.39"), 404, "not supported"),
        (revert(api, str(uuid.uuid4()), latest["id"]), 404, "could not be found"),
    ]
    for resp, code, needle in cases:
        assert needle in api.assert_fault(resp, code)
        unchanged()

    reset_snapshot(api, latest["id"], "error")
    conflict = revert(api, vol["id"], latest["id"])
    assert "Snapshot's status must be 'available'" in api.assert_fault(conflict, 409)
    assert show(api, vol["id"])["status"] == "available"
    reset_snapshot(api, latest["id"], "available")

    reset_volume(api, vol["id"], "error")
    conflict = revert(api, vol["id"], latest["id"])
    assert "Volume's status must be 'available'" in api.assert_fault(conflict, 409)
    reset_volume(api, vol["id"], "available")
    unchanged()

    # A volume grown since its snapshot cannot go back to it.
    resp = api.post(f"/volumes/{vol['id']}/action", json={"os-extend": {"new_size": 2}})
    assert resp.status_code == 202
    api.wait_for(lambda: show(api, vol["id"])["size"] == 2, "extended")
    resized = revert(api, vol["id"], latest["id"])
    assert "The volume size must be equal to the snapshot size" in api.assert_fault(resized, 400)
    assert show(api, vol["id"])["status"] == "available"


def test_a_failed_revert_leaves_the_volume_in_error_with_a_message(service, api):
    vol = api.create_volume(size=1)
    path = service.find_volume_file(vol["id"])
    pwrite_pattern(path, 0x0C)
    snap = create_snapshot(api, vol["id"])
    (path.parent / f"snapshot-{snap['id']}").unlink()  # the backend lost the snapshot's data

    assert revert(api, vol["id"], snap["id"]).status_code == 202
    api.wait_for(lambda: show(api, vol["id"])["status"] == "error", "volume error")
    assert wait_snapshot(api, snap["id"])["status"] == "available"
    assert raw_holds(path, 0x0C), "a failed revert changed the data"
    found = api.wait_for(lambda: messages_for(api, vol["id"]), "a user message")
    assert "does not exist" in found[0]["user_message"]
    assert events(service, "volume.revert.end", volume_id=vol["id"])


def test_a_revert_cut_short_by_a_crash_is_done_at_restart(start_service):
    svc = start_service(backends={"file-1": {}})
    with svc.client(microversion=MV) as api:
        vol = api.create_volume(size=1)
        path = svc.find_volume_file(vol["id"])
        pwrite_pattern(path, 0x3C)
        snap = create_snapshot(api, vol["id"])
        pwrite_pattern(path, 0x4D)
    svc.stop(signal.SIGKILL)
    # What a crash leaves between the API's commit and the backend's revert.
    with sqlite3.connect(svc.state_path / "firebrick.sqlite") as db:
        db.execute("UPDATE volumes SET status = 'reverting' WHERE id = ?", (vol["id"],))
        db.execute("UPDATE snapshots SET status = 'restoring' WHERE id = ?", (snap["id"],))
    svc.restart()
    with svc.client(api.project, microversion=MV) as api:
        reverted, snapshot = wait_reverted(api, vol["id"], snap["id"])
        assert (reverted["status"], snapshot["status"]) == ("available", "available")
        assert raw_holds(path, 0x3C)
