"""Attaching RBD volumes: Cinder's ``rbd`` connection_info for hosts with librbd, and
iSCSI (tgt's rbd backing store, Debian's tgt-rbd) or NBD (qemu-nbd on ``rbd:pool/image``)
for hosts without it. Data goes through each path for real: what a host writes over the
export is in the image; pattern → snapshot → overwrite → a volume from the snapshot holds
the old pattern.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from attach_helpers import (
    Iscsi,
    Nbd,
    api_client,
    attach,
    check,
    close_clients,
    connector,
    detach,
    pattern,
    require_tools,
    stop_targets,
    target_backend,
)
from ceph_helpers import RBD_USER, holds_pattern, qemu_io, rbd_backend, write_pattern
from harness import Service, VolumeApi, launch
from infra.ceph import CephCluster

MiB = 1 << 20
GiB = 1 << 30


@pytest.fixture
def rbd_service(ceph: CephCluster, tmp_path: Path) -> Iterator[Any]:
    """Factory: ``rbd_service(protocol)`` → a private service whose RBD backend ``rbd-1``
    exports through ``protocol`` (``rbd``: no export, librbd clients)."""
    started: list[Service] = []

    def start(protocol: str = "rbd") -> Service:
        options = rbd_backend(ceph)
        if protocol != "rbd":
            require_tools()
            if protocol == "iscsi" and shutil.which("tgtadm") and not _tgt_has_rbd():
                pytest.fail("tgtd has no rbd backing store (apt-get install tgt-rbd)")
            options |= target_backend(protocol)
        svc = launch(tmp_path / f"svc{len(started)}", backends={"rbd-1": options})
        started.append(svc)
        return svc

    yield start
    close_clients()
    for svc in started:
        svc.stop()
        stop_targets(svc)


def _tgt_has_rbd() -> bool:
    return Path("/usr/lib/tgt/backing-store/bs_rbd.so").exists()


def image(volume_id: str) -> str:
    return f"volume-{volume_id}"


def test_rbd_connection_info_is_cinders_and_lets_a_librbd_client_in(
    ceph: CephCluster, rbd_service: Any, tmp_path: Path
) -> None:
    svc = rbd_service("rbd")
    api: VolumeApi = api_client(svc)
    volume = api.create_volume(1)
    attachment = attach(api, volume["id"])
    data = attachment["connection_info"]  # flattened, as Cinder's attachments API does
    assert data["driver_volume_type"] == "rbd"
    assert data["name"] == f"{ceph.pool}/{image(volume['id'])}"
    assert data["hosts"] == ["127.0.0.1"] and data["ports"] == [str(ceph.mon_v1)]
    assert data["cluster_name"] == "ceph"
    assert data["auth_enabled"] is True and data["auth_username"] == RBD_USER
    assert data["secret_type"] == "ceph"
    assert data["secret_uuid"] == ceph.fsid  # Cinder's default: the cluster's FSID
    assert data["volume_id"] == volume["id"]
    assert data["discard"] is True
    assert data["access_mode"] == "rw"

    # What a hypervisor does with it: librbd (QEMU's rbd driver) with the monitors, the
    # user and its key, and no ceph.conf at all.
    keyring = tmp_path / "hypervisor.keyring"
    keyring.write_text(data["keyring"])
    spec = (f"rbd:{data['name']}:id={data['auth_username']}:keyring={keyring}:"
            f"mon_host={data['hosts'][0]}\\:{data['ports'][0]}")  # fmt: skip
    done = subprocess.run(["qemu-io", "-f", "raw", "-c", "write -P 0x5a 0 1M", spec],
                          capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin"})  # fmt: skip
    assert done.returncode == 0 and "wrote" in done.stdout, done.stdout + done.stderr
    assert holds_pattern(ceph, image(volume["id"]), 0x5A, length=MiB)

    # Extend while attached (3.42): the image grows; librbd clients see the new size.
    resp = api.post(f"/volumes/{volume['id']}/action", json={"os-extend": {"new_size": 2}},
                    headers=api.mv("3.42"))  # fmt: skip
    assert resp.status_code == 202, resp.text
    api.wait_for_volume(volume["id"], "in-use")
    assert ceph.image_info(f"{ceph.pool}/{image(volume['id'])}")["size"] == 2 * GiB
    assert detach(api, attachment["id"]) == []
    api.wait_for_volume(volume["id"], "available")


@pytest.mark.parametrize("protocol", ["iscsi", "nbd"])
def test_export_carries_a_hosts_writes_into_the_image_and_snapshots_keep_them(
    ceph: CephCluster, rbd_service: Any, tmp_path: Path, protocol: str
) -> None:
    svc = rbd_service(protocol)
    api: VolumeApi = api_client(svc)
    volume = api.create_volume(1)
    name = image(volume["id"])
    attachment = attach(api, volume["id"], connector())
    info = attachment["connection_info"]
    assert info["driver_volume_type"] == protocol
    host = Iscsi(tmp_path, info) if protocol == "iscsi" else Nbd(tmp_path, info)
    old = pattern(1)
    host.write(old)
    assert host.read(len(old)) == old
    # What the host wrote is in the RBD image itself.
    local = tmp_path / "image.raw"
    qemu_io(ceph, name, "flush")
    subprocess.run(["qemu-img", "convert", "-f", "raw", f"rbd:{ceph.pool}/{name}:conf={ceph.conf}",
                    "-O", "raw", str(local)], check=True, env=ceph.env, timeout=120)  # fmt: skip
    with local.open("rb") as fh:
        assert fh.read(len(old)) == old

    # pattern → snapshot → overwrite (through the export) → a volume from the snapshot
    # holds the old pattern; the volume the new one.
    body = {"snapshot": {"volume_id": volume["id"], "force": True}}
    snap = check(api.post("/snapshots", json=body), 202)["snapshot"]
    api.wait_for(lambda: api.get(f"/snapshots/{snap['id']}").json()["snapshot"]["status"]
                 == "available", "snapshot")  # fmt: skip
    new = pattern(2)
    host.write(new)
    clone = api.create_volume(1, snapshot_id=snap["id"])
    assert ceph.image_info(f"{ceph.pool}/{image(clone['id'])}")["parent"]["image"] == name  # type: ignore[index]
    out = tmp_path / "clone.raw"
    subprocess.run(["qemu-img", "convert", "-f", "raw",
                    f"rbd:{ceph.pool}/{image(clone['id'])}:conf={ceph.conf}", "-O", "raw",
                    str(out)], check=True, env=ceph.env, timeout=120)  # fmt: skip
    with out.open("rb") as fh:
        assert fh.read(len(old)) == old
    assert host.read(len(new)) == new
    assert detach(api, attachment["id"]) == []
    api.wait_for_volume(volume["id"], "available")
    # A write of the image's own, through librbd, after the export is gone.
    write_pattern(ceph, name, 0x3C, length=MiB)
    assert holds_pattern(ceph, name, 0x3C, length=MiB)
