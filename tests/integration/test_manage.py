"""Managing and unmanaging volumes on a file backend, over HTTP as Cinder's clients do.

A private service (restarted by one test), admin through noauth. Every answer of the manage
routes is checked against Tempest's schema; every refused request is checked to have
changed nothing: the backend's files (inode, size, mtime, content), the volume and
snapshot records, the project's quota usage and the pool's allocated capacity.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.register_assert_rewrite("manage_helpers", "lifecycle_helpers")

from harness import Service, VolumeApi, launch  # noqa: E402
from lifecycle_helpers import (  # noqa: E402
    FAR,
    create_snapshot,
    events,
    pwrite_pattern,
    raw_holds,
    set_quota,
    wait_event,
)
from manage_helpers import (  # noqa: E402
    GiB,
    MiB,
    allocated,
    entry_for,
    files,
    manage_volume,
    manageable,
    pool_name,
    state,
    usage,
)
from tempest_schemas import TempestSchemas  # noqa: E402


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    service = launch(
        tmp_path_factory.mktemp("manage"),
        backends={"file-1": {"file_capacity_gb": "100"}, "file-2": {"file_capacity_gb": "100"}},
        defaults={"quota_volumes": "20", "quota_gigabytes": "100"},
    )
    yield service
    service.stop()


@pytest.fixture
def api(svc: Service) -> Iterator[VolumeApi]:
    with svc.client() as client:
        yield client


def volume_dir(svc: Service, backend: str = "file-1") -> Path:
    return svc.backends[backend].volume_dir


def on_file_1(api: VolumeApi, size: int = 1) -> dict[str, Any]:
    """A volume on file-1 (pinned with a type, so that the test knows its directory)."""
    name = f"f1-{uuid.uuid4().hex[:8]}"
    resp = api.post("/types", json={"volume_type": {
        "name": name, "extra_specs": {"volume_backend_name": "file-1"}}})  # fmt: skip
    assert resp.status_code == 200, resp.text
    return api.create_volume(size=size, volume_type=name)


# ---------------------------------------------------------------------------------------
# the round trip


def test_unmanage_restart_and_manage_back_keep_the_data_and_the_books(
    svc: Service, api: VolumeApi, tempest_schemas: TempestSchemas
) -> None:
    pool = pool_name(svc)
    vol = on_file_1(api, size=2)
    path = volume_dir(svc) / f"volume-{vol['id']}"
    pwrite_pattern(path, 0xA5)
    pwrite_pattern(path, 0x5A, offset=FAR)
    inode = path.stat().st_ino
    used, alloc = usage(api), allocated(api, pool)

    resp = api.post(f"/volumes/{vol['id']}/action", json={"os-unmanage": {}})
    assert resp.status_code == 202, resp.text
    tempest_schemas.check("volumes.unmanage_volume", resp)
    api.wait_for_gone(vol["id"])
    assert usage(api)["volumes"] == used["volumes"] - 1
    assert usage(api)["gigabytes"] == used["gigabytes"] - 2
    assert allocated(api, pool) == alloc - 2
    wait_event(svc, "volume.unmanage.end", volume_id=vol["id"])
    assert events(svc, "volume.unmanage.start", volume_id=vol["id"])
    assert not events(svc, "volume.delete.start", volume_id=vol["id"])
    assert path.stat().st_ino == inode and raw_holds(path, 0xA5)

    # A volume service that starts again must not take the file for garbage.
    svc.restart()
    assert path.exists() and raw_holds(path, 0x5A, offset=FAR)
    assert "keeping storage no volume claims" in svc.log()
    listed = entry_for(manageable(api, "volume", pool), path.name)
    assert listed == {"reference": {"source-name": path.name}, "size": 2,
                      "safe_to_manage": True, "reason_not_safe": None, "cinder_id": None,
                      "extra_info": None}  # fmt: skip

    resp = manage_volume(api, pool, path.name, name="back", description="managed again",
                         metadata={"origin": "unmanaged"}, bootable=True,
                         volume_type=vol["volume_type"])  # fmt: skip
    assert resp.status_code == 202, resp.text
    tempest_schemas.check("manage_volume.manage_volume", resp)
    managed = resp.json()["volume"]
    assert managed["id"] != vol["id"]
    assert managed["status"] == "creating"
    shown = api.wait_for_volume(managed["id"])
    assert (shown["name"], shown["description"], shown["size"]) == ("back", "managed again", 2)
    assert shown["metadata"] == {"origin": "unmanaged"}
    assert shown["bootable"] == "true"
    assert shown["os-vol-host-attr:host"] == pool
    assert shown["volume_type"] == vol["volume_type"]
    assert shown["availability_zone"] == vol["availability_zone"]
    final = volume_dir(svc) / f"volume-{managed['id']}"
    assert not path.exists()
    assert final.stat().st_ino == inode
    assert raw_holds(final, 0xA5) and raw_holds(final, 0x5A, offset=FAR)
    assert usage(api)["volumes"] == used["volumes"]
    assert usage(api)["gigabytes"] == used["gigabytes"]
    assert allocated(api, pool) == alloc
    start = wait_event(svc, "volume.manage_existing.start", volume_id=managed["id"])
    end = wait_event(svc, "volume.manage_existing.end", volume_id=managed["id"])
    assert (start["payload"]["status"], end["payload"]["status"]) == ("managing", "available")

    listed = entry_for(manageable(api, "volume", pool), final.name)
    assert (listed["safe_to_manage"], listed["reason_not_safe"]) == (False, "already managed")
    assert listed["cinder_id"] == managed["id"]

    api.delete_volume(managed["id"])
    assert not final.exists()  # managed storage is Firebrick's: deleting removes it


def test_manageable_volumes_route_and_microversions(
    svc: Service, api: VolumeApi, tempest_schemas: TempestSchemas
) -> None:
    pool = pool_name(svc)
    name = f"operator-{uuid.uuid4().hex[:8]}.img"
    with open(volume_dir(svc) / name, "wb") as handle:
        handle.truncate(GiB + 1)
    try:
        # /manageable_volumes is 3.8+; /os-volume-manage answers at every microversion.
        old = api.get("/manageable_volumes", params={"host": pool}, headers=api.mv("3.7"))
        api.assert_fault(old, 404)
        api.assert_fault(api.post("/manageable_volumes", json={}, headers=api.mv("3.7")), 404)
        summary = api.get("/os-volume-manage", params={"host": pool})
        assert summary.status_code == 200, summary.text
        assert entry_for(summary.json()["manageable-volumes"], name) == {
            "reference": {"source-name": name}, "size": 2, "safe_to_manage": True
        }  # fmt: skip
        resp = api.post("/manageable_volumes", headers=api.mv("3.8"),
                        json={"volume": {"host": pool, "ref": {"source-name": name}}})  # fmt: skip
        assert resp.status_code == 202, resp.text
        tempest_schemas.check("manage_volume.manage_volume", resp)
        # The answer is Cinder's legacy view whatever the microversion.
        assert "volume_type_id" not in resp.json()["volume"]
        managed = api.wait_for_volume(resp.json()["volume"]["id"])
        assert managed["size"] == 2
        assert (volume_dir(svc) / f"volume-{managed['id']}").stat().st_size == 2 * GiB
        api.delete_volume(managed["id"])
    finally:
        (volume_dir(svc) / name).unlink(missing_ok=True)


def test_manageable_lists_sort_and_page(svc: Service, api: VolumeApi) -> None:
    pool = pool_name(svc)
    prefix = f"page-{uuid.uuid4().hex[:6]}"
    names = [f"{prefix}-{n}" for n in "abcd"]
    for n, name in enumerate(names):
        with open(volume_dir(svc) / name, "wb") as handle:
            handle.truncate((4 - n) * GiB)
    try:

        def mine(**params: Any) -> list[str]:
            found = manageable(api, "volume", pool, **params)
            return [e["reference"]["source-name"] for e in found
                    if e["reference"]["source-name"].startswith(prefix)]  # fmt: skip

        assert mine(sort="reference:asc") == names
        assert mine(sort="size:asc") == names[::-1]
        assert mine() == sorted(names, reverse=True)  # Cinder's default: reference desc
        whole = manageable(api, "volume", pool, sort="reference:asc")
        first = next(i for i, e in enumerate(whole) if e["reference"]["source-name"] == names[0])
        marker = f'{{"source-name": "{names[0]}"}}'
        after = manageable(api, "volume", pool, sort="reference:asc", marker=marker, limit=2)
        assert after == whole[first + 1 : first + 3]
        shifted = manageable(api, "volume", pool, sort="reference:asc", marker=marker,
                             offset=1, limit=1)  # fmt: skip
        assert shifted == whole[first + 2 : first + 3]
        for bad in ({"sort": "name"}, {"sort_dir": "up"}, {"limit": "x"}, {"offset": "-1"},
                    {"marker": "{}"}, {"marker": "not json"}):  # fmt: skip
            resp = api.get("/manageable_volumes", params={"host": pool, **bad},
                           headers=api.mv("3.8"))  # fmt: skip
            api.assert_fault(resp, 400)
        api.assert_fault(api.get("/os-volume-manage"), 400)  # no host
        api.assert_fault(api.get("/os-volume-manage", params={"host": "nowhere@x"}), 404)
        both = {"host": pool, "cluster": "c1"}
        api.assert_fault(api.get("/manageable_volumes", params=both, headers=api.mv("3.17")), 400)
        # Snapshot lists show snapshot files only, with their source.
        assert not [e for e in manageable(api, "snapshot", pool)
                    if e["reference"]["source-name"].startswith(prefix)]  # fmt: skip
    finally:
        for name in names:
            (volume_dir(svc) / name).unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------
# refusals change nothing


def test_bad_references_are_400_and_change_nothing(
    svc: Service, api: VolumeApi, tmp_path: Path
) -> None:
    pool = pool_name(svc)
    here = volume_dir(svc)
    owned = on_file_1(api)
    snapshot = create_snapshot(api, owned["id"])
    secret = tmp_path / "secret"
    secret.write_bytes(b"do not export me")
    tag = uuid.uuid4().hex[:8]
    (here / f"out-{tag}").symlink_to(secret)
    (here / f"passwd-{tag}").symlink_to("/etc/passwd")
    (here / f"dir-{tag}").mkdir()
    (here / f"dir-{tag}" / "inner").write_bytes(b"x" * 10)
    os.mkfifo(here / f"fifo-{tag}")
    cases = {
        "../etc/passwd": "not a path",
        "/etc/passwd": "not a path",
        f"dir-{tag}/inner": "not a path",
        f"out-{tag}": "is a symbolic link",
        f"passwd-{tag}": "is a symbolic link",
        f"dir-{tag}": "is not a regular file",
        f"fifo-{tag}": "is not a regular file",
        f"volume-{owned['id']}": "already managed",
        f"snapshot-{snapshot['id']}": "already managed",
        ".chain.lock": "hidden file",
        f"missing-{tag}": "does not exist",
    }
    try:
        before = state(api, svc)
        for name, why in cases.items():
            message = api.assert_fault(manage_volume(api, pool, name), 400)
            assert why in message, (name, message)
            assert state(api, svc) == before, name
        for ref in ({"source-id": owned["id"]}, {"source-name": 7}, "", {}):
            resp = api.post("/os-volume-manage", json={"volume": {"host": pool, "ref": ref}})
            api.assert_fault(resp, 400)
        assert state(api, svc) == before
        assert secret.read_bytes() == b"do not export me"
    finally:
        for name in (f"out-{tag}", f"passwd-{tag}", f"fifo-{tag}"):
            (here / name).unlink()
        (here / f"dir-{tag}" / "inner").unlink()
        (here / f"dir-{tag}").rmdir()
        api.delete(f"/snapshots/{snapshot['id']}")


def test_bad_requests_around_the_reference_change_nothing(svc: Service, api: VolumeApi) -> None:
    pool = pool_name(svc)
    name = f"spare-{uuid.uuid4().hex[:8]}"
    with open(volume_dir(svc) / name, "wb") as handle:
        handle.truncate(MiB)
    try:
        before = state(api, svc)
        bad = [
            ({"host": "nowhere@file-9#x"}, 400, "not found"),
            ({"host": pool, "volume_type": "no-such-type"}, 400, "volume type"),
            ({"host": pool, "availability_zone": "elsewhere"}, 400, "cannot take"),
            ({"host": f"{svc.host}@file-1#no-pool"}, 400, "pool"),
            ({"host": pool, "bootable": "perhaps"}, 400, "bootable"),
            ({"host": pool, "size": 3}, 400, "Additional properties"),
            ({"cluster": "c1"}, 400, "Additional properties"),  # cluster is 3.16+
            ({}, 400, "Host field is missing"),
        ]
        for fields, code, why in bad:
            body = {"volume": {"ref": {"source-name": name}, **fields}}
            message = api.assert_fault(api.post("/os-volume-manage", json=body), code)
            assert why in message, (fields, message)
        by_cluster = {"volume": {"ref": {"source-name": name}, "cluster": "c1"}}
        at_3_16 = api.post("/os-volume-manage", headers=api.mv("3.16"), json=by_cluster)
        assert "Cluster 'c1' not found" in api.assert_fault(at_3_16, 400)
        assert state(api, svc) == before
    finally:
        (volume_dir(svc) / name).unlink()


def test_quota_is_charged_as_for_a_create(svc: Service, api: VolumeApi) -> None:
    pool = pool_name(svc)
    name = f"big-{uuid.uuid4().hex[:8]}"
    with open(volume_dir(svc) / name, "wb") as handle:
        handle.truncate(3 * GiB)
    try:
        set_quota(api, gigabytes=2)
        before = state(api, svc)
        message = api.assert_fault(manage_volume(api, pool, name), 413)
        assert "gigabytes" in message
        assert state(api, svc) == before
        set_quota(api, gigabytes=3)
        resp = manage_volume(api, pool, name)
        assert resp.status_code == 202, resp.text
        managed = api.wait_for_volume(resp.json()["volume"]["id"])
        assert managed["size"] == 3
        assert usage(api)["gigabytes"] == before["usage"]["gigabytes"] + 3
        assert usage(api)["volumes"] == before["usage"]["volumes"] + 1
        assert allocated(api, pool) == before["allocated"] + 3
        api.delete_volume(managed["id"])
        assert usage(api) == before["usage"]
        assert allocated(api, pool) == before["allocated"]
    finally:
        (volume_dir(svc) / name).unlink(missing_ok=True)


def test_unmanage_refuses_what_delete_refuses(svc: Service, api: VolumeApi) -> None:
    vol = on_file_1(api)
    snap = create_snapshot(api, vol["id"])
    unmanage = {"os-unmanage": {}}
    assert "snapshots" in api.assert_fault(
        api.post(f"/volumes/{vol['id']}/action", json=unmanage), 400
    )
    api.delete(f"/snapshots/{snap['id']}")
    api.wait_for(lambda: api.get(f"/snapshots/{snap['id']}").status_code == 404, "snap gone")
    reserved = api.post("/attachments", headers=api.mv("3.27"),
                        json={"attachment": {"volume_uuid": vol["id"]}})  # fmt: skip
    assert reserved.status_code == 200, reserved.text
    api.assert_fault(api.post(f"/volumes/{vol['id']}/action", json=unmanage), 400)
    deleted = api.delete(f"/attachments/{reserved.json()['attachment']['id']}",
                         headers=api.mv("3.27"))  # fmt: skip
    assert deleted.status_code == 200, deleted.text
    api.assert_fault(api.post(f"/volumes/{uuid.uuid4()}/action", json=unmanage), 404)
    # An error volume may be unmanaged; its file stays.
    resp = api.post(f"/volumes/{vol['id']}/action", json={"os-reset_status": {"status": "error"}})
    assert resp.status_code == 202, resp.text
    assert api.post(f"/volumes/{vol['id']}/action", json=unmanage).status_code == 202
    api.wait_for_gone(vol["id"])
    leftover = volume_dir(svc) / f"volume-{vol['id']}"
    assert leftover.exists()
    leftover.unlink()


# ---------------------------------------------------------------------------------------
# orphans: only storage Firebrick knows to be garbage goes


def test_restart_removes_storage_of_volumes_elsewhere_and_keeps_the_unknown(
    svc: Service, api: VolumeApi
) -> None:
    """A copy of a file-2 volume's storage left on file-1 (as a create moved away leaves
    it) is garbage; a ``volume-<id>`` file no record claims may be someone's data."""
    name = f"f2-{uuid.uuid4().hex[:8]}"
    resp = api.post("/types", json={"volume_type": {
        "name": name, "extra_specs": {"volume_backend_name": "file-2"}}})  # fmt: skip
    assert resp.status_code == 200, resp.text
    elsewhere = api.create_volume(volume_type=name)
    stray = volume_dir(svc) / f"volume-{elsewhere['id']}"
    stray.write_bytes(b"left behind")
    stranger = volume_dir(svc) / f"volume-{uuid.uuid4()}"
    stranger.write_bytes(b"an operator's data")
    kept = files(volume_dir(svc, "file-2"))
    svc.restart()
    api.wait_for(lambda: not stray.exists(), "the stray copy removed")
    assert stranger.read_bytes() == b"an operator's data"
    assert files(volume_dir(svc, "file-2")) == kept
    stranger.unlink()
    api.delete_volume(elsewhere["id"])
