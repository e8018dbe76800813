"""Requests the API must refuse: each gets a 4xx Cinder fault and leaves nothing behind."""

from __future__ import annotations

import contextlib
import time

import pytest


@contextlib.contextmanager
def nothing_created(service, api):
    """Assert the block creates no volume row (in the project) and no volume file."""
    files_before = service.volume_files()
    count_before = api.volume_count()
    yield
    # A wrongly accepted create would show up asynchronously; give it a moment to land.
    time.sleep(0.1)
    assert api.volume_count() == count_before, api.get("/volumes/detail").text
    assert service.volume_files() - files_before == set()


def post_volume(api, volume, headers=None):
    return api.post("/volumes", json={"volume": volume}, headers=headers)


@pytest.mark.parametrize(
    "size", [-1, 0, "abc", 1.5, "1.5", "", " 1", None, True, [1], {"gb": 1}, 2**31, 10**30]
)
def test_invalid_size_is_400(service, api, size):
    with nothing_created(service, api):
        message = api.assert_fault(post_volume(api, {"size": size}), 400)
    assert message


def test_size_message_names_the_size(service, api):
    with nothing_created(service, api):
        message = api.assert_fault(post_volume(api, {"size": 0}), 400)
    assert "size" in message.lower(), message


def test_missing_size_is_400(service, api):
    with nothing_created(service, api):
        api.assert_fault(post_volume(api, {"name": "sizeless"}), 400)


def test_malformed_json_is_400(service, api):
    with nothing_created(service, api):
        resp = api.post(
            "/volumes",
            content=b'{"volume": {"size": 1',
            headers={"Content-Type": "application/json"},
        )
        message = api.assert_fault(resp, 400)
    assert "Malformed request body" in message


@pytest.mark.parametrize("body", [{}, {"size": 1}, {"volumes": {"size": 1}}, {"volume": None}, []])
def test_missing_volume_key_is_400(service, api, body):
    with nothing_created(service, api):
        api.assert_fault(api.post("/volumes", json=body), 400)


def test_volume_not_an_object_is_400(service, api):
    with nothing_created(service, api):
        api.assert_fault(api.post("/volumes", json={"volume": "big"}), 400)


def test_unknown_volume_type_is_404(service, api):
    with nothing_created(service, api):
        message = api.assert_fault(
            post_volume(api, {"size": 1, "volume_type": "no-such-type"}), 404
        )
    assert "no-such-type" in message


def test_unknown_volume_type_id_is_404(service, api):
    type_id = "6f1b8c2e-0000-4000-8000-000000000000"
    with nothing_created(service, api):
        message = api.assert_fault(post_volume(api, {"size": 1, "volume_type": type_id}), 404)
    assert type_id in message


def test_unknown_snapshot_and_source_are_404(service, api):
    missing = "6f1b8c2e-0000-4000-8000-000000000001"
    with nothing_created(service, api):
        api.assert_fault(post_volume(api, {"size": 1, "snapshot_id": missing}), 404)
        api.assert_fault(post_volume(api, {"size": 1, "source_volid": missing}), 404)


def test_unknown_fields_rejected_at_3_53(service, api):
    with nothing_created(service, api):
        resp = post_volume(api, {"size": 1, "colour": "blue"}, headers=api.mv("3.53"))
        api.assert_fault(resp, 400)


def test_unknown_fields_accepted_before_3_53(service, api):
    resp = post_volume(api, {"size": 1, "colour": "blue"}, headers=api.mv("3.52"))
    assert resp.status_code == 202, resp.text
    api.wait_for_volume(resp.json()["volume"]["id"])
    api.delete_volume(resp.json()["volume"]["id"])
    resp = post_volume(api, {"size": 1, "colour": "blue"})
    assert resp.status_code == 202, resp.text
    api.wait_for_volume(resp.json()["volume"]["id"])
    api.delete_volume(resp.json()["volume"]["id"])


def test_bad_availability_zone_is_400(service, api):
    with nothing_created(service, api):
        message = api.assert_fault(post_volume(api, {"size": 1, "availability_zone": "mars"}), 400)
    assert "mars" in message


def test_multiattach_in_body_is_400(service, api):
    with nothing_created(service, api):
        api.assert_fault(post_volume(api, {"size": 1, "multiattach": True}), 400)


@pytest.mark.parametrize(
    "metadata", [{"": "empty key"}, {"k" * 256: "v"}, {"k": "v" * 256}, "not-a-dict", {"k": 1}]
)
def test_bad_metadata_is_400(service, api, metadata):
    with nothing_created(service, api):
        api.assert_fault(post_volume(api, {"size": 1, "metadata": metadata}), 400)


def test_name_too_long_is_400(service, api):
    with nothing_created(service, api):
        api.assert_fault(post_volume(api, {"size": 1, "name": "n" * 256}), 400)


def test_over_gigabytes_quota_is_413(service, api):
    with nothing_created(service, api):
        resp = post_volume(api, {"size": 1001})
        message = api.assert_fault(resp, 413)
    assert message.startswith("VolumeSizeExceedsAvailableQuota:"), message
    assert "Requested 1001G, quota is 1000G and 0G has been consumed." in message
    assert resp.json()["overLimit"].get("retryAfter") == "0"
    assert resp.headers.get("Retry-After") == "0"


def test_largest_valid_size_is_over_quota_not_invalid(service, api):
    with nothing_created(service, api):
        api.assert_fault(post_volume(api, {"size": 2**31 - 1}), 413)


def test_over_volumes_quota_is_413(start_service):
    svc = start_service(defaults={"quota_volumes": "2", "quota_gigabytes": "5"})
    with svc.client() as api:
        first = api.create_volume(size=2)
        second = api.create_volume(size=2)
        with nothing_created(svc, api):
            resp = post_volume(api, {"size": 1})
            message = api.assert_fault(resp, 413)
        assert message == (
            "VolumeLimitExceeded: Maximum number of volumes allowed (2) exceeded "
            "for quota 'volumes'."
        )
        api.delete_volume(second["id"])
        # Freed quota is usable again, but gigabytes still count what is left.
        with nothing_created(svc, api):
            message = api.assert_fault(post_volume(api, {"size": 4}), 413)
        assert "VolumeSizeExceedsAvailableQuota" in message
        assert "Requested 4G, quota is 5G and 2G has been consumed." in message
        third = api.create_volume(size=3)
        api.delete_volume(first["id"])
        api.delete_volume(third["id"])


def test_error_volumes_still_count_against_quota(start_service):
    svc = start_service(defaults={"quota_volumes": "1"})
    with svc.client() as api:
        created = api.post(
            "/types",
            json={"volume_type": {"name": "void", "extra_specs": {"volume_backend_name": "void"}}},
        )
        assert created.status_code == 200, created.text
        broken = api.create_volume(volume_type="void", wait="error")
        api.assert_fault(post_volume(api, {"size": 1}), 413)
        api.delete_volume(broken["id"])
        api.delete_volume(api.create_volume()["id"])


@pytest.mark.parametrize(
    "body",
    [
        {"volume": {}},
        {"volume": {"size": 2}},
        {"volume": {"status": "available"}},
        {"volume": {"name": "n" * 256}},
        {"volume": {"metadata": "x"}},
    ],
)
def test_bad_update_is_400_at_3_53(api, body):
    volume = api.create_volume(name="keep")
    resp = api.put(f"/volumes/{volume['id']}", json=body, headers=api.mv("3.53"))
    api.assert_fault(resp, 400)
    shown = api.get(f"/volumes/{volume['id']}").json()["volume"]
    assert (shown["name"], shown["size"], shown["status"]) == ("keep", 1, "available")
    api.delete_volume(volume["id"])


def test_update_and_delete_of_missing_volume_are_404(api):
    missing = "6f1b8c2e-0000-4000-8000-000000000002"
    api.assert_fault(api.put(f"/volumes/{missing}", json={"volume": {"name": "x"}}), 404)
    api.assert_fault(api.delete(f"/volumes/{missing}"), 404)
    api.assert_fault(api.get(f"/volumes/{missing}"), 404)
