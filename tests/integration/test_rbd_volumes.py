"""The RBD driver against a real one-node Ceph, driven through the API with cinderclient
and openstacksdk; the data checked with qemu-io on ``rbd:pool/image``.

One service per module with an RBD backend ``rbd-1`` on the session cluster's pool,
reached as the restricted cephx user ``cinder`` (``rbd_user`` + ``rbd_keyring_conf``),
with ``rbd_max_clone_depth = 2`` so that the flatten rule shows in a short chain.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from ceph_helpers import holds_pattern, rbd_backend, write_pattern
from cinderclient import client as cinder_client
from harness import Service, launch, new_project
from infra.ceph import CephCluster
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint

GiB = 1 << 30
MiB = 1 << 20
FAR = 700 * MiB  # a second pattern far into the volume

ALL_FEATURES = {"layering", "exclusive-lock", "object-map", "fast-diff", "deep-flatten"}


@pytest.fixture(scope="module")
def rbd_service(ceph: CephCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    svc = launch(
        tmp_path_factory.mktemp("rbd-volumes"),
        backends={"rbd-1": rbd_backend(ceph, rbd_max_clone_depth="2")},
        defaults={"quota_volumes": "100", "quota_snapshots": "100"},
    )
    yield svc
    svc.stop()


@pytest.fixture
def cinder(rbd_service: Service) -> Any:
    project = new_project()
    endpoint = rbd_service.endpoint(project)
    sess = ks_session.Session(auth=token_endpoint.Token(endpoint, f"tester:{project}"))
    return cinder_client.Client("3.71", session=sess)


def wait(getter: Any, item_id: str, status: str = "available", timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    item = getter(item_id)
    while item.status != status and time.monotonic() < deadline:
        assert item.status in {"creating", "deleting", "extending", "reverting"}, item._info
        time.sleep(0.05)
        item = getter(item_id)
    assert item.status == status, item._info
    return item


def wait_gone(cinder: Any, volume_id: str, timeout: float = 60.0) -> None:
    from cinderclient import exceptions

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            volume = cinder.volumes.get(volume_id)
        except exceptions.NotFound:
            return
        assert volume.status == "deleting", volume._info
        time.sleep(0.05)
    raise AssertionError(f"volume {volume_id} was not deleted")


def new_volume(cinder: Any, size: int = 1, **kwargs: Any) -> Any:
    return wait(cinder.volumes.get, cinder.volumes.create(size, **kwargs).id)


def new_snapshot(cinder: Any, volume_id: str) -> Any:
    return wait(cinder.volume_snapshots.get, cinder.volume_snapshots.create(volume_id).id)


def image(volume_id: str) -> str:
    return f"volume-{volume_id}"


def test_create_makes_an_image_with_cinders_features_and_delete_removes_it(
    ceph: CephCluster, cinder: Any
) -> None:
    volume = new_volume(cinder, 2, name="first")
    info = ceph.image_info(f"{ceph.pool}/{image(volume.id)}")
    assert info["size"] == 2 * GiB
    assert set(info["features"]) >= ALL_FEATURES  # type: ignore[arg-type]
    assert info["object_size"] == 4 * MiB  # rbd_store_chunk_size
    assert "parent" not in info
    cinder.volumes.delete(volume.id)
    wait_gone(cinder, volume.id)
    assert image(volume.id) not in ceph.images()
    assert not ceph.trash()


def test_snapshot_then_clone_from_it_holds_the_old_data(ceph: CephCluster, cinder: Any) -> None:
    volume = new_volume(cinder, 1)
    name = image(volume.id)
    write_pattern(ceph, name, 0x11)
    write_pattern(ceph, name, 0x12, offset=FAR)
    snapshot = new_snapshot(cinder, volume.id)
    assert f"snapshot-{snapshot.id}" in ceph.snapshots(f"{ceph.pool}/{name}")
    write_pattern(ceph, name, 0x22)  # overwrite after the snapshot

    clone = new_volume(cinder, 2, snapshot_id=snapshot.id)
    info = ceph.image_info(f"{ceph.pool}/{image(clone.id)}")
    assert info["parent"]["image"] == name  # type: ignore[index]
    assert info["parent"]["snapshot"] == f"snapshot-{snapshot.id}"  # type: ignore[index]
    assert info["size"] == 2 * GiB  # grown to the requested size
    assert holds_pattern(ceph, image(clone.id), 0x11)
    assert holds_pattern(ceph, image(clone.id), 0x12, offset=FAR)
    assert holds_pattern(ceph, name, 0x22)
    assert not holds_pattern(ceph, name, 0x11)

    # A clone is independent: writes to it do not reach the source, nor back.
    write_pattern(ceph, image(clone.id), 0x33, offset=FAR)
    assert holds_pattern(ceph, name, 0x12, offset=FAR)

    # The snapshot goes although a clone stands on it: the clone is flattened first.
    cinder.volume_snapshots.delete(snapshot.id)
    wait_snapshot_gone(cinder, snapshot.id)
    assert "parent" not in ceph.image_info(f"{ceph.pool}/{image(clone.id)}")
    assert holds_pattern(ceph, image(clone.id), 0x11)
    for vol in (clone, volume):
        cinder.volumes.delete(vol.id)
        wait_gone(cinder, vol.id)
    assert {name, image(clone.id)}.isdisjoint(ceph.images())


def wait_snapshot_gone(cinder: Any, snapshot_id: str, timeout: float = 60.0) -> None:
    from cinderclient import exceptions

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            snap = cinder.volume_snapshots.get(snapshot_id)
        except exceptions.NotFound:
            return
        assert snap.status == "deleting", snap._info
        time.sleep(0.05)
    raise AssertionError(f"snapshot {snapshot_id} was not deleted")


def test_clone_of_a_volume_stands_on_a_temporary_snapshot_and_outlives_its_source(
    ceph: CephCluster, cinder: Any
) -> None:
    source = new_volume(cinder, 1)
    src = image(source.id)
    write_pattern(ceph, src, 0x41)
    clone = new_volume(cinder, 1, source_volid=source.id)
    clone_snap = f"{image(clone.id)}.clone_snap"
    assert clone_snap in ceph.snapshots(f"{ceph.pool}/{src}")
    info = ceph.image_info(f"{ceph.pool}/{image(clone.id)}")
    assert info["parent"]["snapshot"] == clone_snap  # type: ignore[index]
    write_pattern(ceph, src, 0x42)
    assert holds_pattern(ceph, image(clone.id), 0x41)

    # Deleting the source while its clone stands on it: the source goes from the API at
    # once; its image is kept hidden for the clone.
    cinder.volumes.delete(source.id)
    wait_gone(cinder, source.id)
    assert src not in ceph.images()
    assert f"{src}.deleted" in ceph.images()
    assert holds_pattern(ceph, image(clone.id), 0x41)
    # The last clone gone, the hidden parent goes too: nothing is left behind.
    cinder.volumes.delete(clone.id)
    wait_gone(cinder, clone.id)
    assert {f"{src}.deleted", image(clone.id)}.isdisjoint(ceph.images())
    assert not ceph.trash()


def test_clone_chain_is_flattened_past_rbd_max_clone_depth(ceph: CephCluster, cinder: Any) -> None:
    base = new_volume(cinder, 1)
    write_pattern(ceph, image(base.id), 0x51)
    chain = [base]
    for _ in range(3):
        chain.append(new_volume(cinder, 1, source_volid=chain[-1].id))
    infos = [ceph.image_info(f"{ceph.pool}/{image(v.id)}") for v in chain]
    # depth 1 and 2 are clones; the third would be deeper than 2: flattened, and its
    # temporary snapshot on the source removed.
    assert "parent" in infos[1] and "parent" in infos[2]
    assert "parent" not in infos[3]
    assert f"{image(chain[3].id)}.clone_snap" not in ceph.snapshots(
        f"{ceph.pool}/{image(chain[2].id)}"
    )
    assert holds_pattern(ceph, image(chain[3].id), 0x51)
    for vol in chain:
        cinder.volumes.delete(vol.id)
    for vol in chain:
        wait_gone(cinder, vol.id)
    assert not {i for i in ceph.images() if any(v.id in i for v in chain)}


def test_extend_keeps_data_and_revert_restores_it(ceph: CephCluster, cinder: Any) -> None:
    volume = new_volume(cinder, 1)
    name = image(volume.id)
    write_pattern(ceph, name, 0x61)
    cinder.volumes.extend(volume.id, 2)
    wait(cinder.volumes.get, volume.id)
    assert ceph.image_info(f"{ceph.pool}/{name}")["size"] == 2 * GiB
    assert holds_pattern(ceph, name, 0x61)

    snapshot = new_snapshot(cinder, volume.id)
    write_pattern(ceph, name, 0x62)
    write_pattern(ceph, name, 0x63, offset=GiB + FAR % GiB)
    cinder.volumes.revert_to_snapshot(volume, snapshot)
    wait(cinder.volumes.get, volume.id)
    assert holds_pattern(ceph, name, 0x61)
    assert not holds_pattern(ceph, name, 0x63, offset=GiB + FAR % GiB)
    assert ceph.image_info(f"{ceph.pool}/{name}")["size"] == 2 * GiB
    cinder.volume_snapshots.delete(snapshot.id)
    wait_snapshot_gone(cinder, snapshot.id)
    cinder.volumes.delete(volume.id)
    wait_gone(cinder, volume.id)


def test_generic_groups_on_rbd_snapshot_and_copy_every_member(
    rbd_service: Service, ceph: CephCluster
) -> None:
    from group_helpers import (
        create_from_src,
        create_group,
        create_group_snapshot,
        delete_group,
        group_type,
        member,
        member_snapshots,
        members_of,
        volume_type,
        wait_group_snapshot_gone,
    )
    from group_helpers import mv as groups_mv

    with rbd_service.client(microversion="3.71") as api:
        vtype = volume_type(api, "rbd-1")
        group = create_group(api, group_type(api), [vtype])
        vols = [member(api, group, vtype) for _ in range(2)]
        for i, vol in enumerate(vols):
            write_pattern(ceph, image(vol["id"]), 0x81 + i)
        gs = create_group_snapshot(api, group["id"])
        for vol in vols:
            write_pattern(ceph, image(vol["id"]), 0x8F)
        snaps = member_snapshots(api, gs["id"])
        for snap in snaps:
            assert f"snapshot-{snap['id']}" in ceph.snapshots(
                f"{ceph.pool}/{image(snap['volume_id'])}"
            )
        copy = create_from_src(api, group_snapshot_id=gs["id"])
        by_source = {s["id"]: s["volume_id"] for s in snaps}
        for member_copy in members_of(api, copy["id"]):
            index = [v["id"] for v in vols].index(by_source[member_copy["snapshot_id"]])
            assert holds_pattern(ceph, image(member_copy["id"]), 0x81 + index)
        delete_group(api, copy["id"])
        api.delete(f"/group_snapshots/{gs['id']}", headers=groups_mv())
        wait_group_snapshot_gone(api, gs["id"])
        delete_group(api, group["id"])
    assert not {i for i in ceph.images() if any(v["id"] in i for v in vols)}
