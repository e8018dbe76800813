"""Manage and unmanage scaled out: api, scheduler and volume roles as processes over a
real RabbitMQ and PostgreSQL. The API's questions to the volume service (the manageable
list, the size of the file a reference names) go as casts and come back through the
database; a volume service that is down makes a manage a 400 that changes nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.register_assert_rewrite("distributed")

from distributed import StartCluster, wait_for  # noqa: E402

pytest_plugins = ["distributed"]
pytestmark = pytest.mark.integration


def test_unmanage_and_manage_across_processes(cluster_factory: StartCluster) -> None:
    cluster = cluster_factory(backends={"file-1": {}})
    cluster.wait_for_pools("file-1")
    pool = f"{cluster.service_host('file-1')}#file-1"
    with cluster.client(microversion="3.8") as api:
        volume_id = api.create()
        api.wait_for_volume(volume_id)
        path = cluster.volume_dir("file-1") / f"volume-{volume_id}"
        with open(path, "r+b") as handle:
            handle.write(b"scaled out")
        resp = api.post(f"/volumes/{volume_id}/action", json={"os-unmanage": {}})
        assert resp.status_code == 202, resp.text
        wait_for(lambda: api.get(f"/volumes/{volume_id}").status_code == 404, "unmanaged", 30)

        # The volume role starts again: the unmanaged file is nobody's garbage.
        cluster.kill("volume-file-1")
        cluster.start("volume-file-1")
        listed = api.get("/manageable_volumes/detail", params={"host": pool})
        assert listed.status_code == 200, listed.text
        entry = next(e for e in listed.json()["manageable-volumes"]
                     if e["reference"] == {"source-name": path.name})  # fmt: skip
        assert entry["safe_to_manage"] is True

        # A volume service that is down cannot be asked: 400, and nothing recorded.
        cluster.kill("volume-file-1")
        host = cluster.service_host("file-1")
        wait_for(lambda: api.service_state("cinder-volume", host) == "down", "service down", 30)
        body = {"volume": {"host": pool, "ref": {"source-name": path.name}, "name": "again"}}
        refused = api.post("/manageable_volumes", json=body)
        assert refused.status_code == 400, refused.text
        assert refused.json()["badRequest"]["message"] == "Service is unavailable at this time."
        everything = api.get("/volumes", params={"all_tenants": "1"}).json()["volumes"]
        assert all(v["name"] != "again" for v in everything)
        assert head(path, 10) == b"scaled out"

        cluster.start("volume-file-1")
        wait_for(lambda: api.service_state("cinder-volume", host) == "up", "service up", 30)
        resp = api.post("/manageable_volumes", json=body)
        assert resp.status_code == 202, resp.text
        managed = api.wait_for_volume(resp.json()["volume"]["id"])
        assert managed["id"] != volume_id
        final = cluster.volume_dir("file-1") / f"volume-{managed['id']}"
        assert head(final, 10) == b"scaled out"
        assert not path.exists()


def head(path: Path, length: int) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(length)
