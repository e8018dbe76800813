"""Managing and unmanaging with the clients users have: python-cinderclient and
openstacksdk, volumes and snapshots, on a raw and on a qcow2 file backend.

Snapshot manage answers are checked against Tempest's ``manage_snapshot`` schema; the
data of a snapshot that was unmanaged and managed again is read back through a volume
created from it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import openstack
import pytest

pytest.register_assert_rewrite("manage_helpers", "lifecycle_helpers")

from harness import Service, VolumeApi, launch  # noqa: E402
from lifecycle_helpers import (  # noqa: E402
    FAR,
    cinder_for,
    create_snapshot,
    keystone_session,
    need_qemu,
    pwrite_pattern,
    qcow2_holds,
    qcow2_write,
    raw_holds,
    wait_event,
    wait_snapshot,
    wait_snapshot_gone,
)
from manage_helpers import (  # noqa: E402
    allocated,
    entry_for,
    manage_snapshot,
    manageable,
    pool_name,
    state,
    usage,
)
from tempest_schemas import TempestSchemas  # noqa: E402


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    service = launch(tmp_path_factory.mktemp("manage-clients"),
                     backends={"file-1": {"file_capacity_gb": "100"}})  # fmt: skip
    yield service
    service.stop()


@pytest.fixture
def api(svc: Service) -> Iterator[VolumeApi]:
    with svc.client() as client:
        yield client


def wait_cinder(get: Any, status: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    found = get()
    while found.status != status and time.monotonic() < deadline:
        time.sleep(0.05)
        found = get()
    assert found.status == status, found._info
    return found


def test_cinderclient_volumes(svc: Service, api: VolumeApi) -> None:
    cinder = cinder_for(svc, api.project)
    pool = pool_name(svc)
    vol = api.create_volume(size=1, name="cc-origin")
    path = svc.backends["file-1"].volume_path(vol["id"])
    pwrite_pattern(path, 0x3C, offset=FAR)

    cinder.volumes.unmanage(vol["id"])
    api.wait_for_gone(vol["id"])
    listed = cinder.volumes.list_manageable(pool, detailed=True)
    entry = next(e for e in listed if e.reference == {"source-name": path.name})
    assert (entry.safe_to_manage, entry.size, entry.cinder_id) == (True, 1, None)
    brief = cinder.volumes.list_manageable(pool, detailed=False)
    assert {"reference", "size", "safe_to_manage"} == set(
        next(e for e in brief if e.reference == {"source-name": path.name})._info
    )

    managed = cinder.volumes.manage(pool, {"source-name": path.name}, name="cc-managed",
                                    metadata={"by": "cinderclient"})  # fmt: skip
    assert managed.status == "creating"
    shown = wait_cinder(lambda: cinder.volumes.get(managed.id), "available")
    assert (shown.name, shown.size, shown.metadata) == ("cc-managed", 1, {"by": "cinderclient"})
    assert raw_holds(svc.backends["file-1"].volume_path(managed.id), 0x3C, offset=FAR)
    cinder.volumes.delete(managed.id)
    api.wait_for_gone(managed.id)


def test_cinderclient_snapshots(
    svc: Service, api: VolumeApi, tempest_schemas: TempestSchemas
) -> None:
    cinder = cinder_for(svc, api.project)
    pool = pool_name(svc)
    vol = api.create_volume(size=1)
    volume_file = svc.backends["file-1"].volume_path(vol["id"])
    pwrite_pattern(volume_file, 0x77)
    snap = cinder.volume_snapshots.create(vol["id"], name="original")
    wait_cinder(lambda: cinder.volume_snapshots.get(snap.id), "available")
    snap_file = svc.backends["file-1"].volume_dir / f"snapshot-{snap.id}"
    pwrite_pattern(volume_file, 0x11)  # the volume moves on; the snapshot keeps 0x77
    used, alloc = usage(api), allocated(api, pool)

    cinder.volume_snapshots.unmanage(snap)
    wait_snapshot_gone(api, snap.id)
    assert usage(api)["snapshots"] == used["snapshots"] - 1
    assert usage(api)["gigabytes"] == used["gigabytes"] - 1
    assert allocated(api, pool) == alloc - 1
    wait_event(svc, "snapshot.delete.end", snapshot_id=snap.id)
    assert raw_holds(snap_file, 0x77)

    listed = cinder.volume_snapshots.list_manageable(pool, detailed=True)
    entry = next(e for e in listed if e.reference == {"source-name": snap_file.name})
    assert (entry.safe_to_manage, entry.size) == (True, 1)
    # The snapshot API of cinderclient answers nothing; the schema check goes over HTTP.
    resp = manage_snapshot(api, vol["id"], {"source-name": snap_file.name}, name="again",
                           description="managed", metadata={"k": "v"})  # fmt: skip
    assert resp.status_code == 202, resp.text
    tempest_schemas.check("manage_snapshot.manage_snapshot", resp)
    managed = resp.json()["snapshot"]
    assert (managed["status"], managed["size"], managed["volume_id"]) == ("creating", 1, vol["id"])
    done = wait_snapshot(api, managed["id"])
    assert (done["name"], done["description"], done["metadata"]) == ("again", "managed", {"k": "v"})
    assert usage(api) == used
    assert allocated(api, pool) == alloc
    wait_event(svc, "snapshot.manage_existing_snapshot.end", snapshot_id=managed["id"])
    listed = manageable(api, "snapshot", pool)
    again = entry_for(listed, f"snapshot-{managed['id']}")
    assert again["cinder_id"] == managed["id"]
    assert again["source_reference"] == {"source-name": f"volume-{vol['id']}"}

    copy = api.create_volume(size=1, snapshot_id=managed["id"])
    assert raw_holds(svc.backends["file-1"].volume_path(copy["id"]), 0x77)
    api.delete_volume(copy["id"])
    cinder.volume_snapshots.delete(managed["id"])
    wait_snapshot_gone(api, managed["id"])
    api.delete_volume(vol["id"])


def test_snapshot_refusals_change_nothing(svc: Service, api: VolumeApi) -> None:
    vol = api.create_volume(size=1)
    other = api.create_volume(size=1)
    snap = create_snapshot(api, vol["id"])
    before = state(api, svc)
    cases = [
        (vol["id"], {"source-name": f"snapshot-{snap['id']}"}, 400),
        (vol["id"], {"source-name": f"volume-{other['id']}"}, 400),
        (vol["id"], {"source-name": "../../etc/shadow"}, 400),
        (vol["id"], None, 400),
        (vol["id"], {"source-id": snap["id"]}, 400),
        (str(uuid.uuid4()), {"source-name": "x"}, 404),
    ]
    for volume_id, ref, code in cases:
        api.assert_fault(manage_snapshot(api, volume_id, ref), code)
        assert state(api, svc) == before, ref
    api.assert_fault(api.post("/manageable_snapshots", json={}, headers=api.mv("3.7")), 404)
    api.assert_fault(api.post(f"/snapshots/{uuid.uuid4()}/action", json={"os-unmanage": {}}), 404)
    resp = api.post(f"/snapshots/{snap['id']}/action", json={"os-reset_status": {
        "status": "creating"}})  # fmt: skip
    assert resp.status_code == 202, resp.text
    refused = api.post(f"/snapshots/{snap['id']}/action", json={"os-unmanage": {}})
    assert "must be available or error" in api.assert_fault(refused, 400)
    assert state(api, svc)["snapshots"] == before["snapshots"]


def test_openstacksdk(svc: Service, api: VolumeApi) -> None:
    # The manageable lists are 3.8+; the SDK sends the session's default microversion,
    # as OSC does after --os-volume-api-version 3.8.
    sdk = openstack.connection.Connection(
        session=keystone_session(svc, api.project),
        block_storage_endpoint_override=svc.endpoint(api.project),
        block_storage_api_version="3.8",
    )
    try:
        pool = pool_name(svc)
        vol = sdk.block_storage.create_volume(size=1, name="sdk-vol")
        vol = sdk.block_storage.wait_for_status(vol, "available", wait=30, interval=0.05)
        snap = sdk.block_storage.create_snapshot(volume_id=vol.id, name="sdk-snap")
        snap = sdk.block_storage.wait_for_status(snap, "available", wait=30, interval=0.05)

        sdk.block_storage.unmanage_snapshot(snap)
        wait_snapshot_gone(api, snap.id)
        sdk.block_storage.unmanage_volume(vol)
        api.wait_for_gone(vol.id)
        volumes = list(sdk.block_storage.manageable_volumes(host=pool, details=True))
        assert any(v.reference == {"source-name": f"volume-{vol.id}"} and v.safe_to_manage
                   for v in volumes)  # fmt: skip
        snapshots = list(sdk.block_storage.manageable_snapshots(host=pool))
        assert any(s.reference == {"source-name": f"snapshot-{snap.id}"} for s in snapshots)

        again = sdk.block_storage.manage_volume(
            host=pool, ref={"source-name": f"volume-{vol.id}"}, name="sdk-again"
        )
        again = sdk.block_storage.wait_for_status(again, "available", wait=30, interval=0.05)
        assert (again.name, again.size) == ("sdk-again", 1)
        snap_again = sdk.block_storage.manage_snapshot(
            volume_id=again.id, ref={"source-name": f"snapshot-{snap.id}"}, name="sdk-snap2"
        )
        snap_again = sdk.block_storage.wait_for_status(snap_again, "available", wait=30,
                                                       interval=0.05)  # fmt: skip
        assert (snap_again.volume_id, snap_again.size) == (again.id, 1)
        sdk.block_storage.delete_snapshot(snap_again)
        wait_snapshot_gone(api, snap_again.id)
        sdk.block_storage.delete_volume(again)
        api.wait_for_gone(again.id)
    finally:
        sdk.close()


def test_qcow2_volume_and_snapshot_round_trip(
    start_service: Any, tempest_schemas: TempestSchemas
) -> None:
    """qcow2 volumes sit on their snapshots: a snapshot unmanaged and managed again keeps
    the volume readable (its backing follows the new name) and its own data."""
    need_qemu()
    service = start_service(backends={"file-1": {"file_volume_format": "qcow2",
                                                 "file_clone_method": "qcow2"}})  # fmt: skip
    directory = service.backends["file-1"].volume_dir
    with service.client() as api:
        pool = pool_name(service)
        vol = api.create_volume(size=1)
        volume_file = directory / f"volume-{vol['id']}"
        qcow2_write(volume_file, 0x21)
        snap = create_snapshot(api, vol["id"])
        qcow2_write(volume_file, 0x42, offset=FAR)

        raw = directory / "raw-image"
        raw.write_bytes(b"\0" * 4096)
        api.assert_fault(manage_snapshot(api, vol["id"], {"source-name": raw.name}), 400)
        unmanaged = api.post(f"/snapshots/{snap['id']}/action", json={"os-unmanage": {}})
        assert unmanaged.status_code == 202, unmanaged.text
        tempest_schemas.check("snapshots.unmanage_snapshot", unmanaged)
        wait_snapshot_gone(api, snap["id"])
        # Unmanaged, the snapshot file is no one's, but the volume sits on it: writing to
        # it as a volume would change the volume's data.
        resp = api.post("/os-volume-manage", json={"volume": {
            "host": pool, "ref": {"source-name": f"snapshot-{snap['id']}"}}})  # fmt: skip
        assert "backing file of 1 other" in api.assert_fault(resp, 400)
        resp = manage_snapshot(api, vol["id"], {"source-name": f"snapshot-{snap['id']}"})
        assert resp.status_code == 202, resp.text
        managed = wait_snapshot(api, resp.json()["snapshot"]["id"])
        assert qcow2_holds(volume_file, 0x21) and qcow2_holds(volume_file, 0x42, offset=FAR)
        copy = api.create_volume(size=1, snapshot_id=managed["id"])
        copy_file = directory / f"volume-{copy['id']}"
        assert qcow2_holds(copy_file, 0x21) and not qcow2_holds(copy_file, 0x42, offset=FAR)

        # The volume itself: unmanaged, then managed again after its snapshots went.
        api.delete_volume(copy["id"])
        api.delete(f"/snapshots/{managed['id']}")
        wait_snapshot_gone(api, managed["id"])
        assert api.post(f"/volumes/{vol['id']}/action",
                        json={"os-unmanage": {}}).status_code == 202  # fmt: skip
        api.wait_for_gone(vol["id"])
        resp = api.post("/os-volume-manage", json={"volume": {
            "host": pool, "ref": {"source-name": volume_file.name}}})  # fmt: skip
        assert resp.status_code == 202, resp.text
        back = api.wait_for_volume(resp.json()["volume"]["id"])
        back_file = directory / f"volume-{back['id']}"
        assert qcow2_holds(back_file, 0x21) and qcow2_holds(back_file, 0x42, offset=FAR)
        api.delete_volume(back["id"])
