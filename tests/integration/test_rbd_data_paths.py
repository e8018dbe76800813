"""Data moving into, out of and within an RBD backend: migration between a file and an
RBD backend (both ways), retype within the cluster, openstacksdk's snapshot/clone, the
flatten and copy options, and Glance images (import, the image-volume cache as
copy-on-write clones, upload).
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import openstack
import pytest
from ceph_helpers import holds_pattern, image_spec, rbd_backend, write_pattern
from glance_helpers import GlanceEnv, active_image
from harness import Service, VolumeApi, launch, new_project
from infra.ceph import CephCluster
from keystone_helpers import KeystoneEnv, keystone_client
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint

MiB = 1 << 20
GiB = 1 << 30
ADMIN = "3.71"


@pytest.fixture(scope="module")
def svc(ceph: CephCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    ceph.create_pool("flat")
    ceph.create_pool("copy")
    backends = {
        "file-1": {"file_capacity_gb": "100"},
        "rbd-1": rbd_backend(ceph),
        "rbd-flat": rbd_backend(ceph, "flat", rbd_flatten_volume_from_snapshot="true"),
        "rbd-copy": rbd_backend(ceph, "copy", rbd_max_clone_depth="0"),
    }
    service = launch(tmp_path_factory.mktemp("rbd-data"), backends=backends,
                     defaults={"quota_volumes": "-1", "quota_snapshots": "-1"})  # fmt: skip
    with service.client(microversion=ADMIN) as api:
        for name in backends:
            body = {"volume_type": {"name": name,
                                    "extra_specs": {"volume_backend_name": name}}}  # fmt: skip
            assert api.post("/types", json=body).status_code == 200
        assert api.post("/types", json={"volume_type": {"name": "movable"}}).status_code == 200
        body = {"volume_type": {"name": "rbd-1-gold",
                                "extra_specs": {"volume_backend_name": "rbd-1"}}}  # fmt: skip
        assert api.post("/types", json=body).status_code == 200
    yield service
    service.stop()


@pytest.fixture
def api(svc: Service) -> Iterator[VolumeApi]:
    with svc.client(microversion=ADMIN) as client:
        yield client


def image(volume_id: str) -> str:
    return f"volume-{volume_id}"


def migrate(api: VolumeApi, volume_id: str, backend: str) -> dict[str, Any]:
    body = {"os-migrate_volume": {"host": f"itest@{backend}#{backend}", "force_host_copy": False}}
    resp = api.post(f"/volumes/{volume_id}/action", json=body)
    assert resp.status_code == 202, resp.text

    def done() -> dict[str, Any] | None:
        found: dict[str, Any] = api.get(f"/volumes/{volume_id}").json()["volume"]
        status = found.get("migration_status")
        assert status != "error", found
        return found if status == "success" else None

    return dict(api.wait_for(done, "the migration", timeout=120))


def test_migration_from_file_to_rbd_and_back_keeps_the_data(
    api: VolumeApi, svc: Service, ceph: CephCluster
) -> None:
    # A type that names no backend, so that the volume may move; the file backend has the
    # most room, so the volume starts there.
    volume = api.create_volume(1, volume_type="movable")
    assert volume["os-vol-host-attr:host"] == "itest@file-1#file-1"
    path = svc.find_volume_file(volume["id"])
    assert path is not None
    block = os.urandom(MiB)
    with path.open("r+b") as fh:
        fh.seek(300 * MiB)
        fh.write(block)

    moved = migrate(api, volume["id"], "rbd-1")
    assert moved["os-vol-host-attr:host"] == "itest@rbd-1#rbd-1"
    storage = moved.get("os-vol-mig-status-attr:name_id") or volume["id"]
    assert image(storage) in ceph.images()
    api.wait_for(lambda: svc.find_volume_file(volume["id"]) is None, "the file removed")
    out = svc.state_path / "from-rbd.raw"
    subprocess.run(["qemu-img", "convert", "-f", "raw", image_spec(ceph, image(storage)),
                    "-O", "raw", str(out)], check=True, env=ceph.env, timeout=120)  # fmt: skip
    with out.open("rb") as fh:
        fh.seek(300 * MiB)
        assert fh.read(MiB) == block

    back = migrate(api, volume["id"], "file-1")
    assert back["os-vol-host-attr:host"] == "itest@file-1#file-1"
    # The source's storage goes once the migration has completed.
    api.wait_for(lambda: image(storage) not in ceph.images(), "the RBD image removed")
    path = svc.find_volume_file(back.get("os-vol-mig-status-attr:name_id") or volume["id"])
    assert path is not None
    with path.open("rb") as fh:
        fh.seek(300 * MiB)
        assert fh.read(MiB) == block
    api.delete_volume(volume["id"])


def test_retype_within_the_cluster_keeps_the_image(api: VolumeApi, ceph: CephCluster) -> None:
    volume = api.create_volume(1, volume_type="rbd-1")
    before = ceph.image_info(f"{ceph.pool}/{image(volume['id'])}")["id"]
    resp = api.post(f"/volumes/{volume['id']}/action",
                    json={"os-retype": {"new_type": "rbd-1-gold"}})  # fmt: skip
    assert resp.status_code == 202, resp.text
    api.wait_for(lambda: api.get(f"/volumes/{volume['id']}").json()["volume"]["volume_type"]
                 == "rbd-1-gold", "the retype")  # fmt: skip
    assert ceph.image_info(f"{ceph.pool}/{image(volume['id'])}")["id"] == before
    api.delete_volume(volume["id"])


def test_openstacksdk_snapshot_and_volume_from_it_on_rbd(svc: Service, ceph: CephCluster) -> None:
    project = new_project()
    sess = ks_session.Session(auth=token_endpoint.Token(svc.endpoint(project),
                                                        f"tester:{project}"))  # fmt: skip
    conn = openstack.connection.Connection(
        session=sess, block_storage_endpoint_override=svc.endpoint(project),
        block_storage_api_version="3",
    )  # fmt: skip
    try:
        bs = conn.block_storage
        vol = bs.wait_for_status(bs.create_volume(size=1, volume_type="rbd-1"), "available")
        write_pattern(ceph, image(vol.id), 0x21)
        snap = bs.wait_for_status(bs.create_snapshot(volume_id=vol.id), "available")
        write_pattern(ceph, image(vol.id), 0x22)
        copy = bs.wait_for_status(bs.create_volume(size=1, snapshot_id=snap.id), "available")
        assert holds_pattern(ceph, image(copy.id), 0x21)
        assert ceph.image_info(f"{ceph.pool}/{image(copy.id)}")["parent"]["image"] == image(vol.id)  # type: ignore[index]
        bs.delete_volume(copy)
        bs.wait_for_delete(copy)
        bs.delete_snapshot(snap)
        bs.wait_for_delete(snap)
        bs.delete_volume(vol)
        bs.wait_for_delete(vol)
        assert {image(vol.id), image(copy.id)}.isdisjoint(ceph.images())
    finally:
        conn.close()


@pytest.mark.parametrize("backend", ["rbd-flat", "rbd-copy"])
def test_flatten_and_copy_options_make_independent_volumes(
    api: VolumeApi, ceph: CephCluster, backend: str
) -> None:
    pool = "flat" if backend == "rbd-flat" else "copy"
    volume = api.create_volume(1, volume_type=backend)
    write_pattern(ceph, image(volume["id"]), 0x31, pool=pool)
    body = {"snapshot": {"volume_id": volume["id"]}}
    snap = api.post("/snapshots", json=body).json()["snapshot"]
    api.wait_for(lambda: api.get(f"/snapshots/{snap['id']}").json()["snapshot"]["status"]
                 == "available", "snapshot")  # fmt: skip
    from_snap = api.create_volume(1, volume_type=backend, snapshot_id=snap["id"])
    clone = api.create_volume(1, volume_type=backend, source_volid=volume["id"])
    flat = ceph.image_info(f"{pool}/{image(from_snap['id'])}")
    assert "parent" not in flat
    assert holds_pattern(ceph, image(from_snap["id"]), 0x31, pool=pool)
    clone_info = ceph.image_info(f"{pool}/{image(clone['id'])}")
    # rbd_flatten_volume_from_snapshot applies to snapshots only (Cinder's rule); depth 0
    # copies everything.
    assert ("parent" in clone_info) == (backend == "rbd-flat")
    assert holds_pattern(ceph, image(clone["id"]), 0x31, pool=pool)
    for vid in (from_snap["id"], clone["id"]):
        api.delete_volume(vid)
    api.delete(f"/snapshots/{snap['id']}")
    api.wait_for(lambda: api.get(f"/snapshots/{snap['id']}").status_code == 404, "gone")
    api.delete_volume(volume["id"])
    assert not {i for i in ceph.images(pool) if volume["id"] in i}


# ---------------------------------------------------------------------------------------
# Glance


@pytest.fixture(scope="module")
def image_rbd(
    ceph: CephCluster, glance: GlanceEnv, keystone: KeystoneEnv,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Service]:  # fmt: skip
    service = launch(
        tmp_path_factory.mktemp("rbd-images"),
        backends={"rbd-img": rbd_backend(ceph, image_volume_cache_enabled="true")},
        defaults={"auth_strategy": "keystone", "quota_volumes": "200"},
        sections=keystone.firebrick_sections(),
    )
    yield service
    service.stop()


def test_volumes_from_a_glance_image_clone_the_cache_entry_and_upload_back(
    image_rbd: Service, glance: GlanceEnv, keystone: KeystoneEnv, ceph: CephCluster
) -> None:
    data = os.urandom(2 * MiB)
    source = glance.image("alpha", data, disk_format="qcow2", virtual_size=GiB)
    api = keystone_client(image_rbd, keystone.token("alpha", "member"),
                          keystone.project_id("alpha"), ADMIN)  # fmt: skip
    try:
        first = api.create_volume(1, imageRef=source["id"])
        second = api.create_volume(2, imageRef=source["id"])
        caches = {i for i in ceph.images() if i.startswith("image-cache-")}
        assert len(caches) == 1
        (entry,) = caches
        for vol in (first, second):
            info = ceph.image_info(f"{ceph.pool}/{image(vol['id'])}")
            assert info["parent"]["image"] == entry  # type: ignore[index]
            assert vol["bootable"] == "true"
        assert ceph.image_info(f"{ceph.pool}/{image(second['id'])}")["size"] == 2 * GiB
        out = image_rbd.state_path / "vol.raw"
        subprocess.run(["qemu-img", "convert", "-f", "raw",
                        image_spec(ceph, image(second["id"])), "-O", "raw", str(out)],
                       check=True, env=ceph.env, timeout=120)  # fmt: skip
        assert out.read_bytes()[: len(data)] == data

        # Upload the volume to a new image (qcow2: only the data travels): Glance gets
        # the volume's data.
        name = f"up-{uuid.uuid4().hex[:6]}"
        resp = api.post(f"/volumes/{first['id']}/action", json={"os-volume_upload_image": {
            "image_name": name, "disk_format": "qcow2", "container_format": "bare"}})  # fmt: skip
        assert resp.status_code == 202, resp.text
        uploaded = resp.json()["os-volume_upload_image"]["image_id"]
        g = glance.client("alpha")
        try:
            active_image(api, g, uploaded)
            qcow2 = image_rbd.state_path / "uploaded.qcow2"
            qcow2.write_bytes(g.get(f"/images/{uploaded}/file").content)
            raw = image_rbd.state_path / "uploaded.raw"
            subprocess.run(["qemu-img", "convert", "-f", "qcow2", str(qcow2), "-O", "raw",
                            str(raw)], check=True, timeout=120)  # fmt: skip
            assert raw.read_bytes()[: len(data)] == data and raw.stat().st_size == GiB
        finally:
            g.delete(f"/images/{uploaded}")
            g.close()
        for vol in (first, second):
            api.delete_volume(vol["id"])
    finally:
        api.close()
