"""The file driver's part of migration and revert, on a local directory: copying a
volume's data from a file or an export (the ``qemu-img`` arguments, secrets in files
only), stopping a copy, and reverting raw and qcow2 volumes to a snapshot."""

from __future__ import annotations

import os
import shutil
import stat
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from firebrick.config import BackendConfig
from firebrick.domain.errors import DriverError
from firebrick.domain.model import Snapshot, Volume
from firebrick.volume.drivers import filecopy, sources
from firebrick.volume.drivers.file import FileDriver, GiB
from firebrick.volume.drivers.sources import LocalFile, RemoteExport

MiB = 1 << 20


def driver(directory: Path, **options: str) -> FileDriver:
    config = BackendConfig(
        name="b1", volume_driver="file", volume_backend_name="b1", availability_zone="nova",
        reserved_percentage=0, max_over_subscription_ratio="20.0",
        options={"file_volume_dir": str(directory), **options},
    )  # fmt: skip
    made = FileDriver(config, directory)
    made.do_setup()
    return made


def volume(size: int = 1, **fields: object) -> Volume:
    return Volume(
        id=str(uuid.uuid4()),
        project_id="p",
        user_id="u",
        size=size,
        status="creating",
        created_at=datetime.now(UTC),
        **fields,
    )  # type: ignore[arg-type]


def snapshot(of: Volume) -> Snapshot:
    return Snapshot(
        id=str(uuid.uuid4()),
        volume_id=of.id,
        project_id="p",
        user_id="u",
        volume_size=of.size,
        status="creating",
        created_at=datetime.now(UTC),
    )


def write(path: Path, byte: int, offset: int = 0) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, bytes([byte]) * MiB, offset)
    finally:
        os.close(fd)


def read(path: Path, offset: int = 0) -> bytes:
    with path.open("rb") as handle:
        handle.seek(offset)
        return handle.read(MiB)


def test_a_copy_from_a_local_file_keeps_data_and_holes(tmp_path: Path) -> None:
    src_driver, dst_driver = driver(tmp_path / "a"), driver(tmp_path / "b")
    source = volume()
    src_driver.create_volume(source)
    write(src_driver.path(source.id), 0x42, 200 * MiB)
    target = volume()
    dst_driver.create_volume(target)
    path, fmt = src_driver.local_path(source)
    dst_driver.copy_volume_data(target, LocalFile(path, fmt), lambda: False)
    copied = dst_driver.path(target.id)
    assert copied.stat().st_size == GiB
    assert read(copied, 200 * MiB) == bytes([0x42]) * MiB
    assert read(copied) == bytes(MiB)
    assert copied.stat().st_blocks * 512 <= 4 * MiB
    assert not [p for p in (tmp_path / "b").iterdir() if p.name.startswith(".tmp-")]


def test_a_migrated_volume_is_found_by_its_name_id(tmp_path: Path) -> None:
    d = driver(tmp_path)
    storage = volume()
    d.create_volume(storage)
    moved = volume(name_id=storage.id)
    assert d.local_path(moved)[0] == d.path(storage.id)
    d.extend_volume(moved, 2)
    assert d.path(storage.id).stat().st_size == 2 * GiB
    d.delete_volume(moved)
    assert d.volume_ids() == set()


def test_a_stopped_copy_leaves_the_target_as_it_was(tmp_path: Path) -> None:
    src_driver, dst_driver = driver(tmp_path / "a"), driver(tmp_path / "b")
    source, target = volume(), volume()
    src_driver.create_volume(source)
    write(src_driver.path(source.id), 0x17)
    dst_driver.create_volume(target)
    path, fmt = src_driver.local_path(source)
    with pytest.raises(DriverError, match="aborted"):
        dst_driver.copy_volume_data(target, LocalFile(path, fmt), lambda: True)
    assert read(dst_driver.path(target.id)) == bytes(MiB)
    assert [p.name for p in (tmp_path / "b").iterdir() if p.name.startswith(".tmp-")] == []


def test_sparse_copy_asks_before_each_chunk(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.write_bytes(b"x" * MiB)
    asked: list[int] = []

    def cancelled() -> bool:
        asked.append(1)
        return False

    filecopy.sparse_copy(src, tmp_path / "dst", cancelled)
    assert asked and (tmp_path / "dst").read_bytes() == b"x" * MiB
    with pytest.raises(filecopy.CopyCancelled):
        filecopy.sparse_copy(src, tmp_path / "dst2", lambda: True)


def test_remote_sources_give_qemu_img_their_secrets_in_files_only() -> None:
    iscsi = RemoteExport("iscsi", {
        "target_portal": "10.0.0.1:3260", "target_iqn": "iqn.2010-10.org.openstack:volume-x",
        "target_lun": 1, "auth_username": "user1", "auth_password": "s3cret-chap-pw",
    }, initiator="iqn.2010-10.org.openstack:firebrick-migration-t")  # fmt: skip
    assert "s3cret" not in repr(iscsi)
    with sources.qemu_img_input(iscsi) as args:
        assert "s3cret-chap-pw" not in " ".join(args)
        secret = args[1].split("file=", 1)[1]
        assert Path(secret).read_text() == "s3cret-chap-pw"
        assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600
        assert "initiator-name=iqn.2010-10.org.openstack:firebrick-migration-t" in args[3]
        assert "portal=10.0.0.1:3260" in args[3] and "user=user1" in args[3]
    assert not Path(secret).exists()

    nbd = RemoteExport("nbd", {"host": "10.0.0.2", "port": 10809, "export_name": "volume-x",
                               "tls_psk_identity": "fb-1", "tls_psk_key": "ab" * 32},
                       initiator="unused")  # fmt: skip
    with sources.qemu_img_input(nbd) as args:
        joined = " ".join(args)
        assert "ab" * 32 not in joined
        assert "tls-creds=tls0" in joined and "export=volume-x" in joined
        psk_dir = Path(joined.split("dir=", 1)[1].split(",", 1)[0])
        assert (psk_dir / "keys.psk").read_text() == f"fb-1:{'ab' * 32}\n"
    assert not psk_dir.exists()
    plain = RemoteExport("nbd", {"host": "h", "port": 1, "export_name": "e"}, "unused")
    with sources.qemu_img_input(plain) as args:
        assert "--object" not in args
    with pytest.raises(DriverError), sources.qemu_img_input(RemoteExport("rbd", {}, "x")):
        pass
    rbd = RemoteExport("rbd", {"name": "volumes/volume-x", "hosts": ["10.0.0.3", "10.0.0.4"],
                               "ports": ["6789", "6789"], "auth_username": "cinder",
                               "keyring": "[client.cinder]\n\tkey = AQ-s3cret==\n"},
                       initiator="unused")  # fmt: skip
    with sources.qemu_img_input(rbd) as args:
        assert args[:2] == ["-f", "raw"]
        assert "AQ-s3cret" not in " ".join(args)
        assert args[2].startswith("rbd:volumes/volume-x:id=cinder:")
        assert "mon_host=10.0.0.3\\:6789;10.0.0.4\\:6789" in args[2]
        keyring = Path(args[2].split("keyring=", 1)[1])
        assert "AQ-s3cret" in keyring.read_text()
    assert not keyring.exists()


def test_raw_revert_restores_the_snapshot(tmp_path: Path) -> None:
    d = driver(tmp_path)
    vol = volume()
    d.create_volume(vol)
    write(d.path(vol.id), 0x01)
    snap = snapshot(vol)
    d.create_snapshot(snap, vol)
    write(d.path(vol.id), 0x02)
    write(d.path(vol.id), 0x03, 500 * MiB)
    d.revert_to_snapshot(vol, snap)
    assert read(d.path(vol.id)) == bytes([0x01]) * MiB
    assert read(d.path(vol.id), 500 * MiB) == bytes(MiB)
    d.revert_to_snapshot(vol, snap)  # safe to repeat
    assert read(d.snapshot_path(snap.id)) == bytes([0x01]) * MiB
    d.delete_snapshot(snap)
    with pytest.raises(DriverError, match="does not exist"):
        d.revert_to_snapshot(vol, snap)


@pytest.mark.skipif(shutil.which("qemu-img") is None, reason="needs qemu-img")
def test_qcow2_revert_starts_a_new_overlay_on_the_snapshot(tmp_path: Path) -> None:
    d = driver(tmp_path, file_volume_format="qcow2", file_clone_method="qcow2")
    vol = volume()
    d.create_volume(vol)
    snap = snapshot(vol)
    d.create_snapshot(snap, vol)
    clone = volume()
    d.create_cloned_volume(clone, vol)  # the volume now sits on a clone base
    d.revert_to_snapshot(vol, snap)
    from firebrick.volume.drivers import qemu_img

    assert qemu_img.read_header(d.path(vol.id)).backing_file == f"snapshot-{snap.id}"
    clone_backing = qemu_img.read_header(d.path(clone.id)).backing_file
    assert clone_backing is not None and (tmp_path / clone_backing).exists()
    d.delete_volume(clone)
    d.delete_snapshot(snap)
    d.delete_volume(vol)
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == []
