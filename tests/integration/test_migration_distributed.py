"""Scaled out: each backend's volume service in a process of its own (RabbitMQ,
PostgreSQL), so a migration's destination reads the source through the source backend's
read-only export, as a host would: over iSCSI (tgt, CHAP) one way, over NBD with TLS-PSK
the other way. The data is read back from the destination's file, the source's file and
export are gone, and the secret of the export appears in no log.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

pytest.register_assert_rewrite("distributed", "attach_helpers", "lifecycle_helpers")

from attach_helpers import require_tools, stop_targets, target_backend  # noqa: E402
from distributed import Client, Cluster, StartCluster, wait_for  # noqa: E402
from lifecycle_helpers import qcow2_holds, qcow2_write, raw_holds  # noqa: E402

pytest_plugins = ["distributed"]
pytestmark = pytest.mark.integration

MiB = 1 << 20
GiB = 1 << 30
MV = "3.71"


def write(path: Path, seed: int) -> dict[int, bytes]:
    rng = random.Random(seed)
    written = {offset: rng.randbytes(MiB) for offset in (0, 512 * MiB)}
    with path.open("r+b") as handle:
        for offset, data in written.items():
            handle.seek(offset)
            handle.write(data)
    return written


def holds(path: Path, written: dict[int, bytes]) -> bool:
    with path.open("rb") as handle:
        for offset, data in written.items():
            handle.seek(offset)
            if handle.read(len(data)) != data:
                return False
    return path.stat().st_size == GiB


def migrate_and_wait(api: Client, volume_id: str, host: str) -> dict[str, Any]:
    resp = api.post(f"/volumes/{volume_id}/action", json={"os-migrate_volume": {"host": host}})
    assert resp.status_code == 202, resp.text

    def ended() -> dict[str, Any] | None:
        vol = api.volume(volume_id)
        return vol if vol and vol["migration_status"] in ("success", "error") else None

    vol: dict[str, Any] = wait_for(ended, f"migration of {volume_id}", 90)
    assert vol["migration_status"] == "success", vol
    wait_for(lambda: all(v["consumes_quota"] for v in api.volumes()), "the copy's row gone", 60)
    return vol


def exports(cluster: Cluster, backend: str) -> dict[str, Any]:
    state = cluster.state_path / "targets" / backend
    found: dict[str, Any] = {}
    for name in ("tgt-exports.json", "nbd-exports.json"):
        if (state / name).exists():
            found |= json.loads((state / name).read_text())
    return {k: v for k, v in found.items() if v.get("attachments")}


def test_migration_between_processes_reads_through_the_source_export(
    cluster_factory: StartCluster,
) -> None:
    require_tools()
    backends = {
        "file-1": {"file_capacity_gb": "100", **target_backend("iscsi")},
        "file-2": {"file_capacity_gb": "100", **target_backend("nbd", nbd_tls="true")},
    }
    cluster = cluster_factory(backends=backends)
    shim = SimpleNamespace(
        state_path=cluster.state_path,
        backends={n: SimpleNamespace(options=o) for n, o in backends.items()},
    )
    try:
        cluster.wait_for_pools("file-1", "file-2")
        with cluster.client(microversion=MV) as api:
            pinned = api.post(
                "/types",
                json={
                    "volume_type": {
                        "name": "on-file-1",
                        "extra_specs": {"volume_backend_name": "file-1"},
                    }
                },
            )
            assert pinned.status_code == 200, pinned.text
            volume_id = api.create(volume_type="on-file-1")
            vol = api.wait_for_volume(volume_id)
            assert api.delete(f"/types/{pinned.json()['volume_type']['id']}/extra_specs/"
                              "volume_backend_name").status_code in (200, 202)  # fmt: skip
            written = write(cluster.volume_dir("file-1") / f"volume-{volume_id}", seed=21)

            # iSCSI: file-2's service reads file-1's volume through file-1's tgt.
            there = migrate_and_wait(api, volume_id, f"{cluster.service_host('file-2')}#file-2")
            name_id = there["os-vol-mig-status-attr:name_id"]
            assert holds(cluster.volume_dir("file-2") / f"volume-{name_id}", written)
            assert cluster.volume_files("file-1") == []
            assert exports(cluster, "file-1") == {}
            assert "through its export" in cluster.role("volume-file-2").log()

            # NBD with TLS-PSK: and back again through file-2's qemu-nbd.
            back = migrate_and_wait(api, volume_id, f"{cluster.service_host('file-1')}#file-1")
            assert back["id"] == vol["id"]
            name_id = back["os-vol-mig-status-attr:name_id"]
            assert holds(cluster.volume_dir("file-1") / f"volume-{name_id}", written)
            assert cluster.volume_files("file-2") == []
            wait_for(lambda: exports(cluster, "file-2") == {}, "the NBD export removed", 30)
            assert "through its export" in cluster.role("volume-file-1").log()

            pools = {
                p["name"]: p["capabilities"]["allocated_capacity_gb"]
                for p in api.get("/scheduler-stats/get_pools", params={"detail": "true"}).json()[
                    "pools"
                ]
            }
            assert pools == {f"{cluster.service_host('file-1')}#file-1": 1.0,
                             f"{cluster.service_host('file-2')}#file-2": 0.0}  # fmt: skip
        logs = "".join(cluster.role(f"volume-{b}").log() for b in backends)
        logs += "".join(cluster.role(r).output() for r in ("api", "scheduler"))
        for secret_key in ("auth_password", "tls_psk_key"):
            assert secret_key not in logs
    finally:
        stop_targets(shim)  # type: ignore[arg-type]


def test_an_admin_aborts_a_migration_whose_destination_died(
    cluster_factory: StartCluster,
) -> None:
    cluster = cluster_factory(backends={
        "file-1": {"file_capacity_gb": "100"},
        "file-2": {"file_capacity_gb": "100", "file_create_delay": "60"},
    })  # fmt: skip
    cluster.wait_for_pools("file-1", "file-2")
    with cluster.client(microversion=MV) as api:
        volume_id = api.create()
        vol = api.wait_for_volume(volume_id)
        assert vol["os-vol-host-attr:host"].endswith("#file-1")  # file-2 creates slowly
        written = write(cluster.volume_dir("file-1") / f"volume-{volume_id}", seed=23)
        dest = f"{cluster.service_host('file-2')}#file-2"
        resp = api.post(f"/volumes/{volume_id}/action", json={"os-migrate_volume": {"host": dest}})
        assert resp.status_code == 202, resp.text
        copy_id = wait_for(
            lambda: next((v["id"] for v in api.volumes()
                          if v["migration_status"] == f"target:{volume_id}"), None),
            "the copy", 30,
        )  # fmt: skip
        wait_for(lambda: cluster.volume_files("file-2") == [copy_id], "the copy's file", 30)
        cluster.kill("volume-file-2")
        wait_for(lambda: api.service_state("cinder-volume", cluster.service_host("file-2"))
                 == "down", "file-2 down", 30)  # fmt: skip

        resp = api.post(f"/volumes/{volume_id}/action", json={
            "os-migrate_volume_completion": {"new_volume": copy_id, "error": True}})  # fmt: skip
        assert resp.status_code == 200, resp.text
        assert resp.json() == {"save_volume_id": volume_id}
        after = api.volume(volume_id)
        assert after is not None
        assert (after["status"], after["migration_status"]) == ("available", "error")
        assert after["os-vol-host-attr:host"].endswith("#file-1")
        copy = api.volume(copy_id)
        assert copy is not None and copy["status"] == "deleting"

        # The copy's storage goes once its service is back; nothing else moved.
        cluster.start("volume-file-2")
        wait_for(lambda: api.volume(copy_id) is None, "the copy deleted", 60)
        assert cluster.volume_files("file-2") == []
        assert holds(cluster.volume_dir("file-1") / f"volume-{volume_id}", written)
        pools = {
            p["name"]: p["capabilities"]["allocated_capacity_gb"]
            for p in api.get("/scheduler-stats/get_pools", params={"detail": "true"}).json()[
                "pools"
            ]
        }
        assert pools == {f"{cluster.service_host('file-1')}#file-1": 1.0, dest: 0.0}


def test_qcow2_sources_are_read_as_raw_through_nbd_and_refused_by_tgt(
    cluster_factory: StartCluster,
) -> None:
    require_tools()
    backends = {
        "q-iscsi": {"file_volume_format": "qcow2", **target_backend("iscsi")},
        "q-nbd": {"file_volume_format": "qcow2", **target_backend("nbd")},
        "raw": {"file_capacity_gb": "100", **target_backend("iscsi")},
    }
    cluster = cluster_factory(backends=backends)
    shim = SimpleNamespace(
        state_path=cluster.state_path,
        backends={n: SimpleNamespace(options=o) for n, o in backends.items()},
    )
    try:
        cluster.wait_for_pools(*backends)
        with cluster.client(microversion=MV) as api:
            made = {}
            for backend in ("q-iscsi", "q-nbd"):
                kind = api.post(
                    "/types",
                    json={
                        "volume_type": {
                            "name": f"on-{backend}",
                            "extra_specs": {"volume_backend_name": backend},
                        }
                    },
                )
                assert kind.status_code == 200, kind.text
                made[backend] = api.wait_for_volume(api.create(volume_type=f"on-{backend}"))
                path = cluster.volume_dir(backend) / f"volume-{made[backend]['id']}"
                qcow2_write(path, 0x5E, 256 * MiB)
                assert api.delete(f"/types/{kind.json()['volume_type']['id']}/extra_specs/"
                                  "volume_backend_name").status_code in (200, 202)  # fmt: skip
            raw_pool = f"{cluster.service_host('raw')}#raw"

            moved = migrate_and_wait(api, made["q-nbd"]["id"], raw_pool)
            copy = cluster.volume_dir("raw") / f"volume-{moved['os-vol-mig-status-attr:name_id']}"
            assert raw_holds(copy, 0x5E, 256 * MiB) and copy.stat().st_size == GiB
            assert raw_holds(copy, 0x00, 0)

            volume_id = made["q-iscsi"]["id"]
            resp = api.post(f"/volumes/{volume_id}/action",
                            json={"os-migrate_volume": {"host": raw_pool}})  # fmt: skip
            assert resp.status_code == 202, resp.text
            failed = wait_for(
                lambda: (v := api.volume(volume_id)) and v["migration_status"] == "error" and v,
                "the migration failed", 60,
            )  # fmt: skip
            assert failed["os-vol-host-attr:host"] == f"{cluster.service_host('q-iscsi')}#q-iscsi"
            assert qcow2_holds(cluster.volume_dir("q-iscsi") / f"volume-{volume_id}", 0x5E,
                               256 * MiB)  # fmt: skip
            detail = api.messages_for(volume_id)[0]["user_message"]
            # tgt serves raw files only (or, on a busy machine, its daemon did not start).
            assert "exporting the volume from" in detail
            wait_for(lambda: all(v["consumes_quota"] for v in api.volumes()), "copy gone", 60)
            assert cluster.volume_files("raw") == [moved["os-vol-mig-status-attr:name_id"]]
    finally:
        stop_targets(shim)  # type: ignore[arg-type]
