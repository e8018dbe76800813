"""What an operator or a client asks before creating anything: zones, pools, services."""

from __future__ import annotations


def test_availability_zones(api):
    resp = api.get("/os-availability-zone")
    assert resp.status_code == 200, resp.text
    assert resp.json() == {
        "availabilityZoneInfo": [{"zoneName": "nova", "zoneState": {"available": True}}]
    }


def test_availability_zones_follow_the_backends(start_service):
    svc = start_service(
        backends={
            "east": {"backend_availability_zone": "az-east"},
            "west": {"backend_availability_zone": "az-west"},
        },
        defaults={"storage_availability_zone": "az-east"},
    )
    with svc.client() as api:
        zones = api.get("/os-availability-zone").json()["availabilityZoneInfo"]
        assert sorted(z["zoneName"] for z in zones) == ["az-east", "az-west"]
        assert all(z["zoneState"] == {"available": True} for z in zones)
        volume = api.create_volume(availability_zone="az-west")
        assert volume["availability_zone"] == "az-west"
        assert "@west#" in volume["os-vol-host-attr:host"]
        default = api.create_volume()
        assert default["availability_zone"] == "az-east"
        assert "@east#" in default["os-vol-host-attr:host"]
        api.assert_fault(
            api.post("/volumes", json={"volume": {"size": 1, "availability_zone": "nova"}}), 400
        )
        for v in (volume, default):
            api.delete_volume(v["id"])


def test_get_pools(service, api):
    summary = api.get("/scheduler-stats/get_pools")
    assert summary.status_code == 200, summary.text
    names = sorted(p["name"] for p in summary.json()["pools"])
    assert len(names) == 2, names
    assert [n.split("#")[0] for n in names] == [f"{service.host}@file-1", f"{service.host}@file-2"]
    assert all(set(p) == {"name"} for p in summary.json()["pools"])

    detail = api.get("/scheduler-stats/get_pools", params={"detail": "true"})
    assert detail.status_code == 200, detail.text
    for pool in detail.json()["pools"]:
        caps = pool["capabilities"]
        backend = pool["name"].split("@", 1)[1].split("#", 1)[0]
        assert caps["volume_backend_name"] == backend
        assert caps["pool_name"] == pool["name"].split("#", 1)[1]
        assert caps["total_capacity_gb"] > 0
        assert 0 <= caps["free_capacity_gb"] <= caps["total_capacity_gb"]
        assert caps["reserved_percentage"] == 0
        assert caps["thin_provisioning_support"] is True
        assert float(caps["max_over_subscription_ratio"]) == 20.0


def test_get_pools_filters_at_3_28(api):
    resp = api.get(
        "/scheduler-stats/get_pools",
        params={"detail": "true", "volume_backend_name": "file-2"},
        headers=api.mv("3.28"),
    )
    assert resp.status_code == 200, resp.text
    assert [p["capabilities"]["volume_backend_name"] for p in resp.json()["pools"]] == ["file-2"]


def test_services(service, api):
    resp = api.get("/os-services")
    assert resp.status_code == 200, resp.text
    services = resp.json()["services"]
    by_binary = {}
    for svc in services:
        by_binary.setdefault(svc["binary"], []).append(svc)
        assert svc["status"] == "enabled", svc
        assert svc["state"] == "up", svc
        assert svc["zone"] == "nova", svc
        assert svc["updated_at"], svc
    assert [s["host"] for s in by_binary["cinder-scheduler"]] == [service.host]
    assert sorted(s["host"] for s in by_binary["cinder-volume"]) == [
        f"{service.host}@file-1",
        f"{service.host}@file-2",
    ]
    only_volume = api.get("/os-services", params={"binary": "cinder-volume"}).json()["services"]
    assert {s["binary"] for s in only_volume} == {"cinder-volume"}
    at_349 = api.get("/os-services", headers=api.mv("3.49")).json()["services"]
    assert all(s["backend_state"] == "up" for s in at_349 if s["binary"] == "cinder-volume")
