"""What operators call: os-hosts, capabilities, services (host filter, freeze/thaw),
extensions, pools as Cinder's drivers report them, and the empty-id routes."""

from __future__ import annotations

import pytest
from harness import VolumeApi
from keystone_helpers import keystone_client

MV = VolumeApi.mv


def test_pools_report_the_targets_protocol_and_cinders_vendor(api, tempest_schemas):
    resp = api.get("/scheduler-stats/get_pools", params={"detail": "true"})
    tempest_schemas.check("scheduler_stats.get_pools_with_detail", resp)
    caps = [p["capabilities"] for p in resp.json()["pools"]]
    assert caps and {c["storage_protocol"] for c in caps} == {"iSCSI"}
    assert {c["vendor_name"] for c in caps} == {"Open Source"}
    assert {c["QoS_support"] for c in caps} == {False}  # tgt enforces no back-end QoS
    assert all(c["driver_version"] for c in caps)


def test_nbd_backends_report_nbd(start_service):
    svc = start_service(backends={"file-1": {"target_protocol": "nbd"}})
    with svc.client("ops") as api:
        pool = api.get("/scheduler-stats/get_pools", params={"detail": "true"}).json()["pools"][0]
    assert pool["capabilities"]["storage_protocol"] == "NBD"
    assert pool["capabilities"]["QoS_support"] is True


def test_a_type_asking_for_the_protocol_and_vendor_places_volumes(api):
    resp = api.post("/types", json={"volume_type": {
        "name": f"iscsi-{api.project[:8]}",
        "extra_specs": {"storage_protocol": "iSCSI", "vendor_name": "Open Source"}}})  # fmt: skip
    assert resp.status_code == 200, resp.text
    type_id = resp.json()["volume_type"]["id"]
    try:
        volume = api.create_volume(volume_type=type_id)
        api.delete_volume(volume["id"])
    finally:
        api.delete(f"/types/{type_id}")


def test_capabilities_of_a_backend_match_its_pools(api, service, tempest_schemas):
    pools = api.get("/scheduler-stats/get_pools", params={"detail": "true"}).json()["pools"]
    for pool in pools:
        for host in (pool["name"], pool["name"].split("#", 1)[0]):
            resp = api.get(f"/capabilities/{host}")
            tempest_schemas.check("capabilities.show_backend_capabilities", resp)
            caps = resp.json()
            assert caps["namespace"] == f"OS::Storage::Capabilities::{host.split('#')[0]}"
            for key in ("vendor_name", "volume_backend_name", "storage_protocol"):
                assert caps[key] == pool["capabilities"][key]
            assert caps["properties"]["thin_provisioning"]["type"] == "boolean"
    api.assert_fault(api.get(f"/capabilities/{service.host}@nowhere"), 404)


def test_os_hosts_lists_every_service_and_shows_usage_per_project(api, service, tempest_schemas):
    listed = api.get("/os-hosts")
    tempest_schemas.check("hosts.list_hosts", listed)
    hosts = listed.json()["hosts"]
    names = {(h["host_name"], h["service"]) for h in hosts}
    assert (f"{service.host}@file-1", "cinder-volume") in names
    assert (service.host, "cinder-scheduler") in names
    volume = api.create_volume(size=2)
    try:
        backend = volume["os-vol-host-attr:host"].split("#", 1)[0]
        snapshot = api.post("/snapshots", json={"snapshot": {"volume_id": volume["id"]}})
        assert snapshot.status_code == 202, snapshot.text
        snapshot_id = snapshot.json()["snapshot"]["id"]
        api.wait_for(
            lambda: (
                api.get(f"/snapshots/{snapshot_id}").json()["snapshot"]["status"] == "available"
            ),
            "the snapshot",
        )
        shown = api.get(f"/os-hosts/{backend}")
        tempest_schemas.check("hosts.show_host", shown)
        rows = {r["resource"]["project"]: r["resource"] for r in shown.json()["host"]}
        mine = rows[api.project]
        assert (mine["volume_count"], mine["total_volume_gb"]) == ("1", "2")
        assert (mine["snapshot_count"], mine["total_snapshot_gb"]) == ("1", "2")
        total = rows["(total)"]
        assert int(total["volume_count"]) >= 1 and int(total["total_volume_gb"]) >= 2
    finally:
        deleted = api.delete(f"/volumes/{volume['id']}", params={"cascade": "true"})
        assert deleted.status_code == 202, deleted.text
        api.wait_for_gone(volume["id"])
    api.assert_fault(api.get(f"/os-hosts/{service.host}"), 404)  # not a volume host


def test_services_filter_by_host_matches_its_backends(api, service, tempest_schemas):
    everything = api.get("/os-services").json()["services"]
    by_host = api.get("/os-services", params={"host": service.host})
    tempest_schemas.check("services.list_services", by_host)
    assert sorted(s["binary"] for s in by_host.json()["services"]) == sorted(
        s["binary"] for s in everything if s["host"].split("@")[0] == service.host
    )
    volumes = api.get("/os-services", params={"host": service.host, "binary": "cinder-volume"})
    assert {s["host"] for s in volumes.json()["services"]} == {
        f"{service.host}@file-1", f"{service.host}@file-2"}  # fmt: skip
    one = api.get("/os-services", params={"host": f"{service.host}@file-2"}).json()["services"]
    assert [s["host"] for s in one] == [f"{service.host}@file-2"]
    assert api.get("/os-services", params={"host": "nowhere"}).json()["services"] == []


def test_freeze_keeps_volumes_but_refuses_changes_and_new_work(start_service, tempest_schemas):
    svc = start_service(backends={"file-1": {}})
    backend = f"{svc.host}@file-1"
    with svc.client("ops") as api:
        volume = api.create_volume()
        frozen = api.put("/os-services/freeze", json={"host": svc.host})
        tempest_schemas.check("services.freeze_host", frozen)
        listed = api.get("/os-services", params={"binary": "cinder-volume"}).json()["services"]
        assert [s["frozen"] for s in listed] == [True]
        # Frozen: no change to what it holds, and nothing new placed on it.
        message = api.assert_fault(api.delete(f"/volumes/{volume['id']}"), 400)
        assert "frozen" in message
        snapshot = api.post("/snapshots", json={"snapshot": {"volume_id": volume["id"]}})
        assert "frozen" in api.assert_fault(snapshot, 400)
        assert api.get("/snapshots").json()["snapshots"] == []
        refused = api.create_volume(wait="error")
        assert refused["status"] == "error"
        # Freezing twice, or an unknown host, changes nothing and says why.
        api.assert_fault(api.put("/os-services/freeze", json={"host": backend}), 400)
        api.assert_fault(api.put("/os-services/freeze", json={"host": "nowhere"}), 400)
        api.assert_fault(api.put("/os-services/thaw", json={"host": "nowhere"}), 400)
        assert api.get(f"/volumes/{volume['id']}").json()["volume"]["status"] == "available"

        tempest_schemas.check(
            "services.thaw_host", api.put("/os-services/thaw", json={"host": backend})
        )
        api.assert_fault(api.put("/os-services/thaw", json={"host": backend}), 400)
        api.delete_volume(volume["id"])
        api.create_volume()


def test_freeze_and_thaw_are_admin_calls(keystone, keystone_service):
    token = keystone.token("alpha", "member")
    with keystone_client(keystone_service, token, keystone.project_id("alpha")) as member:
        member.assert_fault(member.put("/os-services/freeze", json={"host": "x"}), 403)
        member.assert_fault(member.get("/os-hosts"), 403)
        member.assert_fault(member.get("/capabilities/x@y"), 403)


def test_extensions_lists_cinders(api, tempest_schemas):
    resp = api.get("/extensions")
    tempest_schemas.check("extensions.list_extensions", resp)
    by_alias = {e["alias"]: e["name"] for e in resp.json()["extensions"]}
    assert by_alias["os-hosts"] == "Hosts"
    for alias in (
        "os-volume-type-access",
        "qos-specs",
        "os-volume-transfer",
        "backups",
        "capabilities",
        "os-volume-manage",
        "encryption",
        "scheduler-stats",
    ):
        assert alias in by_alias  # fmt: skip


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_an_empty_volume_id_is_not_found(api, method):
    resp = api.request(method, "/volumes/", json={"volume": {"name": "x"}})
    api.assert_fault(resp, 404)
    api.assert_fault(api.post("/volumes//action", json={"os-extend": {"new_size": 2}}), 404)


def test_messages_name_the_request_that_failed(api, tempest_schemas):
    nowhere = api.post(
        "/types",
        json={
            "volume_type": {
                "name": f"nowhere-{api.project[:8]}",
                "extra_specs": {"volume_backend_name": "none"},
            }
        },
    )
    assert nowhere.status_code == 200, nowhere.text
    resp = api.post(
        "/volumes",
        json={"volume": {"size": 1, "volume_type": nowhere.json()["volume_type"]["id"]}},
        headers=MV("3.3"),
    )
    assert resp.status_code == 202, resp.text
    volume_id = resp.json()["volume"]["id"]
    api.wait_for_volume(volume_id, "error")
    listed = api.get("/messages", headers=MV("3.3"))
    tempest_schemas.check("messages.list_messages", listed)
    mine = [m for m in listed.json()["messages"] if m["resource_uuid"] == volume_id]
    assert [m["request_id"] for m in mine] == [resp.headers["x-openstack-request-id"]]
    shown = api.get(f"/messages/{mine[0]['id']}", headers=MV("3.3"))
    tempest_schemas.check("messages.show_message", shown)
