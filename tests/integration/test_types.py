"""Volume types and extra specs, and placement of volumes by ``volume_backend_name``."""

from __future__ import annotations

import uuid

import pytest

TYPE_KEYS = {"id", "name", "is_public", "description"}


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def make_type(api):
    created = []

    def make(name=None, **fields):
        body = {"volume_type": {"name": name or unique("type"), **fields}}
        resp = api.post("/types", json=body)
        assert resp.status_code == 200, resp.text
        volume_type = resp.json()["volume_type"]
        created.append(volume_type["id"])
        return volume_type

    yield make
    for type_id in created:
        api.delete(f"/types/{type_id}")


def backend_of(volume):
    host = volume["os-vol-host-attr:host"]
    return host.split("@", 1)[1].split("#", 1)[0]


def test_default_type_exists(api):
    resp = api.get("/types/default")
    assert resp.status_code == 200, resp.text
    default = resp.json()["volume_type"]
    assert default["name"] == "__DEFAULT__"
    assert set(default) >= TYPE_KEYS
    listed = api.get("/types").json()["volume_types"]
    assert "__DEFAULT__" in [t["name"] for t in listed]


def test_create_show_update_delete_type(api):
    name = unique("gold")
    resp = api.post(
        "/types",
        json={
            "volume_type": {
                "name": name,
                "description": "shiny",
                "extra_specs": {"volume_backend_name": "file-2", "vendor:colour": "gold"},
            }
        },
    )
    assert resp.status_code == 200, resp.text
    created = resp.json()["volume_type"]
    assert set(created) >= TYPE_KEYS
    assert created["name"] == name
    assert created["description"] == "shiny"
    assert created["is_public"] is True
    assert created["extra_specs"] == {"volume_backend_name": "file-2", "vendor:colour": "gold"}

    shown = api.get(f"/types/{created['id']}")
    assert shown.status_code == 200, shown.text
    assert shown.json()["volume_type"]["name"] == name
    assert name in [t["name"] for t in api.get("/types").json()["volume_types"]]

    specs = api.get(f"/types/{created['id']}/extra_specs")
    assert specs.status_code == 200, specs.text
    assert specs.json() == {
        "extra_specs": {"volume_backend_name": "file-2", "vendor:colour": "gold"}
    }
    one = api.get(f"/types/{created['id']}/extra_specs/vendor:colour")
    assert one.status_code == 200, one.text
    assert one.json() == {"vendor:colour": "gold"}
    api.assert_fault(api.get(f"/types/{created['id']}/extra_specs/missing"), 404)

    added = api.post(f"/types/{created['id']}/extra_specs", json={"extra_specs": {"tier": "1"}})
    assert added.status_code == 200, added.text
    assert added.json() == {"extra_specs": {"tier": "1"}}
    put = api.put(f"/types/{created['id']}/extra_specs/tier", json={"tier": "2"})
    assert put.status_code == 200, put.text
    assert put.json() == {"tier": "2"}
    api.assert_fault(api.put(f"/types/{created['id']}/extra_specs/tier", json={"other": "2"}), 400)
    deleted = api.delete(f"/types/{created['id']}/extra_specs/tier")
    assert deleted.status_code == 202, deleted.text
    assert "tier" not in api.get(f"/types/{created['id']}/extra_specs").json()["extra_specs"]

    updated = api.put(f"/types/{created['id']}", json={"volume_type": {"description": "dull"}})
    assert updated.status_code == 200, updated.text
    assert updated.json()["volume_type"]["description"] == "dull"
    api.assert_fault(api.put(f"/types/{created['id']}", json={"volume_type": {}}), 400)

    gone = api.delete(f"/types/{created['id']}")
    assert gone.status_code == 202, gone.text
    api.assert_fault(api.get(f"/types/{created['id']}"), 404)


def test_duplicate_type_name_is_409(api, make_type):
    existing = make_type()
    resp = api.post("/types", json={"volume_type": {"name": existing["name"]}})
    api.assert_fault(resp, 409)


@pytest.mark.parametrize(
    "body",
    [{}, {"volume_type": {}}, {"volume_type": {"name": ""}}, {"volume_type": {"name": "x" * 256}}],
)
def test_bad_type_create_is_400(api, body):
    api.assert_fault(api.post("/types", json=body), 400)


def test_default_type_cannot_be_deleted(api):
    default = api.get("/types/default").json()["volume_type"]
    api.assert_fault(api.delete(f"/types/{default['id']}"), 400)


@pytest.mark.parametrize("backend", ["file-1", "file-2"])
def test_volume_lands_on_the_types_backend(service, api, make_type, backend):
    volume_type = make_type(extra_specs={"volume_backend_name": backend})
    volumes = [api.create_volume(volume_type=volume_type["name"]) for _ in range(3)]
    volumes.append(api.create_volume(volume_type=volume_type["id"]))
    for volume in volumes:
        assert backend_of(volume) == backend, volume["os-vol-host-attr:host"]
        assert volume["os-vol-host-attr:host"].startswith(f"{service.host}@{backend}#")
        assert volume["volume_type"] == volume_type["name"]
        assert volume["volume_type_id"] == volume_type["id"]
        assert service.backends[backend].volume_path(volume["id"]).exists()
    for volume in volumes:
        api.delete_volume(volume["id"])


def test_type_in_use_cannot_be_deleted_or_respecced(api, make_type):
    volume_type = make_type(extra_specs={"volume_backend_name": "file-1"})
    volume = api.create_volume(volume_type=volume_type["name"])
    api.assert_fault(api.delete(f"/types/{volume_type['id']}"), 400)
    resp = api.post(f"/types/{volume_type['id']}/extra_specs", json={"extra_specs": {"x": "y"}})
    api.assert_fault(resp, 400)
    api.delete_volume(volume["id"])
    assert api.delete(f"/types/{volume_type['id']}").status_code == 202


def test_type_with_no_matching_backend_errors_the_volume(api, make_type):
    volume_type = make_type(extra_specs={"volume_backend_name": "no-such-backend"})
    volume = api.create_volume(volume_type=volume_type["name"], wait="error")
    assert volume["os-vol-host-attr:host"] is None
    resp = api.get("/messages", headers=api.mv("3.3"))
    assert resp.status_code == 200, resp.text
    messages = [m for m in resp.json()["messages"] if m["resource_uuid"] == volume["id"]]
    assert len(messages) == 1, resp.json()
    assert messages[0]["event_id"] == "VOLUME_VOLUME_001_003"
    assert messages[0]["message_level"] == "ERROR"
    assert messages[0]["resource_type"] == "VOLUME"
    assert messages[0]["user_message"].startswith("schedule allocate volume")
    # /messages does not exist before 3.3.
    api.assert_fault(api.get("/messages"), 404)
    message_url = f"/messages/{messages[0]['id']}"
    assert api.get(message_url, headers=api.mv("3.3")).status_code == 200
    deleted = api.delete(message_url, headers=api.mv("3.3"))
    assert deleted.status_code == 204, deleted.text
    api.assert_fault(api.get(message_url, headers=api.mv("3.3")), 404)
    api.delete_volume(volume["id"])


def test_capability_extra_specs_filter_backends(api, make_type):
    # Both file backends are thin-capable; a type asking for a capability nobody has fails.
    thin = make_type(extra_specs={"thin_provisioning_support": "<is> True"})
    volume = api.create_volume(volume_type=thin["name"])
    api.delete_volume(volume["id"])
    impossible = make_type(extra_specs={"capabilities:no_such_capability": "<is> True"})
    volume = api.create_volume(volume_type=impossible["name"], wait="error")
    api.delete_volume(volume["id"])
