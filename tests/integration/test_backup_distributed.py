"""Scaled out: ``firebrick backup`` as a process of its own on another host (RabbitMQ,
PostgreSQL). The volume's file is not there, so the backup reads it through the volume
service's read-only export (iSCSI with CHAP for one backend, NBD with TLS-PSK for the
other) and a restore writes through a read-write export; the data comes back exactly,
the exports are gone afterwards, and the service heartbeats as cinder-backup."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.register_assert_rewrite("distributed", "attach_helpers")

from attach_helpers import require_tools, stop_targets, target_backend  # noqa: E402
from distributed import Cluster, StartCluster, wait_for  # noqa: E402

pytest_plugins = ["distributed"]
pytestmark = pytest.mark.integration

MiB = 1 << 20
MV = "3.71"


def _write(path: Path, seed: int) -> str:
    rng = random.Random(seed)
    with path.open("r+b") as handle:
        for offset in (0, 300 * MiB, 1023 * MiB):
            handle.seek(offset)
            handle.write(rng.randbytes(MiB))
    return _digest(path)


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        while piece := handle.read(8 * MiB):
            sha.update(piece)
    return sha.hexdigest()


def _backup(api, volume_id: str, status: str = "available") -> dict:
    resp = api.post("/backups", json={"backup": {"volume_id": volume_id}})
    assert resp.status_code == 202, resp.text
    backup_id = resp.json()["backup"]["id"]
    return wait_for(lambda: (b := api.get(f"/backups/{backup_id}").json()["backup"])
                    ["status"] == status and b, f"backup {backup_id} {status}", 120)  # fmt: skip


def _exports(cluster: Cluster, backend: str) -> dict:
    state = cluster.state_path / "targets" / backend
    found: dict = {}
    for name in ("tgt-exports.json", "nbd-exports.json"):
        if (state / name).exists():
            found |= json.loads((state / name).read_text())
    return {k: v for k, v in found.items() if v.get("attachments")}


def test_backup_service_on_another_host_reads_through_exports(
    cluster_factory: StartCluster,
) -> None:
    require_tools()
    backends = {
        "file-1": {"file_capacity_gb": "100", **target_backend("iscsi")},
        "file-2": {"file_capacity_gb": "100", **target_backend("nbd", nbd_tls="true")},
    }
    cluster = cluster_factory(backends=backends,
                              defaults={"backup_compression_algorithm": "zstd"})  # fmt: skip
    try:
        cluster.start("backup-vault")
        cluster.wait_for_pools("file-1", "file-2")
        with cluster.client(microversion=MV) as api:
            wait_for(lambda: api.service_state("cinder-backup", "vault") == "up",
                     "cinder-backup up on vault")  # fmt: skip
            for backend in ("file-1", "file-2"):
                made = api.post(
                    "/types",
                    json={
                        "volume_type": {
                            "name": f"on-{backend}",
                            "extra_specs": {"volume_backend_name": backend},
                        }
                    },
                )
                assert made.status_code == 200, made.text
                volume_id = api.create(volume_type=f"on-{backend}")
                api.wait_for_volume(volume_id)
                path = cluster.volume_dir(backend) / f"volume-{volume_id}"
                expected = _write(path, seed=len(backend))
                backup = _backup(api, volume_id)
                assert api.volume(volume_id)["status"] == "available"
                _write(path, seed=99)
                resp = api.post(f"/backups/{backup['id']}/restore",
                                json={"restore": {"volume_id": volume_id}})  # fmt: skip
                assert resp.status_code == 202, resp.text
                api.wait_for_volume(volume_id, timeout=120)
                assert _digest(path) == expected, backend
                wait_for(lambda b=backend: not _exports(cluster, b), f"exports of {backend} gone")
            log = cluster.role("backup-vault").log()
            assert "Traceback" not in log
            assert log.count("exported the backup device") == 0  # the volume services' lines
            volume_logs = cluster.role("volume-file-1").log() + cluster.role("volume-file-2").log()
            assert volume_logs.count("exported the backup device over") == 2
            assert volume_logs.count("exported the restore device over") == 2
    finally:
        stop_targets(
            SimpleNamespace(  # type: ignore[arg-type]
                state_path=cluster.state_path,
                backends={n: SimpleNamespace(options=o) for n, o in backends.items()},
            )
        )
