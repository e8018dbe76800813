"""An RBD backend as operators and the manage API see it: pools and capacity from the
cluster, os-services, manage/unmanage of existing images and snapshots, deferred
deletion through the trash, a pool shared with others (provisioned capacity from image
sizes), and a backend that cannot reach its cluster.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from ceph_helpers import holds_pattern, rbd_backend, write_pattern
from harness import Service, VolumeApi, launch
from infra.ceph import CephCluster
from tempest_schemas import TempestSchemas

GiB = 1 << 30
ADMIN = "3.71"


@pytest.fixture(scope="module")
def svc(ceph: CephCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    ceph.create_pool("shared")
    service = launch(
        tmp_path_factory.mktemp("rbd-backend"),
        backends={
            "rbd-1": rbd_backend(ceph),
            # A pool other tools use too: provisioned capacity is counted from its images;
            # deletes go through the trash and a purge every second.
            "rbd-shared": rbd_backend(
                ceph,
                "shared",
                rbd_exclusive_cinder_pool="false",
                enable_deferred_deletion="true",
                deferred_deletion_delay="0",
                deferred_deletion_purge_interval="1",
            ),
        },
        defaults={"quota_volumes": "100"},
    )
    yield service
    service.stop()


@pytest.fixture
def api(svc: Service) -> Iterator[VolumeApi]:
    with svc.client(microversion=ADMIN) as client:
        yield client


def pool_of(api: VolumeApi, backend: str) -> dict[str, Any]:
    resp = api.get("/scheduler-stats/get_pools", params={"detail": "true"})
    assert resp.status_code == 200, resp.text
    for pool in resp.json()["pools"]:
        if pool["name"] == f"itest@{backend}#{backend}":
            return dict(pool)
    raise AssertionError(f"no pool of {backend}: {resp.text}")


def test_get_pools_reports_the_clusters_capacity_as_cinders_rbd_driver(
    api: VolumeApi, ceph: CephCluster, tempest_schemas: TempestSchemas
) -> None:
    resp = api.get("/scheduler-stats/get_pools", params={"detail": "true"})
    tempest_schemas.check("scheduler_stats.get_pools_with_detail", resp)
    caps = pool_of(api, "rbd-1")["capabilities"]
    assert caps["storage_protocol"] == "ceph"
    assert caps["vendor_name"] == "Open Source"
    assert caps["driver_version"] == "1.3.0"
    assert caps["thin_provisioning_support"] is True
    assert caps["multiattach"] is True
    assert caps["online_extend_support"] is True
    assert caps["backend_state"] == "up"
    assert caps["location_info"].startswith(f"ceph:{ceph.conf}:")
    assert caps["location_info"].endswith(":cinder:volumes")
    # Dynamic total (the default): used + free of the pool; at most the 4 GiB OSD.
    df = ceph.ceph_json("df")
    assert isinstance(df, dict)
    stats = next(p["stats"] for p in df["pools"] if p["name"] == ceph.pool)
    assert caps["free_capacity_gb"] == pytest.approx(stats["max_avail"] / GiB, abs=0.1)
    assert 0 < caps["total_capacity_gb"] <= 4


def test_a_shared_pool_reports_provisioned_capacity_from_image_sizes(
    api: VolumeApi, ceph: CephCluster
) -> None:
    name = f"foreign-{uuid.uuid4().hex[:8]}"
    ceph.run("rbd", "create", "--size", "3G", f"shared/{name}")
    try:

        def counted() -> bool:
            caps = pool_of(api, "rbd-shared")["capabilities"]
            return int(caps.get("provisioned_capacity_gb", 0)) >= 3

        api.wait_for(counted, "the foreign image counted", timeout=30)
    finally:
        ceph.run("rbd", "rm", f"shared/{name}")


def test_os_services_lists_each_rbd_backend_up(
    svc: Service, tempest_schemas: TempestSchemas
) -> None:
    with svc.client() as api:  # microversion 3.0, the schema's
        resp = api.get("/os-services", params={"binary": "cinder-volume"})
    tempest_schemas.check("services.list_services", resp)
    hosts = {s["host"]: s for s in resp.json()["services"]}
    for backend in ("rbd-1", "rbd-shared"):
        assert hosts[f"itest@{backend}"]["state"] == "up"
        assert hosts[f"itest@{backend}"]["status"] == "enabled"


def test_manage_and_unmanage_an_existing_image_and_snapshot(
    api: VolumeApi, ceph: CephCluster, tempest_schemas: TempestSchemas
) -> None:
    name = f"legacy-{uuid.uuid4().hex[:8]}"
    ceph.run("rbd", "create", "--size", "1536M", f"{ceph.pool}/{name}")
    write_pattern(ceph, name, 0x71)
    ceph.run("rbd", "snap", "create", f"{ceph.pool}/{name}@before")

    listed = api.get("/manageable_volumes/detail", params={"host": "itest@rbd-1"})
    assert listed.status_code == 200, listed.text
    entry = next(v for v in listed.json()["manageable-volumes"]
                 if v["reference"] == {"source-name": name})  # fmt: skip
    assert entry["size"] == 2 and entry["safe_to_manage"] is True

    resp = api.post(
        "/manageable_volumes",
        json={
            "volume": {"host": "itest@rbd-1#rbd-1", "ref": {"source-name": name}, "name": "adopted"}
        },
    )
    tempest_schemas.check("manage_volume.manage_volume", resp)
    volume = api.wait_for_volume(resp.json()["volume"]["id"])
    assert volume["size"] == 2
    image = f"volume-{volume['id']}"
    assert name not in ceph.images() and image in ceph.images()
    assert ceph.image_info(f"{ceph.pool}/{image}")["size"] == 2 * GiB
    assert holds_pattern(ceph, image, 0x71)

    snap = api.post(
        "/manageable_snapshots",
        json={"snapshot": {"volume_id": volume["id"], "ref": {"source-name": "before"}}},
    )
    tempest_schemas.check("manage_snapshot.manage_snapshot", snap)
    snapshot_id = snap.json()["snapshot"]["id"]
    api.wait_for(lambda: api.get(f"/snapshots/{snapshot_id}").json()["snapshot"]["status"]
                 == "available", "managed snapshot")  # fmt: skip
    assert ceph.snapshots(f"{ceph.pool}/{image}") == [f"snapshot-{snapshot_id}"]

    # A reference to nothing is Cinder's 400 and changes nothing.
    bad = api.post(
        "/manageable_volumes",
        json={"volume": {"host": "itest@rbd-1#rbd-1", "ref": {"source-name": "no-such-image"}}},
    )
    api.assert_fault(bad, 400)
    count = api.volume_count()

    # Unmanage: the records go, the image and snapshot stay in the pool as they are.
    done = api.post(f"/snapshots/{snapshot_id}/action", json={"os-unmanage": None})
    assert done.status_code == 202, done.text
    api.wait_for(lambda: api.get(f"/snapshots/{snapshot_id}").status_code == 404, "unmanaged")
    done = api.post(f"/volumes/{volume['id']}/action", json={"os-unmanage": None})
    assert done.status_code == 202, done.text
    api.wait_for_gone(volume["id"])
    assert api.volume_count() == count - 1
    assert image in ceph.images()
    assert ceph.snapshots(f"{ceph.pool}/{image}") == [f"snapshot-{snapshot_id}"]
    assert holds_pattern(ceph, image, 0x71)
    ceph.run("rbd", "snap", "unprotect", f"{ceph.pool}/{image}@snapshot-{snapshot_id}")
    ceph.run("rbd", "snap", "purge", f"{ceph.pool}/{image}")
    ceph.run("rbd", "rm", f"{ceph.pool}/{image}")


def test_deferred_deletion_trashes_then_purges(api: VolumeApi, ceph: CephCluster) -> None:
    type_id = api.post(
        "/types",
        json={
            "volume_type": {
                "name": f"shared-{uuid.uuid4().hex[:6]}",
                "extra_specs": {"volume_backend_name": "rbd-shared"},
            }
        },
    ).json()["volume_type"]["id"]
    volume = api.create_volume(1, volume_type=type_id)
    clone = api.create_volume(1, volume_type=type_id, source_volid=volume["id"])
    image = f"volume-{volume['id']}"
    assert image in ceph.images("shared")
    api.delete_volume(volume["id"])  # a clone stands on it: hidden, not trashed
    assert f"{image}.deleted" in ceph.images("shared")
    api.delete_volume(clone["id"])

    def purged() -> bool:
        left = {i for i in ceph.images("shared") if volume["id"] in i or clone["id"] in i}
        trashed = [t for t in ceph.trash("shared")
                   if volume["id"] in str(t["name"]) or clone["id"] in str(t["name"])]  # fmt: skip
        return not left and not trashed

    # The clone went to the trash; the purge removes it, then its hidden parent (which
    # goes through the trash too).
    api.wait_for(purged, "the trash purged", timeout=60)


def test_a_backend_whose_pool_does_not_exist_is_down_saying_why_until_it_does(
    ceph: CephCluster, tmp_path_factory: pytest.TempPathFactory
) -> None:
    pool = f"late-{uuid.uuid4().hex[:8]}"
    options = rbd_backend(ceph, rbd_pool=pool)
    svc = launch(tmp_path_factory.mktemp("rbd-bad"), backends={"rbd-bad": options},
                 defaults={"report_interval": "1"})  # fmt: skip
    try:
        api = svc.client()

        def capabilities() -> dict[str, Any]:
            found = api.get("/scheduler-stats/get_pools", params={"detail": "true"}).json()
            return dict(found["pools"][0]["capabilities"]) if found["pools"] else {}

        api.wait_for(lambda: capabilities().get("backend_state") == "down", "reported down")
        assert pool in capabilities()["backend_state_reason"]
        assert capabilities()["free_capacity_gb"] == 0
        assert "rbd-bad is down" in svc.output()
        assert api.create_volume(1, wait="error")["status"] == "error"  # nowhere to place it
        ceph.create_pool(pool)  # the service tries its setup again at every report
        api.wait_for(lambda: capabilities().get("backend_state") == "up", "up", timeout=60)
        volume = api.create_volume(1)
        assert volume["status"] == "available"
        assert f"volume-{volume['id']}" in ceph.images(pool)
    finally:
        svc.stop()
