"""``POST /volumes/{id}/action`` and volume metadata, as clients drive them.

api-v3.md §5 (actions), §4 (metadata endpoints), §13 (user messages) and
notifications.md §2-§3 (resize, retype, reset_status events).
"""

from __future__ import annotations

import os
import time

import pytest
from cinderclient import exceptions as cinder_exceptions

pytest.register_assert_rewrite("lifecycle_helpers")

from lifecycle_helpers import (  # noqa: E402
    VOLUME_PAYLOAD_KEYS,
    GiB,
    assert_envelope,
    backend_of,
    cinder_for,
    create_type,
    events,
    messages_for,
    quota_usage,
    reset_volume,
    sdk_for,
    set_quota,
    volume,
    wait_event,
)

MESSAGE_KEYS = {
    "id", "event_id", "user_message", "message_level", "resource_type", "resource_uuid",
    "created_at", "guaranteed_until", "request_id", "links",
}  # fmt: skip


def action(api, volume_id, body, version=None):
    return api.post(
        f"/volumes/{volume_id}/action", json=body, headers=api.mv(version) if version else None
    )


def wait_size(api, volume_id, size):
    api.wait_for(lambda: volume(api, volume_id)["size"] == size, f"size {size}")
    return api.wait_for_volume(volume_id)


def other_backend(service, vol):
    mine = backend_of(vol)
    return next(name for name in service.backends if name != mine)


@pytest.fixture
def cinder(service, project):
    return cinder_for(service, project)


@pytest.fixture
def sdk(service, project):
    conn = sdk_for(service, project)
    yield conn
    conn.close()


# ---------------------------------------------------------------------------------------
# the clients


def test_cinderclient_actions(service, api, cinder):
    vol = api.create_volume(size=1)
    same_backend = create_type(api, volume_backend_name=backend_of(vol))

    cinder.volumes.extend(vol["id"], 2)
    extended = wait_size(api, vol["id"], 2)
    assert extended["status"] == "available"
    assert os.stat(service.find_volume_file(vol["id"])).st_size == 2 * GiB

    cinder.volumes.set_bootable(vol["id"], True)
    assert cinder.volumes.get(vol["id"]).bootable == "true"
    cinder.volumes.set_bootable(vol["id"], False)
    assert cinder.volumes.get(vol["id"]).bootable == "false"

    cinder.volumes.update_readonly_flag(vol["id"], True)  # accepted (202)

    cinder.volumes.retype(vol["id"], same_backend["name"], "never")
    assert cinder.volumes.get(vol["id"]).volume_type == same_backend["name"]

    cinder.volumes.reset_state(vol["id"], "error")
    assert cinder.volumes.get(vol["id"]).status == "error"
    with pytest.raises(cinder_exceptions.BadRequest):
        cinder.volumes.extend(vol["id"], 3)
    cinder.volumes.reset_state(vol["id"], "available")
    assert cinder.volumes.get(vol["id"]).status == "available"

    cinder.volumes.reset_state(vol["id"], "maintenance")
    with pytest.raises(cinder_exceptions.BadRequest):
        cinder.volumes.delete(vol["id"])
    path = service.find_volume_file(vol["id"])
    cinder.volumes.force_delete(vol["id"])
    api.wait_for_gone(vol["id"])
    assert not path.exists()


def test_openstacksdk_actions(service, api, sdk):
    vol = api.create_volume(size=1)
    same_backend = create_type(api, volume_backend_name=backend_of(vol))
    sdk.block_storage.extend_volume(vol["id"], 3)
    wait_size(api, vol["id"], 3)
    assert os.stat(service.find_volume_file(vol["id"])).st_size == 3 * GiB
    assert sdk.block_storage.get_volume(vol["id"]).size == 3

    sdk.block_storage.set_volume_bootable_status(vol["id"], True)
    assert sdk.block_storage.get_volume(vol["id"]).is_bootable is True

    sdk.block_storage.retype_volume(vol["id"], same_backend["name"])
    assert sdk.block_storage.get_volume(vol["id"]).volume_type == same_backend["name"]

    sdk.block_storage.reset_volume_status(vol["id"], status="error")
    assert sdk.block_storage.get_volume(vol["id"]).status == "error"
    sdk.block_storage.reset_volume_status(vol["id"], status="available", attach_status="detached")
    assert sdk.block_storage.get_volume(vol["id"]).status == "available"
    sdk.block_storage.set_volume_readonly(vol["id"], True)


def test_readonly_flag_is_visible_in_metadata(api, cinder):
    """tempest test_volume_readonly_update: show's metadata carries ``readonly``."""
    vol = api.create_volume()
    for flag in (True, False):
        cinder.volumes.update_readonly_flag(vol["id"], flag)
        metadata = api.get(f"/volumes/{vol['id']}").json()["volume"]["metadata"]
        assert str(metadata.get("readonly")).lower() == str(flag).lower(), metadata


# ---------------------------------------------------------------------------------------
# extend


def test_extend_notifications_and_quota(service, api):
    vol = api.create_volume(size=1, name="grow", metadata={"m": "1"})
    before = quota_usage(api)["gigabytes"]["in_use"]
    resp = action(api, vol["id"], {"os-extend": {"new_size": "4"}})  # digits as a string
    assert resp.status_code == 202, resp.text
    assert resp.content == b"" or resp.text.strip() in {"", "null"}, resp.text
    wait_size(api, vol["id"], 4)
    assert quota_usage(api)["gigabytes"]["in_use"] == before + 3
    start = wait_event(service, "volume.resize.start", volume_id=vol["id"])
    end = wait_event(service, "volume.resize.end", volume_id=vol["id"])
    placed = volume(api, vol["id"])
    backend_host = placed["os-vol-host-attr:host"].split("#", 1)[0]
    for note in (start, end):
        assert_envelope(note, "volume.")
        assert note["publisher_id"] == f"volume.{backend_host}", note["publisher_id"]
        payload = note["payload"]
        assert set(payload) >= VOLUME_PAYLOAD_KEYS, sorted(VOLUME_PAYLOAD_KEYS - set(payload))
        assert payload["tenant_id"] == api.project
        assert payload["display_name"] == "grow"
        assert payload["metadata"] == [{"key": "m", "value": "1"}]
        assert payload["volume_type"] == placed["volume_type_id"]
    assert start["payload"]["size"] == 1
    assert end["payload"]["size"] == 4
    assert end["payload"]["status"] == "available"


def test_extend_refusals_change_nothing(service, api):
    vol = api.create_volume(size=2)
    set_quota(api, gigabytes=quota_usage(api)["gigabytes"]["in_use"] + 1)
    message = api.assert_fault(action(api, vol["id"], {"os-extend": {"new_size": 4}}), 413)
    assert "gigabytes" in message.lower(), message
    reset_volume(api, vol["id"], "error")
    api.assert_fault(action(api, vol["id"], {"os-extend": {"new_size": 3}}), 400)
    reset_volume(api, vol["id"], "available")
    # In-use extend needs 3.42; an in-use volume at 3.41 is refused whatever else holds.
    shown = volume(api, vol["id"])
    assert (shown["size"], shown["status"]) == (2, "available")
    assert os.stat(service.find_volume_file(vol["id"])).st_size == 2 * GiB
    assert events(service, "volume.resize.start", volume_id=vol["id"]) == []


def test_extend_beyond_the_pool_leaves_a_message(start_service):
    service = start_service(
        backends={"small": {"file_capacity_gb": "4", "file_thin_provisioning": "false"}}
    )
    with service.client() as api:
        vol = api.create_volume(size=2)
        resp = action(api, vol["id"], {"os-extend": {"new_size": 20}})
        assert resp.status_code in (202, 400), resp.text
        time.sleep(0.3)  # give a (wrongly) cast extend the time to show
        shown = api.wait_for_volume(vol["id"])
        assert (shown["status"], shown["size"]) == ("available", 2), shown
        path = service.find_volume_file(vol["id"])
        assert os.stat(path).st_size == 2 * GiB
        assert events(service, "volume.resize.end", volume_id=vol["id"]) == []

        found = messages_for(api, vol["id"])
        assert len(found) == 1, found
        msg = found[0]
        assert set(msg) == MESSAGE_KEYS, sorted(set(msg) ^ MESSAGE_KEYS)
        assert msg["resource_type"] == "VOLUME"
        assert msg["message_level"] == "ERROR"
        assert msg["event_id"].startswith("VOLUME_VOLUME_007_"), msg
        assert "CapacityFilter" in msg["user_message"], msg
        assert msg["user_message"].startswith("extend volume"), msg
        shown_msg = api.get(f"/messages/{msg['id']}", headers=api.mv("3.3"))
        assert shown_msg.status_code == 200, shown_msg.text
        assert shown_msg.json()["message"]["id"] == msg["id"]

        # The capacity the failed extend would have used is not held: a fitting extend works.
        assert action(api, vol["id"], {"os-extend": {"new_size": 3}}).status_code == 202
        wait_size(api, vol["id"], 3)
        assert os.stat(path).st_size == 3 * GiB
        pool = next(iter(_pools(api).values()))
        assert pool["allocated_capacity_gb"] == 3, pool


def _pools(api):
    resp = api.get("/scheduler-stats/get_pools", params={"detail": "true"})
    assert resp.status_code == 200, resp.text
    return {p["name"]: p["capabilities"] for p in resp.json()["pools"]}


# ---------------------------------------------------------------------------------------
# retype


def test_retype_within_the_backend(service, api):
    vol = api.create_volume(size=1)
    old_type = vol["volume_type"]
    new_type = create_type(api, volume_backend_name=backend_of(vol))
    usage = quota_usage(api)
    resp = action(api, vol["id"], {"os-retype": {"new_type": new_type["id"],
                                                 "migration_policy": "never"}})  # fmt: skip
    assert resp.status_code == 202, resp.text
    shown = api.wait_for(
        lambda: (v := volume(api, vol["id"]))["volume_type"] == new_type["name"] and v,
        "the new type",
    )
    assert shown["status"] == "available"
    assert shown["volume_type_id"] == new_type["id"]
    after = quota_usage(api)
    assert after[f"volumes_{new_type['name']}"]["in_use"] == 1, after
    assert after[f"gigabytes_{new_type['name']}"]["in_use"] == 1, after
    assert after[f"volumes_{old_type}"]["in_use"] == usage[f"volumes_{old_type}"]["in_use"] - 1
    assert after["volumes"]["in_use"] == usage["volumes"]["in_use"]

    note = wait_event(service, "volume.retype", volume_id=vol["id"])
    assert_envelope(note, "volume.")
    assert set(note["payload"]) >= VOLUME_PAYLOAD_KEYS
    assert note["payload"]["volume_type"] == new_type["id"]
    # notifications.md §3: emitted by the volume service, publisher volume.<host@backend>.
    backend_host = shown["os-vol-host-attr:host"].split("#", 1)[0]
    assert note["publisher_id"] == f"volume.{backend_host}", note["publisher_id"]


def test_retype_to_another_backend_leaves_the_volume_and_a_message(service, api):
    # With migration_policy=on-demand the volume moves instead (test_migration.py).
    vol = api.create_volume(size=1)
    elsewhere = create_type(api, volume_backend_name=other_backend(service, vol))
    resp = action(api, vol["id"], {"os-retype": {"new_type": elsewhere["name"],
                                                 "migration_policy": "never"}})  # fmt: skip
    assert resp.status_code == 202, resp.text
    found = api.wait_for(lambda: messages_for(api, vol["id"]), "a user message")
    assert len(found) == 1, found
    assert found[0]["event_id"].startswith("VOLUME_VOLUME_"), found
    assert "CapabilitiesFilter" in found[0]["user_message"], found
    shown = api.wait_for_volume(vol["id"])
    assert shown["volume_type"] == vol["volume_type"]
    assert shown["os-vol-host-attr:host"] == vol["os-vol-host-attr:host"]
    assert service.find_volume_file(vol["id"]).parent == (
        service.backends[backend_of(vol)].volume_dir
    )
    assert events(service, "volume.retype", volume_id=vol["id"]) == []


# ---------------------------------------------------------------------------------------
# bad input: 400 with Cinder's fault body, and nothing changed

BAD_ACTIONS = [
    {"os-extend": {}},
    {"os-extend": None},
    {"os-extend": {"new_size": "abc"}},
    {"os-extend": {"new_size": 1}},
    {"os-extend": {"new_size": 0}},
    {"os-extend": {"new_size": -3}},
    {"os-extend": {"new_size": 2.5}},
    {"os-extend": {"new_size": True}},
    {"os-retype": {}},
    {"os-retype": None},
    {"os-retype": {"new_type": "__SAME__"}},
    {"os-retype": {"new_type": "__OTHER__", "migration_policy": "sometimes"}},
    {"os-set_bootable": {}},
    {"os-set_bootable": {"bootable": "maybe"}},
    {"os-set_bootable": {"bootable": None}},
    {"os-update_readonly_flag": {}},
    {"os-update_readonly_flag": {"readonly": "perhaps"}},
    {"os-reset_status": {}},
    {"os-reset_status": {"status": "bogus"}},
    {"os-reset_status": {"status": "deleting"}},
    {"os-reset_status": {"attach_status": "half"}},
    {"os-reset_status": {"migration_status": "bogus"}},
    {"os-no_such_action": {}},
    {"os-extend": {"new_size": 3}, "os-set_bootable": {"bootable": True}},
]


def _resolve(body, vol, other_type):
    """Fill the placeholders: the volume's own type, and another existing type."""
    names = {"__SAME__": vol["volume_type"], "__OTHER__": other_type}
    if isinstance(body, dict):
        return {k: _resolve(v, vol, other_type) for k, v in body.items()}
    return names.get(body, body) if isinstance(body, str) else body


@pytest.fixture(scope="module")
def spare_type(service):
    with service.client() as admin:
        return create_type(admin)["name"]


@pytest.mark.parametrize("body", BAD_ACTIONS, ids=[repr(b)[:60] for b in BAD_ACTIONS])
def test_bad_action_input(service, api, spare_type, body):
    vol = api.create_volume(size=2, metadata={"k": "v"})
    before = volume(api, vol["id"])
    resp = action(api, vol["id"], _resolve(body, vol, spare_type))
    api.assert_fault(resp, 400)
    after = volume(api, vol["id"])
    for key in ("status", "size", "bootable", "volume_type", "metadata", "migration_status"):
        assert after[key] == before[key], (key, before[key], after[key])
    assert os.stat(service.find_volume_file(vol["id"])).st_size == 2 * GiB


def test_action_on_missing_volume_or_type_is_404(api):
    missing = "00000000-0000-0000-0000-000000000000"
    api.assert_fault(action(api, missing, {"os-extend": {"new_size": 2}}), 404)
    api.assert_fault(action(api, missing, {"os-set_bootable": {"bootable": True}}), 404)
    vol = api.create_volume()
    api.assert_fault(action(api, vol["id"], {"os-retype": {"new_type": "no-such-type"}}), 404)
    assert volume(api, vol["id"])["volume_type"] == vol["volume_type"]


def test_reset_to_in_use_needs_attachments(api):
    """Cinder refuses ``in-use`` for a volume without attachments (api-v3.md §5)."""
    vol = api.create_volume()
    api.assert_fault(action(api, vol["id"], {"os-reset_status": {"status": "in-use"}}), 400)
    assert volume(api, vol["id"])["status"] == "available"


def test_reset_status_notifications(service, api):
    vol = api.create_volume()
    reset_volume(api, vol["id"], "error")
    start = wait_event(service, "volume.reset_status.start", volume_id=vol["id"])
    end = wait_event(service, "volume.reset_status.end", volume_id=vol["id"])
    for note in (start, end):
        assert_envelope(note, "volume.")
        assert set(note["payload"]) >= VOLUME_PAYLOAD_KEYS, sorted(
            VOLUME_PAYLOAD_KEYS - set(note["payload"])
        )
    assert start["payload"]["status"] == "available"
    assert end["payload"]["status"] == "error"


def test_force_delete(service, api):
    vol = api.create_volume()
    reset_volume(api, vol["id"], "error_deleting")
    api.assert_fault(api.delete(f"/volumes/{vol['id']}"), 400)
    path = service.find_volume_file(vol["id"])
    resp = action(api, vol["id"], {"os-force_delete": {}})
    assert resp.status_code == 202, resp.text
    api.wait_for_gone(vol["id"])
    assert not path.exists()
    wait_event(service, "volume.delete.end", volume_id=vol["id"])
    assert quota_usage(api)["volumes"]["in_use"] == 0


# ---------------------------------------------------------------------------------------
# volume metadata


def test_volume_metadata_endpoints(api):
    vol = api.create_volume(metadata={"a": "1"})
    base = f"/volumes/{vol['id']}/metadata"
    assert api.get(base).json() == {"metadata": {"a": "1"}}
    resp = api.post(base, json={"metadata": {"b": "2"}})
    assert (resp.status_code, resp.json()) == (200, {"metadata": {"a": "1", "b": "2"}})
    resp = api.put(base, json={"metadata": {"c": "3"}})
    assert (resp.status_code, resp.json()) == (200, {"metadata": {"c": "3"}})
    assert api.get(f"{base}/c").json() == {"meta": {"c": "3"}}
    api.assert_fault(api.get(f"{base}/a"), 404)
    resp = api.put(f"{base}/d", json={"meta": {"d": "4"}})
    assert (resp.status_code, resp.json()) == (200, {"meta": {"d": "4"}})
    api.assert_fault(api.put(f"{base}/e", json={"meta": {"other": "x"}}), 400)
    api.assert_fault(api.put(f"{base}/e", json={"meta": {}}), 400)
    api.assert_fault(api.post(base, json={"metadata": "not a dict"}), 400)
    assert api.delete(f"{base}/d").status_code == 200
    api.assert_fault(api.delete(f"{base}/d"), 404)
    assert api.get(f"/volumes/{vol['id']}").json()["volume"]["metadata"] == {"c": "3"}
    api.assert_fault(api.get("/volumes/00000000-0000-0000-0000-000000000000/metadata"), 404)


def test_volume_metadata_with_cinderclient(api, cinder):
    vol = api.create_volume(metadata={"k1": "v1"})
    cinder.volumes.set_metadata(vol["id"], {"k2": "v2"})
    assert cinder.volumes.get(vol["id"]).metadata == {"k1": "v1", "k2": "v2"}
    cinder.volumes.delete_metadata(vol["id"], ["k1"])
    assert cinder.volumes.get(vol["id"]).metadata == {"k2": "v2"}
    cinder.volumes.update_all_metadata(vol["id"], {"only": "this"})
    assert cinder.volumes.get(vol["id"]).metadata == {"only": "this"}


def test_extend_of_an_attached_volume_is_refused_with_a_message(service, api):
    """File pools export a fixed size, so they report online_extend_support false: an
    in-use extend (3.42) leaves the volume as it was and says why, as Cinder does."""
    vol = api.create_volume(size=1)
    assert action(api, vol["id"], {"os-reserve": {}}).status_code == 202
    attach = {"os-attach": {"host_name": "compute-1", "mountpoint": "/dev/vdb", "mode": "rw"}}
    assert action(api, vol["id"], attach).status_code == 202
    assert volume(api, vol["id"])["status"] == "in-use"
    resp = action(api, vol["id"], {"os-extend": {"new_size": 2}}, version="3.42")
    assert resp.status_code == 202, resp.text
    shown = volume(api, vol["id"])
    assert (shown["size"], shown["status"]) == (1, "in-use")
    texts = [m["user_message"] for m in messages_for(api, vol["id"])]
    assert any("online_extend_support" in t for t in texts), texts
    assert os.stat(service.find_volume_file(vol["id"])).st_size == 1 * GiB
    assert action(api, vol["id"], {"os-detach": {}}).status_code == 202
    assert volume(api, vol["id"])["status"] == "available"
