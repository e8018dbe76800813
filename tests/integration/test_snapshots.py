"""Snapshots as users drive them: python-cinderclient, openstacksdk and plain HTTP.

api-v3.md §7 (snapshots), §3 (faults, 413 overLimit) and notifications.md §4 (snapshot
events). Everything runs on the shared service, each test in a project of its own.
"""

from __future__ import annotations

import time

import openstack
import pytest
from cinderclient import exceptions as cinder_exceptions

pytest.register_assert_rewrite("lifecycle_helpers")

from lifecycle_helpers import (  # noqa: E402
    SNAPSHOT_PAYLOAD_KEYS,
    assert_envelope,
    backend_of,
    cinder_for,
    create_snapshot,
    events,
    quota_usage,
    reset_snapshot,
    reset_volume,
    sdk_for,
    set_quota,
    snapshot_ids,
    volume,
    wait_event,
    wait_snapshot,
    wait_snapshot_gone,
)

BASE_KEYS = {
    "id", "created_at", "updated_at", "name", "description", "volume_id", "status", "size",
    "metadata",
}  # fmt: skip
EXTENDED_KEYS = {
    "os-extended-snapshot-attributes:project_id",
    "os-extended-snapshot-attributes:progress",
}


def keys_at(version: str) -> set[str]:
    major, minor = (int(x) for x in version.split("."))
    keys = set(BASE_KEYS)
    if (major, minor) >= (3, 14):
        keys.add("group_snapshot_id")
    if (major, minor) >= (3, 41):
        keys.add("user_id")
    if (major, minor) >= (3, 65):
        keys.add("consumes_quota")
    return keys


def snapshot_file(service, vol, snapshot_id):
    return service.backends[backend_of(vol)].volume_dir / f"snapshot-{snapshot_id}"


@pytest.fixture
def cinder(service, project):
    return cinder_for(service, project)


@pytest.fixture
def sdk(service, project):
    conn = sdk_for(service, project)
    yield conn
    conn.close()


def cinder_wait_snapshot(cinder, snapshot_id, status="available", timeout=30.0):
    deadline = time.monotonic() + timeout
    snap = cinder.volume_snapshots.get(snapshot_id)
    while snap.status != status and time.monotonic() < deadline:
        assert snap.status in {"creating", "deleting"}, snap._info
        time.sleep(0.02)
        snap = cinder.volume_snapshots.get(snapshot_id)
    assert snap.status == status, snap._info
    return snap


# ---------------------------------------------------------------------------------------
# the clients


def test_cinderclient_snapshot_lifecycle(service, api, cinder):
    vol = api.create_volume(size=2)
    created = cinder.volume_snapshots.create(
        vol["id"], name="cc-snap", description="by cinderclient", metadata={"k1": "v1"}
    )
    assert created.status == "creating"
    assert created.volume_id == vol["id"]
    snap = cinder_wait_snapshot(cinder, created.id)
    assert snap.name == "cc-snap"
    assert snap.description == "by cinderclient"
    assert snap.size == 2
    assert snap.metadata == {"k1": "v1"}
    assert getattr(snap, "os-extended-snapshot-attributes:project_id") == api.project
    assert getattr(snap, "os-extended-snapshot-attributes:progress") == "100%"
    assert snap.user_id == "tester"
    path = snapshot_file(service, volume(api, vol["id"]), snap.id)
    assert path.exists(), f"no {path.name} in {sorted(p.name for p in path.parent.iterdir())}"

    assert [s.id for s in cinder.volume_snapshots.list()] == [snap.id]
    assert [s.id for s in cinder.volume_snapshots.list(detailed=False)] == [snap.id]
    assert [s.id for s in cinder.volume_snapshots.list(search_opts={"volume_id": vol["id"]})] == [
        snap.id
    ]
    assert cinder.volume_snapshots.list(search_opts={"name": "nope"}) == []

    cinder.volume_snapshots.update(snap, name="cc-renamed", description="new words")
    snap = cinder.volume_snapshots.get(snap.id)
    assert (snap.name, snap.description) == ("cc-renamed", "new words")

    cinder.volume_snapshots.set_metadata(snap, {"k2": "v2"})
    assert cinder.volume_snapshots.get(snap.id).metadata == {"k1": "v1", "k2": "v2"}
    cinder.volume_snapshots.delete_metadata(snap, ["k1"])
    assert cinder.volume_snapshots.get(snap.id).metadata == {"k2": "v2"}
    cinder.volume_snapshots.update_all_metadata(snap, {"only": "this"})
    assert cinder.volume_snapshots.get(snap.id).metadata == {"only": "this"}

    cinder.volume_snapshots.delete(snap)
    wait_snapshot_gone(api, snap.id)
    with pytest.raises(cinder_exceptions.NotFound):
        cinder.volume_snapshots.get(snap.id)
    assert not path.exists()
    assert cinder.volume_snapshots.list() == []
    api.delete_volume(vol["id"])  # no snapshots left: the volume can go


def test_openstacksdk_snapshot_lifecycle(service, api, sdk):
    vol = api.create_volume(size=1)
    created = sdk.block_storage.create_snapshot(
        volume_id=vol["id"], name="sdk-snap", description="from the sdk", metadata={"a": "b"}
    )
    snap = sdk.block_storage.wait_for_status(created, status="available", wait=30, interval=0.05)
    assert snap.name == "sdk-snap"
    assert snap.description == "from the sdk"
    assert snap.volume_id == vol["id"]
    assert snap.size == 1
    assert snap.metadata == {"a": "b"}
    fetched = sdk.block_storage.get_snapshot(snap.id)
    assert fetched.status == "available"
    assert fetched.project_id == api.project
    assert fetched.progress == "100%"

    assert [s.id for s in sdk.block_storage.snapshots(details=True)] == [snap.id]
    assert [s.id for s in sdk.block_storage.snapshots(details=False)] == [snap.id]
    assert [s.id for s in sdk.block_storage.snapshots(name="sdk-snap")] == [snap.id]
    assert list(sdk.block_storage.snapshots(name="nope")) == []

    sdk.block_storage.update_snapshot(snap, name="sdk-renamed")
    assert sdk.block_storage.get_snapshot(snap.id).name == "sdk-renamed"
    sdk.block_storage.set_snapshot_metadata(snap, c="d")
    assert sdk.block_storage.fetch_snapshot_metadata(snap).metadata == {"a": "b", "c": "d"}
    sdk.block_storage.delete_snapshot_metadata(snap, keys=["a"])
    assert sdk.block_storage.get_snapshot(snap.id).metadata == {"c": "d"}

    sdk.block_storage.delete_snapshot(snap)
    sdk.block_storage.wait_for_delete(snap, wait=30, interval=0.05)
    with pytest.raises(openstack.exceptions.ResourceNotFound):
        sdk.block_storage.get_snapshot(snap.id)
    assert not snapshot_file(service, volume(api, vol["id"]), snap.id).exists()


def test_cinderclient_admin_snapshot_actions(api, cinder):
    vol = api.create_volume()
    snap = create_snapshot(api, vol["id"])
    cinder.volume_snapshots.reset_state(snap["id"], "error")
    assert cinder.volume_snapshots.get(snap["id"]).status == "error"
    cinder.volume_snapshots.reset_state(snap["id"], "creating")
    # A snapshot still creating cannot be deleted normally, only by force.
    with pytest.raises(cinder_exceptions.BadRequest):
        cinder.volume_snapshots.delete(snap["id"])
    assert cinder.volume_snapshots.get(snap["id"]).status == "creating"
    cinder.volume_snapshots.delete(snap["id"], force=True)
    wait_snapshot_gone(api, snap["id"])


# ---------------------------------------------------------------------------------------
# exact key sets per microversion


@pytest.mark.parametrize("version", ["3.0", "3.14", "3.41", "3.65", "3.71"])
def test_snapshot_keys_per_microversion(api, version):
    vol = api.create_volume()
    mv = api.mv(version)
    resp = api.post("/snapshots", json={"snapshot": {"volume_id": vol["id"]}}, headers=mv)
    assert resp.status_code == 202, resp.text
    created = resp.json()["snapshot"]
    assert set(created) == keys_at(version), sorted(set(created) ^ keys_at(version))
    assert created["status"] == "creating"
    wait_snapshot(api, created["id"])

    shown = api.get(f"/snapshots/{created['id']}", headers=mv).json()["snapshot"]
    assert set(shown) == keys_at(version) | EXTENDED_KEYS, sorted(
        set(shown) ^ (keys_at(version) | EXTENDED_KEYS)
    )
    detail = api.get("/snapshots/detail", headers=mv).json()["snapshots"]
    assert [set(s) for s in detail] == [keys_at(version) | EXTENDED_KEYS]
    summary = api.get("/snapshots", headers=mv).json()["snapshots"]
    assert [set(s) for s in summary] == [keys_at(version)]
    resp = api.put(f"/snapshots/{created['id']}", json={"snapshot": {"name": "n"}}, headers=mv)
    assert resp.status_code == 200, resp.text
    assert set(resp.json()["snapshot"]) == keys_at(version)

    assert shown["size"] == vol["size"]
    assert shown["volume_id"] == vol["id"]
    assert shown["metadata"] == {}
    assert shown["os-extended-snapshot-attributes:project_id"] == api.project
    if "user_id" in shown:
        assert shown["user_id"] == "tester"
    if "consumes_quota" in shown:
        assert shown["consumes_quota"] is True
    if "group_snapshot_id" in shown:
        assert shown["group_snapshot_id"] is None


def test_snapshot_metadata_endpoints(api):
    vol = api.create_volume()
    snap = create_snapshot(api, vol["id"], metadata={"a": "1"})
    base = f"/snapshots/{snap['id']}/metadata"
    assert api.get(base).json() == {"metadata": {"a": "1"}}
    resp = api.post(base, json={"metadata": {"b": "2"}})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"metadata": {"a": "1", "b": "2"}}
    resp = api.put(base, json={"metadata": {"c": "3"}})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"metadata": {"c": "3"}}
    assert api.get(f"{base}/c").json() == {"meta": {"c": "3"}}
    api.assert_fault(api.get(f"{base}/a"), 404)
    resp = api.put(f"{base}/d", json={"meta": {"d": "4"}})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"meta": {"d": "4"}}
    api.assert_fault(api.put(f"{base}/e", json={"meta": {"other": "x"}}), 400)
    api.assert_fault(api.put(f"{base}/e", json={"meta": {"e": "1", "f": "2"}}), 400)
    assert api.delete(f"{base}/d").status_code == 200
    api.assert_fault(api.delete(f"{base}/d"), 404)
    assert api.get(base).json() == {"metadata": {"c": "3"}}
    api.assert_fault(api.get("/snapshots/00000000-0000-0000-0000-000000000000/metadata"), 404)


# ---------------------------------------------------------------------------------------
# errors: each refused request changes nothing


def test_snapshot_create_errors(api):
    vol = api.create_volume()
    before = quota_usage(api)

    for body in ({}, {"volume_id": None}, {"volume_id": "00000000-0000-0000-0000-000000000000"}):
        api.assert_fault(api.post("/snapshots", json={"snapshot": {"name": "x", **body}}), 404)

    reset_volume(api, vol["id"], "error")
    message = api.assert_fault(
        api.post("/snapshots", json={"snapshot": {"volume_id": vol["id"]}}), 400
    )
    assert "status" in message.lower(), message
    reset_volume(api, vol["id"], "available")

    # 3.66: in-use volumes need no force; force=false is an error, force=true is ignored.
    resp = api.post(
        "/snapshots",
        json={"snapshot": {"volume_id": vol["id"], "force": False}},
        headers=api.mv("3.66"),
    )
    api.assert_fault(resp, 400)
    resp = api.post(
        "/snapshots",
        json={"snapshot": {"volume_id": vol["id"], "force": "not-a-bool"}},
        headers=api.mv("3.0"),
    )
    api.assert_fault(resp, 400)
    assert snapshot_ids(api) == []
    after = quota_usage(api)
    for key in ("snapshots", "gigabytes"):
        assert after[key]["in_use"] + after[key]["reserved"] == (
            before[key]["in_use"] + before[key]["reserved"]
        ), (key, before[key], after[key])

    resp = api.post(
        "/snapshots",
        json={"snapshot": {"volume_id": vol["id"], "force": True}},
        headers=api.mv("3.66"),
    )
    assert resp.status_code == 202, resp.text
    wait_snapshot(api, resp.json()["snapshot"]["id"])


def test_snapshot_of_creating_volume_is_refused(service, api):
    vol = api.create_volume()
    reset_volume(api, vol["id"], "creating")
    api.assert_fault(api.post("/snapshots", json={"snapshot": {"volume_id": vol["id"]}}), 400)
    assert snapshot_ids(api) == []


def test_delete_while_creating_is_refused(api):
    vol = api.create_volume()
    snap = create_snapshot(api, vol["id"])
    reset_snapshot(api, snap["id"], "creating")
    api.assert_fault(api.delete(f"/snapshots/{snap['id']}"), 400)
    assert wait_snapshot(api, snap["id"], "creating")["status"] == "creating"
    reset_snapshot(api, snap["id"], "available")
    assert api.delete(f"/snapshots/{snap['id']}").status_code == 202
    wait_snapshot_gone(api, snap["id"])


def test_snapshot_show_update_delete_unknown_is_404(api):
    missing = "00000000-0000-0000-0000-000000000000"
    api.assert_fault(api.get(f"/snapshots/{missing}"), 404)
    api.assert_fault(api.put(f"/snapshots/{missing}", json={"snapshot": {"name": "x"}}), 404)
    api.assert_fault(api.delete(f"/snapshots/{missing}"), 404)


def test_snapshot_update_bad_input(api):
    vol = api.create_volume()
    snap = create_snapshot(api, vol["id"], name="keep")
    api.assert_fault(api.put(f"/snapshots/{snap['id']}", json={"snapshot": {}}), 400)
    api.assert_fault(api.put(f"/snapshots/{snap['id']}", json={"nothing": {}}), 400)
    assert api.get(f"/snapshots/{snap['id']}").json()["snapshot"]["name"] == "keep"


def test_snapshot_quota_counts_and_413(api):
    vol = api.create_volume(size=2)
    set_quota(api, snapshots=1)
    usage = quota_usage(api)
    assert usage["snapshots"]["in_use"] == 0
    gigabytes_before = usage["gigabytes"]["in_use"]

    first = create_snapshot(api, vol["id"])
    usage = quota_usage(api)
    assert usage["snapshots"]["in_use"] == 1, usage["snapshots"]
    assert usage["gigabytes"]["in_use"] == gigabytes_before + 2, usage["gigabytes"]

    resp = api.post("/snapshots", json={"snapshot": {"volume_id": vol["id"]}})
    message = api.assert_fault(resp, 413)
    assert "SnapshotLimitExceeded" in message, message
    assert resp.json()["overLimit"].get("retryAfter") == "0", resp.text
    assert snapshot_ids(api) == [first["id"]]

    # gigabytes: the snapshot of a 2 GiB volume needs 2 more GiB than are left.
    set_quota(api, snapshots=10, gigabytes=gigabytes_before + 2 + 1)
    resp = api.post("/snapshots", json={"snapshot": {"volume_id": vol["id"]}})
    message = api.assert_fault(resp, 413)
    assert "gigabytes" in message, message
    assert snapshot_ids(api) == [first["id"]]

    assert api.delete(f"/snapshots/{first['id']}").status_code == 202
    wait_snapshot_gone(api, first["id"])
    usage = quota_usage(api)
    assert usage["snapshots"]["in_use"] == 0, usage["snapshots"]
    assert usage["gigabytes"]["in_use"] == gigabytes_before, usage["gigabytes"]


# ---------------------------------------------------------------------------------------
# volumes with snapshots


def test_volume_with_snapshots_needs_cascade(service, api):
    vol = api.create_volume()
    snaps = [create_snapshot(api, vol["id"], name=f"s{i}") for i in range(2)]
    placed = volume(api, vol["id"])
    files = [snapshot_file(service, placed, s["id"]) for s in snaps]
    assert all(f.exists() for f in files)

    api.assert_fault(api.delete(f"/volumes/{vol['id']}"), 400)
    api.assert_fault(api.post(f"/volumes/{vol['id']}/action", json={"os-force_delete": {}}), 400)
    assert volume(api, vol["id"])["status"] == "available"
    assert sorted(snapshot_ids(api)) == sorted(s["id"] for s in snaps)
    assert all(wait_snapshot(api, s["id"])["status"] == "available" for s in snaps)

    resp = api.delete(f"/volumes/{vol['id']}", params={"cascade": "true"})
    assert resp.status_code == 202, resp.text
    api.wait_for_gone(vol["id"])
    for s in snaps:
        wait_snapshot_gone(api, s["id"])
    assert snapshot_ids(api) == []
    assert not any(f.exists() for f in files)
    assert service.find_volume_file(vol["id"]) is None
    usage = quota_usage(api)
    assert usage["snapshots"]["in_use"] == 0
    assert usage["volumes"]["in_use"] == 0
    assert usage["gigabytes"]["in_use"] == 0
    for s in snaps:
        wait_event(service, "snapshot.delete.end", snapshot_id=s["id"])
    wait_event(service, "volume.delete.end", volume_id=vol["id"])


def test_cascade_with_cinderclient(service, project):
    cinder = cinder_for(service, project)
    vol = cinder.volumes.create(1)
    with service.client(project) as api:
        api.wait_for_volume(vol.id)
        snap = create_snapshot(api, vol.id)
        with pytest.raises(cinder_exceptions.BadRequest):
            cinder.volumes.delete(vol.id)
        cinder.volumes.delete(vol.id, cascade=True)
        api.wait_for_gone(vol.id)
        wait_snapshot_gone(api, snap["id"])


# ---------------------------------------------------------------------------------------
# notifications


def test_snapshot_notifications(service, api):
    vol = api.create_volume(size=1, availability_zone="nova")
    snap = create_snapshot(api, vol["id"], name="noted", metadata={"x": "y"})
    start = wait_event(service, "snapshot.create.start", snapshot_id=snap["id"])
    end = wait_event(service, "snapshot.create.end", snapshot_id=snap["id"])
    for note in (start, end):
        assert_envelope(note, "snapshot.")
        payload = note["payload"]
        assert set(payload) >= SNAPSHOT_PAYLOAD_KEYS, sorted(SNAPSHOT_PAYLOAD_KEYS - set(payload))
        assert payload["tenant_id"] == api.project
        assert payload["user_id"] == "tester"
        assert payload["volume_id"] == vol["id"]
        assert payload["volume_size"] == 1
        assert payload["display_name"] == "noted"
        assert payload["availability_zone"] == "nova"
        assert isinstance(payload["metadata"], str), payload["metadata"]
        assert isinstance(payload["deleted"], str), payload["deleted"]
    assert end["payload"]["status"] == "available"
    names = [n["event_type"] for n in service.notifications()
             if n.get("payload", {}).get("snapshot_id") == snap["id"]]  # fmt: skip
    assert names.index("snapshot.create.start") < names.index("snapshot.create.end"), names

    assert api.delete(f"/snapshots/{snap['id']}").status_code == 202
    wait_snapshot_gone(api, snap["id"])
    start = wait_event(service, "snapshot.delete.start", snapshot_id=snap["id"])
    end = wait_event(service, "snapshot.delete.end", snapshot_id=snap["id"])
    for note in (start, end):
        assert_envelope(note, "snapshot.")
        assert set(note["payload"]) >= SNAPSHOT_PAYLOAD_KEYS
    assert len(events(service, "snapshot.create.end", snapshot_id=snap["id"])) == 1
