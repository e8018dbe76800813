"""The scheduler's capacity arithmetic, seen from outside: what fits where."""

from __future__ import annotations

THICK = {"file_thin_provisioning": "false"}


def backend_of(volume):
    return volume["os-vol-host-attr:host"].split("@", 1)[1].split("#", 1)[0]


def assert_capacity_message(api, volume_id):
    """The user message for a volume nobody could take names the CapacityFilter.

    Tolerates only the endpoint being absent, never a wrong message.
    """
    resp = api.get("/messages", headers=api.mv("3.3"))
    if resp.status_code == 404 and "messages" not in resp.text:
        return
    assert resp.status_code == 200, resp.text
    messages = [m for m in resp.json()["messages"] if m["resource_uuid"] == volume_id]
    assert len(messages) == 1, resp.json()
    message = messages[0]
    assert message["event_id"] == "VOLUME_VOLUME_001_003", message
    assert message["resource_type"] == "VOLUME"
    assert message["message_level"] == "ERROR"
    assert "CapacityFilter" in message["user_message"], message
    shown = api.get(f"/messages/{message['id']}", headers=api.mv("3.3"))
    assert shown.status_code == 200, shown.text
    assert shown.json()["message"]["id"] == message["id"]


def pool_free(api, backend):
    pools = api.get("/scheduler-stats/get_pools", params={"detail": "true"}).json()["pools"]
    (pool,) = [p for p in pools if p["capabilities"]["volume_backend_name"] == backend]
    return pool["capabilities"]["free_capacity_gb"]


def test_too_big_for_a_thick_pool_is_error(start_service):
    svc = start_service(backends={"small": {**THICK, "file_capacity_gb": "2"}})
    with svc.client() as api:
        big = api.create_volume(size=5, wait="error")
        assert svc.find_volume_file(big["id"]) is None
        assert_capacity_message(api, big["id"])
        small = api.create_volume(size=1)
        assert backend_of(small) == "small"
        assert svc.find_volume_file(small["id"]) is not None
        # Another GiB still fits; the third does not (2 GiB thick pool).
        second = api.create_volume(size=1)
        third = api.create_volume(size=1, wait="error")
        assert_capacity_message(api, third["id"])
        # Deleting gives the space back once the pool reports it (thick pools trust the
        # reported free space).
        api.delete_volume(second["id"])
        api.wait_for(lambda: pool_free(api, "small") >= 1, "the pool to report its space back")
        fourth = api.create_volume(size=1)
        for volume in (big, small, third, fourth):
            api.delete_volume(volume["id"])


def test_thin_pool_honours_over_subscription(start_service):
    svc = start_service(
        backends={"thin": {"file_capacity_gb": "1", "max_over_subscription_ratio": "3.0"}}
    )
    with svc.client() as api:
        fitting = [api.create_volume(size=1) for _ in range(3)]
        over = api.create_volume(size=1, wait="error")
        assert_capacity_message(api, over["id"])
        for volume in [*fitting, over]:
            api.delete_volume(volume["id"])


def test_volume_goes_to_the_only_pool_it_fits(start_service):
    # Stacking (negative multiplier) prefers the fuller pool, so small volumes go to
    # "small" and only the size check can send a large one to "big".
    svc = start_service(
        backends={
            "small": {**THICK, "file_capacity_gb": "2"},
            "big": {**THICK, "file_capacity_gb": "10"},
        },
        defaults={"capacity_weight_multiplier": "-1.0"},
    )
    with svc.client() as api:
        little = api.create_volume(size=1)
        assert backend_of(little) == "small"
        large = api.create_volume(size=5)
        assert backend_of(large) == "big"
        assert svc.backends["big"].volume_path(large["id"]).exists()
        for volume in (little, large):
            api.delete_volume(volume["id"])


def test_default_weigher_spreads_to_the_freest_pool(start_service):
    svc = start_service(
        backends={
            "small": {**THICK, "file_capacity_gb": "2"},
            "big": {**THICK, "file_capacity_gb": "10"},
        }
    )
    with svc.client() as api:
        volume = api.create_volume(size=1)
        assert backend_of(volume) == "big"
        too_big = api.create_volume(size=11, wait="error")
        assert_capacity_message(api, too_big["id"])
        for v in (volume, too_big):
            api.delete_volume(v["id"])


def test_pools_report_the_configured_capacity(start_service):
    svc = start_service(
        backends={
            "thick": {**THICK, "file_capacity_gb": "2", "reserved_percentage": "10"},
            "thin": {"file_capacity_gb": "3", "max_over_subscription_ratio": "7.5"},
        }
    )
    with svc.client() as api:
        resp = api.get("/scheduler-stats/get_pools", params={"detail": "true"})
        assert resp.status_code == 200, resp.text
        pools = {p["name"].split("@", 1)[1].split("#", 1)[0]: p for p in resp.json()["pools"]}
        assert set(pools) == {"thick", "thin"}
        thick, thin = pools["thick"]["capabilities"], pools["thin"]["capabilities"]
        assert thick["total_capacity_gb"] == 2
        assert thick["thick_provisioning_support"] is True
        assert thick["thin_provisioning_support"] is False
        assert thick["reserved_percentage"] == 10
        assert thick["volume_backend_name"] == "thick"
        assert thin["total_capacity_gb"] == 3
        assert thin["thin_provisioning_support"] is True
        assert float(thin["max_over_subscription_ratio"]) == 7.5
        for caps in (thick, thin):
            for key in (
                "free_capacity_gb",
                "allocated_capacity_gb",
                "pool_name",
                "storage_protocol",
                "driver_version",
                "vendor_name",
                "timestamp",
            ):
                assert key in caps, (key, caps)
