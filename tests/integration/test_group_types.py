"""Group types and group specs (3.11): plain HTTP checked with Tempest's schemas,
python-cinderclient and openstacksdk; Cinder's 4xx for bad input, with nothing changed."""

from __future__ import annotations

from typing import Any

import pytest
from cinderclient import exceptions as cinder_exceptions
from group_helpers import group_type, mv, unique, volume_type
from lifecycle_helpers import cinder_for, events, sdk_for

TYPE_KEYS = {"id", "name", "description", "is_public", "group_specs"}


def all_types(api: Any) -> dict[str, dict[str, Any]]:
    resp = api.get("/group_types", params={"is_public": "None"}, headers=mv("3.11"))
    assert resp.status_code == 200, resp.text
    return {t["id"]: t for t in resp.json()["group_types"]}


def test_group_type_lifecycle_over_http(service, api, tempest_schemas):
    name = unique("gt")
    body = {
        "group_type": {
            "name": name,
            "description": "first",
            "is_public": True,
            "group_specs": {"consistent_group_snapshot_enabled": "<is> False"},
        }
    }
    created = api.post("/group_types", json=body, headers=mv("3.11"))
    tempest_schemas.check("group_types.create_group_type", created)
    gt = created.json()["group_type"]
    assert set(gt) == TYPE_KEYS
    assert (gt["name"], gt["description"], gt["is_public"]) == (name, "first", True)
    assert gt["group_specs"] == {"consistent_group_snapshot_enabled": "<is> False"}

    listed = api.get("/group_types", headers=mv("3.11"))
    tempest_schemas.check("group_types.list_group_types", listed)
    assert gt["id"] in {t["id"] for t in listed.json()["group_types"]}
    # Cinder's reserved type for migrated consistency groups exists from the start.
    assert "default_cgsnapshot_type" in {t["name"] for t in listed.json()["group_types"]}

    shown = api.get(f"/group_types/{gt['id']}", headers=mv("3.11"))
    tempest_schemas.check("group_types.show_group_type", shown)
    assert shown.json()["group_type"] == gt

    renamed = unique("gt-renamed")
    updated = api.put(
        f"/group_types/{gt['id']}",
        headers=mv("3.11"),
        json={"group_type": {"name": renamed, "description": "second"}},
    )
    tempest_schemas.check("group_types.update_group_type", updated)
    assert updated.json()["group_type"]["name"] == renamed
    assert api.get(f"/group_types/{gt['id']}", headers=mv("3.11")).json()["group_type"][
        "description"] == "second"  # fmt: skip

    deleted = api.delete(f"/group_types/{gt['id']}", headers=mv("3.11"))
    tempest_schemas.check("group_types.delete_group_type", deleted)
    assert gt["id"] not in all_types(api)
    api.assert_fault(api.get(f"/group_types/{gt['id']}", headers=mv("3.11")), 404)

    notes = service.notifications()
    assert events(service, "group_type.create")
    assert [n["publisher_id"].split(".")[0] for n in notes
            if n["event_type"] in {"group_type.create", "group_type.update",
                                   "group_type.delete"}][-3:] == ["groupType"] * 3  # fmt: skip


def test_group_specs_lifecycle_over_http(service, api, tempest_schemas):
    gt = group_type(api)
    base = f"/group_types/{gt['id']}/group_specs"
    created = api.post(
        base, json={"group_specs": {"key1": "value1", "key2": "value2"}}, headers=mv("3.11")
    )
    tempest_schemas.check("group_types.create_or_update_group_type_specs", created)
    assert created.json() == {"group_specs": {"key1": "value1", "key2": "value2"}}
    again = api.post(
        base, json={"group_specs": {"key2": "value2-updated", "key3": "v3"}}, headers=mv("3.11")
    )
    assert again.json()["group_specs"] == {"key2": "value2-updated", "key3": "v3"}

    item = api.get(f"{base}/key2", headers=mv("3.11"))
    tempest_schemas.check("group_types.show_group_type_specs_item", item)
    assert item.json() == {"key2": "value2-updated"}
    updated = api.put(f"{base}/key3", json={"key3": "v3-updated"}, headers=mv("3.11"))
    tempest_schemas.check("group_types.update_group_type_specs_item", updated)
    assert updated.json() == {"key3": "v3-updated"}

    listed = api.get(base, headers=mv("3.11"))
    tempest_schemas.check("group_types.list_group_type_specs", listed)
    assert listed.json()["group_specs"] == {"key1": "value1", "key2": "value2-updated",
                                            "key3": "v3-updated"}  # fmt: skip
    for key in ("key1", "key2", "key3"):
        gone = api.delete(f"{base}/{key}", headers=mv("3.11"))
        tempest_schemas.check("group_types.delete_group_type_specs_item", gone)
        api.assert_fault(api.get(f"{base}/{key}", headers=mv("3.11")), 404)
    assert api.get(base, headers=mv("3.11")).json()["group_specs"] == {}
    assert events(service, "group_type_specs.create", type_id=gt["id"])
    assert events(service, "group_type_specs.delete", type_id=gt["id"], id="key3")


BAD_CREATES = [
    ({"group_type": {"name": "   "}}, "The 'name' can not be empty."),
    ({"group_type": {"name": ""}}, "field/attribute name"),
    ({"group_type": {"name": "x" * 256}}, "is too long"),
    ({"group_type": {"name": "ok", "is_public": "maybe"}}, "is_public"),
    ({"group_type": {"name": "ok", "color": "blue"}}, "Additional properties"),
    ({"group_type": {"name": "ok", "description": "bell\x07"}}, "description"),
    ({"group_type": {"name": "ok", "group_specs": {"bad key!": "v"}}}, "group_specs"),
    ({"group_type": {"name": "ok", "group_specs": {"k": 5}}}, "is not of type"),
    ({"group_type": {}}, "'name' is a required property"),
    ({"volume_type": {"name": "ok"}}, "'group_type' is a required property"),
    ([], "is not of type 'object'"),
]


@pytest.mark.parametrize(("body", "words"), BAD_CREATES)
def test_bad_group_type_creates_change_nothing(api, body, words):
    before = all_types(api)
    message = api.assert_fault(api.post("/group_types", json=body, headers=mv("3.11")), 400)
    assert words in message
    assert all_types(api) == before


def test_duplicate_names_conflict_and_change_nothing(api):
    first, second = group_type(api), group_type(api)
    before = all_types(api)
    dup = api.post("/group_types", json={"group_type": {"name": first["name"]}}, headers=mv("3.11"))
    assert api.assert_fault(dup, 409) == f"Group Type {first['name']} already exists."
    clash = api.put(
        f"/group_types/{second['id']}",
        headers=mv("3.11"),
        json={"group_type": {"name": first["name"]}},
    )
    api.assert_fault(clash, 409)
    empty = api.put(
        f"/group_types/{second['id']}", headers=mv("3.11"), json={"group_type": {"name": "  "}}
    )
    assert api.assert_fault(empty, 400) == "Group type name can not be empty."
    nothing = api.put(f"/group_types/{second['id']}", headers=mv("3.11"), json={"group_type": {}})
    assert "Specify group type name, description" in api.assert_fault(nothing, 400)
    assert all_types(api) == before


def test_spec_errors(api):
    gt = group_type(api, keep="me")
    base = f"/group_types/{gt['id']}/group_specs"
    api.assert_fault(api.post(base, json={"group_specs": {"with space": "x"}},
                              headers=mv("3.11")), 400)  # fmt: skip
    api.assert_fault(api.post(base, json={"specs": {}}, headers=mv("3.11")), 400)
    mismatch = api.put(f"{base}/keep", json={"other": "x"}, headers=mv("3.11"))
    assert api.assert_fault(mismatch, 400) == "Request body and URI mismatch"
    api.assert_fault(api.put(f"{base}/keep", json={"keep": "a", "b": "c"},
                             headers=mv("3.11")), 400)  # fmt: skip
    missing = api.get(f"{base}/nope", headers=mv("3.11"))
    assert api.assert_fault(missing, 404) == (
        f"Group Type {gt['id']} has no extra spec with key nope."
    )
    gone = api.delete(f"{base}/nope", headers=mv("3.11"))
    assert api.assert_fault(gone, 404) == f"Group Type {gt['id']} has no specs with key nope."
    api.assert_fault(api.get("/group_types/nope/group_specs", headers=mv("3.11")), 404)
    assert api.get(base, headers=mv("3.11")).json()["group_specs"] == {"keep": "me"}


def test_group_types_need_microversion_3_11(api):
    api.assert_fault(api.get("/group_types", headers=mv("3.10")), 404)
    api.assert_fault(api.get("/group_types"), 404)
    before = all_types(api)
    api.assert_fault(api.post("/group_types", json={"group_type": {"name": unique("gt")}},
                              headers=mv("3.10")), 404)  # fmt: skip
    assert all_types(api) == before


def test_list_sorts_pages_and_filters_public(api, tempest_schemas):
    a = group_type(api)
    b_body = {"group_type": {"name": "zz-" + unique("b"), "is_public": False}}
    b = api.post("/group_types", json=b_body, headers=mv("3.11")).json()["group_type"]
    names = [
        t["name"]
        for t in api.get(
            "/group_types", headers=mv("3.11"), params={"sort": "name:asc", "is_public": "None"}
        ).json()["group_types"]
    ]
    assert names.index(a["name"]) < names.index(b["name"])
    names = [
        t["name"]
        for t in api.get(
            "/group_types", headers=mv("3.11"), params={"sort": "name:desc", "is_public": "None"}
        ).json()["group_types"]
    ]
    assert names.index(b["name"]) < names.index(a["name"])
    private = api.get("/group_types", params={"is_public": "false"}, headers=mv("3.11"))
    tempest_schemas.check("group_types.list_group_types", private)
    assert b["id"] in {t["id"] for t in private.json()["group_types"]}
    assert a["id"] not in {t["id"] for t in private.json()["group_types"]}
    public = api.get("/group_types", headers=mv("3.11")).json()["group_types"]
    assert a["id"] in {t["id"] for t in public} and b["id"] not in {t["id"] for t in public}
    page = api.get("/group_types", params={"limit": 1, "is_public": "None"}, headers=mv("3.11"))
    assert len(page.json()["group_types"]) == 1 and "group_type_links" in page.json()
    api.assert_fault(api.get("/group_types", params={"is_public": "perhaps"},
                             headers=mv("3.11")), 400)  # fmt: skip
    api.assert_fault(api.get("/group_types", params={"sort": "color"}, headers=mv("3.11")), 400)


def test_a_group_type_or_volume_type_in_use_is_not_deleted(api):
    gt, vt = group_type(api), volume_type(api)
    from group_helpers import create_group, delete_group

    group = create_group(api, gt, [vt])
    refused = api.delete(f"/group_types/{gt['id']}", headers=mv("3.11"))
    assert "Target group type is still in use." in api.assert_fault(refused, 400)
    api.assert_fault(api.delete(f"/types/{vt['id']}"), 400)
    assert gt["id"] in all_types(api)
    delete_group(api, group["id"], delete_volumes=False)
    assert api.delete(f"/group_types/{gt['id']}", headers=mv("3.11")).status_code == 202
    assert api.delete(f"/types/{vt['id']}").status_code == 202


def test_default_group_type(api, start_service, tempest_schemas):
    missing = api.get("/group_types/default", headers=mv("3.11"))
    assert api.assert_fault(missing, 404) == "Default group type can not be found."
    svc = start_service(defaults={"default_group_type": "the-default"})
    with svc.client(microversion="3.11") as client:
        client.post("/group_types", json={"group_type": {"name": "the-default"}})
        shown = client.get("/group_types/default")
        tempest_schemas.check("group_types.show_default_group_type", shown)
        assert shown.json()["group_type"]["name"] == "the-default"


def test_cinderclient_group_types(service, project):
    cinder = cinder_for(service, project, "3.11")
    name = unique("cc-gt")
    created = cinder.group_types.create(name, description="by cinderclient")
    assert (created.name, created.description, created.is_public) == (
        name, "by cinderclient", True)  # fmt: skip
    assert name in {t.name for t in cinder.group_types.list()}
    created.set_keys({"alpha": "1", "beta": "2"})
    assert cinder.group_types.get(created.id).get_keys() == {"alpha": "1", "beta": "2"}
    created.unset_keys(["alpha"])
    assert created.get_keys() == {"beta": "2"}
    updated = cinder.group_types.update(created.id, name=name + "-2", description="changed")
    assert (updated.name, updated.description) == (name + "-2", "changed")
    with pytest.raises(cinder_exceptions.NotFound):
        cinder.group_types.default()
    cinder.group_types.delete(created.id)
    with pytest.raises(cinder_exceptions.NotFound):
        cinder.group_types.get(created.id)


def test_openstacksdk_group_types(service, project):
    sdk = sdk_for(service, project)
    try:
        name = unique("sdk-gt")
        created = sdk.block_storage.create_group_type(name=name, description="by the sdk")
        assert created.name == name
        assert sdk.block_storage.get_group_type(created.id).description == "by the sdk"
        assert created.id in {t.id for t in sdk.block_storage.group_types()}
        sdk.block_storage.create_group_type_group_specs(created, {"a": "b", "c": "d"})
        fetched = sdk.block_storage.fetch_group_type_group_specs(created)
        assert fetched.group_specs == {"a": "b", "c": "d"}
        sdk.block_storage.delete_group_type_group_specs_property(created, "a")
        assert sdk.block_storage.fetch_group_type_group_specs(created).group_specs == {"c": "d"}
        sdk.block_storage.update_group_type(created.id, description="changed")
        assert sdk.block_storage.get_group_type(created.id).description == "changed"
        sdk.block_storage.delete_group_type(created)
        assert created.id not in {t.id for t in sdk.block_storage.group_types()}
    finally:
        sdk.close()
