"""Backups of RBD volumes on a real one-node Ceph, through the posix store: the backup role
reads the image's snapshot through librbd (only the allocated extents for a full backup,
only what ``diff_iterate`` says changed since the parent backup's snapshot for an
incremental), and a restore writes through librbd into a new or an existing volume, every
block verified."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from backup_helpers import backup_objects, create_backup, restore, wait_backup, wait_backup_gone
from ceph_helpers import holds_pattern, rbd_backend, rbd_user, write_pattern
from harness import Service, VolumeApi, launch
from infra.ceph import CephCluster, S3Server
from keystone_helpers import assert_no_secrets, firebrick_texts

from firebrick.backup import rbd_device

MiB = 1 << 20
ADMIN = "3.71"


@pytest.fixture(scope="module")
def svc(ceph: CephCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    service = launch(tmp_path_factory.mktemp("rbd-backups"),
                     backends={"rbd-1": rbd_backend(ceph)},
                     defaults={"backup_compression_algorithm": "zstd",
                               "quota_volumes": "-1", "quota_backups": "-1"})  # fmt: skip
    yield service
    service.stop()


@pytest.fixture
def api(svc: Service) -> Iterator[VolumeApi]:
    with svc.client(microversion=ADMIN) as client:
        yield client


def image(volume_id: str) -> str:
    return f"volume-{volume_id}"


def stats(service: Service, backup: dict[str, Any]) -> dict[str, Any]:
    manifest = next(p for p in backup_objects(service, backup) if p.name.endswith("_metadata"))
    found: dict[str, Any] = json.loads(manifest.read_text())["manifest"]["stats"]
    return found


def snapshots(ceph: CephCluster, volume_id: str) -> list[str]:
    return ceph.snapshots(f"{ceph.pool}/{image(volume_id)}")


def test_full_and_incremental_backups_of_an_rbd_volume_restore_each_point(
    api: VolumeApi, svc: Service, ceph: CephCluster
) -> None:
    vid = api.create_volume(1)["id"]
    write_pattern(ceph, image(vid), 0x11, 0, 4 * MiB)
    write_pattern(ceph, image(vid), 0x22, 512 * MiB, 8 * MiB)
    full = create_backup(api, vid, name="full")
    assert api.get(f"/volumes/{vid}").json()["volume"]["status"] == "available"
    read = stats(svc, full)
    # Only the allocated objects of the image are read (12 MiB of a 1 GiB volume).
    assert read["method"] == "full" and read["read_bytes"] <= 16 * MiB, read
    assert len(snapshots(ceph, vid)) == 1  # the point the next incremental starts from

    write_pattern(ceph, image(vid), 0x33, 0, 4 * MiB)
    write_pattern(ceph, image(vid), 0x44, 256 * MiB, 4 * MiB)
    incremental = create_backup(api, vid, name="incr", incremental=True)
    assert incremental["is_incremental"] is True
    read = stats(svc, incremental)
    assert read["method"] == "rbd-diff" and read["read_bytes"] <= 8 * MiB, read
    assert read["changed_bytes"] == 8 * MiB, read
    # The full's point gives way to the incremental's once the volume service has released
    # the backup's device, which it does just after the backup is available.
    api.wait_for(lambda: len(snapshots(ceph, vid)) == 1, "one backup point left")

    # The full backup restores into a new volume (zeros where nothing was written).
    new = restore(api, full["id"])["volume_id"]
    assert api.wait_for_volume(new)["status"] == "available"
    assert holds_pattern(ceph, image(new), 0x11, 0, 4 * MiB)
    assert holds_pattern(ceph, image(new), 0x22, 512 * MiB, 8 * MiB)
    assert holds_pattern(ceph, image(new), 0, 256 * MiB, 4 * MiB)

    # The incremental restores onto the volume itself, overwritten meanwhile.
    write_pattern(ceph, image(vid), 0x55, 0, 4 * MiB)
    write_pattern(ceph, image(vid), 0x66, 600 * MiB, 4 * MiB)
    restore(api, incremental["id"], vid)
    assert api.wait_for_volume(vid)["status"] == "available"
    assert holds_pattern(ceph, image(vid), 0x33, 0, 4 * MiB)
    assert holds_pattern(ceph, image(vid), 0x44, 256 * MiB, 4 * MiB)
    assert holds_pattern(ceph, image(vid), 0x22, 512 * MiB, 8 * MiB)
    assert holds_pattern(ceph, image(vid), 0, 600 * MiB, 4 * MiB)  # zeroed by the restore

    # Deleting the backups removes the point snapshot.
    for backup in (incremental, full):
        assert api.delete(f"/backups/{backup['id']}").status_code == 202
        wait_backup_gone(api, backup["id"])
    api.wait_for(lambda: snapshots(ceph, vid) == [], "the backup point removed")


def test_in_use_rbd_volume_is_backed_up_from_a_temporary_snapshot(
    api: VolumeApi, svc: Service, ceph: CephCluster
) -> None:
    vid = api.create_volume(1)["id"]
    write_pattern(ceph, image(vid), 0x5A, 64 * MiB, 4 * MiB)
    assert api.post(f"/volumes/{vid}/action", json={"os-reserve": {}}).status_code == 202
    attach = {"os-attach": {"host_name": "h", "mountpoint": "/dev/vdb"}}
    assert api.post(f"/volumes/{vid}/action", json=attach).status_code == 202
    assert api.wait_for_volume(vid, "in-use")["status"] == "in-use"
    backup = create_backup(api, vid, force=True)
    assert api.get(f"/volumes/{vid}").json()["volume"]["status"] == "in-use"
    write_pattern(ceph, image(vid), 0x5B, 64 * MiB, 4 * MiB)  # written after the backup

    new = restore(api, backup["id"])["volume_id"]
    assert api.wait_for_volume(new)["status"] == "available"
    assert holds_pattern(ceph, image(new), 0x5A, 64 * MiB, 4 * MiB)


def test_a_backup_of_an_rbd_snapshot_holds_the_snapshot_data(
    api: VolumeApi, svc: Service, ceph: CephCluster
) -> None:
    vid = api.create_volume(1)["id"]
    write_pattern(ceph, image(vid), 0x21, 0, 4 * MiB)
    snap = api.post("/snapshots", json={"snapshot": {"volume_id": vid}}).json()["snapshot"]
    api.wait_for(lambda: api.get(f"/snapshots/{snap['id']}").json()["snapshot"]["status"]
                 == "available", "the snapshot")  # fmt: skip
    write_pattern(ceph, image(vid), 0x22, 0, 4 * MiB)
    backup = create_backup(api, vid, snapshot_id=snap["id"])
    assert backup["snapshot_id"] == snap["id"]
    new = restore(api, backup["id"])["volume_id"]
    assert api.wait_for_volume(new)["status"] == "available"
    assert holds_pattern(ceph, image(new), 0x21, 0, 4 * MiB)


def test_a_flipped_byte_in_an_rbd_backup_leaves_the_volume_error_restoring(
    api: VolumeApi, svc: Service, ceph: CephCluster
) -> None:
    vid = api.create_volume(1)["id"]
    write_pattern(ceph, image(vid), 0x7E, 0, 4 * MiB)
    backup = create_backup(api, vid)
    data = [p for p in backup_objects(svc, backup) if p.name.endswith("-00001")]
    assert data, backup_objects(svc, backup)
    with open(data[0], "r+b") as handle:
        handle.seek(data[0].stat().st_size // 2)
        byte = handle.read(1)
        handle.seek(-1, 1)
        handle.write(bytes([byte[0] ^ 0x01]))
    target = api.create_volume(1)["id"]
    restore(api, backup["id"], target)
    assert api.wait_for_volume(target, "error_restoring")["status"] == "error_restoring"
    assert wait_backup(api, backup["id"])["status"] == "available"
    messages = api.get("/messages", headers=api.mv("3.3")).json()["messages"]
    texts = [m["user_message"] for m in messages if m["resource_uuid"] == backup["id"]]
    assert any("corrupt" in t for t in texts), texts


def cephx_key(keyring: Path) -> str:
    for line in keyring.read_text().splitlines():
        if line.strip().startswith("key"):
            return line.split("=", 1)[1].strip()
    raise AssertionError(f"no key in {keyring}")


def test_rbd_volume_round_trip_on_s3_keeps_the_key_out_of_the_logs(
    start_service: Any, ceph: CephCluster, s3_server: S3Server
) -> None:
    svc = start_service(backends={"rbd-1": rbd_backend(ceph)}, defaults={
        "backup_driver": "cinder.backup.drivers.s3.S3BackupDriver",
        "backup_s3_endpoint_url": s3_server.endpoint_url,
        "backup_s3_store_access_key": s3_server.access_key,
        "backup_s3_store_secret_key": s3_server.secret_key,
        "backup_s3_store_bucket": "rbd-backups",
        "backup_compression_algorithm": "zlib",
    })  # fmt: skip
    with svc.client(microversion=ADMIN) as api:
        vid = api.create_volume(1)["id"]
        write_pattern(ceph, image(vid), 0x0C, 8 * MiB, 8 * MiB)
        full = create_backup(api, vid)
        write_pattern(ceph, image(vid), 0x0D, 12 * MiB, 4 * MiB)
        incremental = create_backup(api, vid, incremental=True)
        assert full["container"] == incremental["container"] == "rbd-backups"
        new = restore(api, incremental["id"])["volume_id"]
        assert api.wait_for_volume(new)["status"] == "available"
        assert holds_pattern(ceph, image(new), 0x0C, 8 * MiB, 4 * MiB)
        assert holds_pattern(ceph, image(new), 0x0D, 12 * MiB, 4 * MiB)
    assert_no_secrets(firebrick_texts(svc), {cephx_key(rbd_user(ceph))})


def test_the_backup_role_reaches_the_cluster_without_this_hosts_configuration(
    ceph: CephCluster, tmp_path: Path
) -> None:
    """A backup service on another host has neither ceph.conf nor the keyring file: the
    monitors and the key in the device record suffice, and the key's file is removed."""
    keyring = rbd_user(ceph)
    name = f"volume-{uuid.uuid4()}"
    ceph.run("rbd", "create", "--size", "64M", f"{ceph.pool}/{name}")
    write_pattern(ceph, name, 0x3C, 4 * MiB, 4 * MiB)
    ceph.run("rbd", "snap", "create", f"{ceph.pool}/{name}@backup.one")
    spec = {"pool": ceph.pool, "image": name, "snapshot": "backup.one", "user": "cinder",
            "cluster_name": "ceph", "ceph_conf": "/nonexistent/ceph.conf",
            "mon_host": ceph.mon_host, "keyring_conf": "/nonexistent/keyring",
            "keyring": keyring.read_text()}  # fmt: skip
    work = tmp_path / "work"
    try:
        with rbd_device.open_source({"size": 64 * MiB, "rbd": spec}, work) as source:
            assert source.data_ranges() == [(4 * MiB, 4 * MiB)]
            assert source.read(4 * MiB, MiB) == bytes([0x3C]) * MiB
            assert source.read(60 * MiB, 4 * MiB) == bytes(4 * MiB)
            assert list(work.iterdir()) == []  # the key's file is gone once connected
        with rbd_device.open_target({"size": 64 * MiB, "rbd": spec}, work) as target:
            target.write(0, bytes([0x3D]) * MiB)
            target.zero(4 * MiB, 4 * MiB)
        assert holds_pattern(ceph, name, 0x3D, 0, MiB)
        assert holds_pattern(ceph, name, 0, 4 * MiB, 4 * MiB)
        bad = {
            **spec,
            "keyring": "[client.cinder]\n\tkey = AQBxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx==\n",
        }
        refused = pytest.raises(RuntimeError, match="could not connect")
        with refused, rbd_device.open_source({"size": 64 * MiB, "rbd": bad}, work):
            pass
        assert list(work.iterdir()) == []
    finally:
        ceph.run("rbd", "snap", "purge", f"{ceph.pool}/{name}")
        ceph.run("rbd", "rm", f"{ceph.pool}/{name}")


# backup_driver = ceph ---------------------------------------------------------------------

BACKUP_POOL = "backups"


@pytest.fixture(scope="module")
def ceph_svc(ceph: CephCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    if BACKUP_POOL not in ceph.run("ceph", "osd", "pool", "ls").split():
        ceph.create_pool(BACKUP_POOL)
    rbd_user(ceph)
    backends = {"rbd-1": rbd_backend(ceph), "file-1": {}}
    service = launch(tmp_path_factory.mktemp("ceph-backups"), backends=backends,
                     defaults={"backup_driver": "cinder.backup.drivers.ceph.CephBackupDriver",
                               "backup_ceph_conf": str(ceph.conf),
                               "backup_ceph_user": "cinder",
                               "backup_ceph_pool": BACKUP_POOL,
                               "backup_ceph_chunk_size": str(4 * MiB),
                               "quota_volumes": "-1", "quota_backups": "-1"})  # fmt: skip
    with service.client(microversion=ADMIN) as api:
        for name in backends:
            body = {"volume_type": {"name": name,
                                    "extra_specs": {"volume_backend_name": name}}}  # fmt: skip
            assert api.post("/types", json=body).status_code == 200
    yield service
    service.stop()


def backup_image_diff(ceph: CephCluster, spec: str, since: str) -> int:
    """Bytes of ``spec`` (pool/image@snap) that differ from its snapshot ``since``."""
    extents = json.loads(ceph.run("rbd", "diff", "--format", "json", "--from-snap", since, spec))
    return sum(int(e["length"]) for e in extents)


def test_ceph_driver_backs_up_an_rbd_volume_rbd_to_rbd_incrementally(
    ceph_svc: Service, ceph: CephCluster
) -> None:
    with ceph_svc.client(microversion=ADMIN) as api:
        vid = api.create_volume(1, volume_type="rbd-1")["id"]
        write_pattern(ceph, image(vid), 0x11, 0, 4 * MiB)
        write_pattern(ceph, image(vid), 0x22, 512 * MiB, 8 * MiB)
        full = create_backup(api, vid)
        assert full["container"] == BACKUP_POOL and full["object_count"] == 0
        chain = f"volume-{vid}.backup.{full['id']}"
        assert chain in ceph.images(BACKUP_POOL)
        assert ceph.snapshots(f"{BACKUP_POOL}/{chain}") == [f"backup.{full['id']}"]

        write_pattern(ceph, image(vid), 0x33, 0, 4 * MiB)
        write_pattern(ceph, image(vid), 0x44, 256 * MiB, 4 * MiB)
        incremental = create_backup(api, vid, incremental=True)
        assert incremental["is_incremental"] is True
        snaps = [f"backup.{full['id']}", f"backup.{incremental['id']}"]
        assert ceph.snapshots(f"{BACKUP_POOL}/{chain}") == snaps
        # Only the changed objects were written onto the chain's image (export-diff's work).
        assert backup_image_diff(ceph, f"{BACKUP_POOL}/{chain}@{snaps[1]}", snaps[0]) == 8 * MiB
        # … and only those were read from the volume (diff_iterate from the parent's point).
        logs = "\n".join(firebrick_texts(ceph_svc).values())
        assert f"Backup {incremental['id']}: rbd-diff into" in logs
        assert f"read {8 * MiB} bytes, wrote {8 * MiB}" in logs

        # A new RBD volume from the full backup (POST /volumes with backup_id, 3.47).
        new = api.create_volume(1, volume_type="rbd-1", backup_id=full["id"])["id"]
        assert holds_pattern(ceph, image(new), 0x11, 0, 4 * MiB)
        assert holds_pattern(ceph, image(new), 0x22, 512 * MiB, 8 * MiB)
        assert holds_pattern(ceph, image(new), 0, 256 * MiB, 4 * MiB)

        write_pattern(ceph, image(vid), 0x55, 0, 4 * MiB)
        write_pattern(ceph, image(vid), 0x66, 600 * MiB, 4 * MiB)
        restore(api, incremental["id"], vid)
        assert api.wait_for_volume(vid)["status"] == "available"
        assert holds_pattern(ceph, image(vid), 0x33, 0, 4 * MiB)
        assert holds_pattern(ceph, image(vid), 0x44, 256 * MiB, 4 * MiB)
        assert holds_pattern(ceph, image(vid), 0x22, 512 * MiB, 8 * MiB)
        assert holds_pattern(ceph, image(vid), 0, 600 * MiB, 4 * MiB)

        refused = api.delete(f"/backups/{full['id']}")
        assert refused.status_code == 400, refused.text
        for backup in (incremental, full):
            assert api.delete(f"/backups/{backup['id']}").status_code == 202
            wait_backup_gone(api, backup["id"])
        assert chain not in ceph.images(BACKUP_POOL)
        api.wait_for(lambda: snapshots(ceph, vid) == [], "the backup point removed")


def test_ceph_driver_backs_up_a_file_volume_and_restores_it(
    ceph_svc: Service, ceph: CephCluster
) -> None:
    with ceph_svc.client(microversion=ADMIN) as api:
        vid = api.create_volume(1, volume_type="file-1")["id"]
        path = ceph_svc.find_volume_file(vid)
        assert path is not None
        with open(path, "r+b") as handle:
            handle.seek(8 * MiB)
            handle.write(b"\xab" * (2 * MiB))
        full = create_backup(api, vid)
        with open(path, "r+b") as handle:
            handle.seek(100 * MiB)
            handle.write(b"\xcd" * MiB)
        incremental = create_backup(api, vid, incremental=True)
        chain = f"volume-{vid}.backup.{full['id']}"
        snaps = [f"backup.{full['id']}", f"backup.{incremental['id']}"]
        assert ceph.snapshots(f"{BACKUP_POOL}/{chain}") == snaps
        # Compared piece by piece: only the changed object was written.
        assert backup_image_diff(ceph, f"{BACKUP_POOL}/{chain}@{snaps[1]}", snaps[0]) <= 4 * MiB

        new = api.create_volume(1, volume_type="file-1", backup_id=incremental["id"])["id"]
        restored = ceph_svc.find_volume_file(new)
        assert restored is not None
        assert restored.read_bytes()[: 200 * MiB] == path.read_bytes()[: 200 * MiB]
        with open(restored, "rb") as handle:
            handle.seek(100 * MiB)
            assert handle.read(MiB) == b"\xcd" * MiB


def test_ceph_driver_refuses_a_backup_whose_snapshot_is_gone(
    ceph_svc: Service, ceph: CephCluster
) -> None:
    with ceph_svc.client(microversion=ADMIN) as api:
        vid = api.create_volume(1, volume_type="rbd-1")["id"]
        write_pattern(ceph, image(vid), 0x77, 0, 4 * MiB)
        backup = create_backup(api, vid)
        chain = f"{BACKUP_POOL}/volume-{vid}.backup.{backup['id']}"
        ceph.run("rbd", "snap", "rm", f"{chain}@backup.{backup['id']}")
        write_pattern(ceph, image(vid), 0x78, 0, 4 * MiB)
        restore(api, backup["id"], vid)
        assert api.wait_for_volume(vid, "error_restoring")["status"] == "error_restoring"
        assert holds_pattern(ceph, image(vid), 0x78, 0, 4 * MiB)  # nothing written
        assert wait_backup(api, backup["id"])["status"] == "available"
        messages = api.get("/messages", headers=api.mv("3.3")).json()["messages"]
        texts = [m["user_message"] for m in messages if m["resource_uuid"] == backup["id"]]
        assert any("missing" in t for t in texts), texts
        # Deleting it removes the chain's image even without its snapshot.
        assert api.delete(f"/backups/{backup['id']}").status_code == 202
        wait_backup_gone(api, backup["id"])
        assert f"volume-{vid}.backup.{backup['id']}" not in ceph.images(BACKUP_POOL)
