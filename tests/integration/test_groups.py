"""Groups (3.13) as users drive them: plain HTTP checked with Tempest's schemas at each
microversion, python-cinderclient (3.13-3.20) and openstacksdk; notifications, quota."""

from __future__ import annotations

import time

import pytest
from cinderclient import exceptions as cinder_exceptions
from group_helpers import (
    create_group,
    delete_group,
    group_action,
    group_events,
    group_type,
    member,
    members_of,
    mv,
    show_group,
    volume_type,
    wait_group,
)
from lifecycle_helpers import backend_of, cinder_for, quota_usage, sdk_for, set_quota

BASE_KEYS = {"id", "status", "availability_zone", "created_at", "name", "description",
             "group_type", "volume_types"}  # fmt: skip


def keys_at(version: str, *, list_volume: bool = False, admin: bool = True) -> set[str]:
    minor = int(version.split(".")[1])
    keys = set(BASE_KEYS)
    if minor >= 14:
        keys |= {"group_snapshot_id", "source_group_id"}
    if minor >= 25 and list_volume:
        keys.add("volumes")
    if minor >= 38:
        keys.add("replication_status")
    if minor >= 58 and admin:
        keys.add("project_id")
    return keys


def test_group_lifecycle_over_http(service, api, tempest_schemas):
    gt, vt = group_type(api), volume_type(api)
    body = {"group": {"name": "  g1  ", "description": "first", "group_type": gt["name"],
                      "volume_types": [vt["name"]]}}  # fmt: skip
    created = api.post("/groups", json=body, headers=mv("3.13"))
    tempest_schemas.check("groups.create_group", created)
    assert set(created.json()["group"]) == {"id", "name"}
    group_id = created.json()["group"]["id"]
    assert created.json()["group"]["name"] == "g1"  # stripped, as Cinder does
    shown = wait_group(api, group_id)
    assert (shown["group_type"], shown["volume_types"]) == (gt["id"], [vt["id"]])
    assert shown["availability_zone"] == "nova"

    for version in ("3.13", "3.14", "3.20", "3.25", "3.38", "3.58", "3.71"):
        resp = api.get(f"/groups/{group_id}", headers=mv(version))
        if version in ("3.13", "3.14", "3.20"):
            tempest_schemas.check("groups.show_group", resp)
        assert set(resp.json()["group"]) == keys_at(version), version
        with_volumes = api.get(f"/groups/{group_id}", params={"list_volume": "true"},
                               headers=mv(version))  # fmt: skip
        assert set(with_volumes.json()["group"]) == keys_at(version, list_volume=True)
    assert api.get(f"/groups/{group_id}", headers=mv("3.38")).json()["group"][
        "replication_status"] == "disabled"  # fmt: skip

    vol = member(api, {"id": group_id}, vt, name="m1")
    assert vol["group_id"] == group_id
    assert "group_id" not in api.get(f"/volumes/{vol['id']}", headers=mv("3.12")).json()["volume"]
    filtered = api.get("/volumes/detail", params={"group_id": group_id}, headers=mv("3.10"))
    assert [v["id"] for v in filtered.json()["volumes"]] == [vol["id"]]
    assert api.get(f"/groups/{group_id}", params={"list_volume": "1"}, headers=mv("3.25")).json()[
        "group"]["volumes"] == [vol["id"]]  # fmt: skip

    summary = api.get("/groups", headers=mv("3.13"))
    tempest_schemas.check("groups.list_groups_no_detail", summary)
    assert summary.json()["groups"] == [{"id": group_id, "name": "g1"}]
    detail = api.get("/groups/detail", headers=mv("3.14"))
    tempest_schemas.check("groups.list_groups_with_detail", detail)
    assert [g["id"] for g in detail.json()["groups"]] == [group_id]

    renamed = api.put(
        f"/groups/{group_id}",
        headers=mv("3.13"),
        json={"group": {"name": "g2", "description": "second"}},
    )
    tempest_schemas.check("groups.update_group", renamed)
    shown = show_group(api, group_id)
    assert (shown["name"], shown["description"], shown["status"]) == ("g2", "second",
                                                                       "available")  # fmt: skip

    deleted = group_action(api, group_id, {"delete": {"delete-volumes": True}}, "3.13")
    tempest_schemas.check("groups.delete_group", deleted)
    api.wait_for_gone(vol["id"])
    # The group's row goes in the volume service's next transaction after its volumes'.
    api.wait_for(lambda: api.get(f"/groups/{group_id}", headers=mv("3.13")).status_code == 404,
                 "the group deleted")  # fmt: skip
    api.assert_fault(api.get(f"/groups/{group_id}", headers=mv("3.13")), 404)
    assert api.get("/groups/detail", headers=mv("3.13")).json()["groups"] == []
    assert service.find_volume_file(vol["id"]) is None

    notes = service.notifications()
    for event in ("group.create.start", "group.create.end", "group.delete.start",
                  "group.delete.end"):  # fmt: skip
        (note,) = group_events(notes, event, group_id=group_id)
        assert note["publisher_id"].startswith("group.itest@file-"), note
        assert set(note["payload"]) == {"tenant_id", "user_id", "availability_zone",
                                        "group_id", "group_type", "name", "created_at",
                                        "status"}  # fmt: skip
    assert group_events(notes, "volume.delete.end", volume_id=vol["id"])


def test_membership_updates(service, api, tempest_schemas):
    gt, vt = group_type(api), volume_type(api)
    group = create_group(api, gt, [vt])
    first, second = member(api, group, vt), member(api, group, vt)
    out = api.put(
        f"/groups/{group['id']}",
        headers=mv("3.13"),
        json={"group": {"remove_volumes": f"{second['id']},"}},
    )
    tempest_schemas.check("groups.update_group", out)
    wait_group(api, group["id"])
    assert [v["id"] for v in members_of(api, group["id"])] == [first["id"]]
    assert api.get(f"/volumes/{second['id']}", headers=mv("3.13")).json()["volume"][
        "group_id"] is None  # fmt: skip
    back = api.put(
        f"/groups/{group['id']}", headers=mv("3.13"), json={"group": {"add_volumes": second["id"]}}
    )
    assert back.status_code == 202, back.text
    wait_group(api, group["id"])
    assert {v["id"] for v in members_of(api, group["id"])} == {first["id"], second["id"]}
    notes = service.notifications()
    assert len(group_events(notes, "group.update.end", group_id=group["id"])) == 2
    delete_group(api, group["id"])


def test_volumes_of_a_group_share_its_backend(api):
    gt = group_type(api)
    pinned = volume_type(api, backend="file-2")
    group = create_group(api, gt, [pinned, volume_type(api)])
    free = volume_type(api)
    vols = [member(api, group, pinned) for _ in range(3)]
    assert {backend_of(v) for v in vols} == {"file-2"}
    # A type the group does not have cannot join it.
    refused = api.post("/volumes", headers=mv("3.13"), json={"volume": {
        "size": 1, "volume_type": free["id"], "group_id": group["id"]}})  # fmt: skip
    assert "requested type must be supported by this group" in api.assert_fault(refused, 400)
    delete_group(api, group["id"])


def test_quota_groups(api, tempest_schemas):
    gt, vt = group_type(api), volume_type(api)
    assert (quota_usage(api)["groups"]["limit"], quota_usage(api)["groups"]["in_use"]) == (10, 0)
    set_quota(api, groups=1)
    group = create_group(api, gt, [vt])
    assert quota_usage(api)["groups"]["in_use"] == 1
    over = api.post("/groups", headers=mv(), json={"group": {
        "group_type": gt["id"], "volume_types": [vt["id"]], "name": "over"}})  # fmt: skip
    assert "Maximum number of groups allowed (1) exceeded" in api.assert_fault(over, 413)
    assert [g["id"] for g in api.get("/groups", headers=mv()).json()["groups"]] == [group["id"]]
    delete_group(api, group["id"], delete_volumes=False)
    assert quota_usage(api)["groups"]["in_use"] == 0


def test_reset_status(api, tempest_schemas):
    group = create_group(api, group_type(api), [volume_type(api)])
    for status in ("creating", "available", "error"):
        resp = group_action(api, group["id"], {"reset_status": {"status": status}}, "3.20")
        tempest_schemas.check("groups.reset_group_status", resp)
        assert show_group(api, group["id"])["status"] == status
    for bad in ("in-use", "bogus", ""):
        resp = group_action(api, group["id"], {"reset_status": {"status": bad}}, "3.20")
        api.assert_fault(resp, 400)
    api.assert_fault(group_action(api, group["id"], {"reset_status": {"status": "available"}},
                                  "3.19"), 404)  # fmt: skip
    assert show_group(api, group["id"])["status"] == "error"
    delete_group(api, group["id"], delete_volumes=False)


def test_listing(service, api, project):
    gt, vt = group_type(api), volume_type(api)
    made = [create_group(api, gt, [vt], name=f"list-{i}") for i in range(3)]
    ids = [g["id"] for g in made]
    listed = api.get("/groups", params={"sort": "name:asc"}, headers=mv()).json()["groups"]
    assert [g["id"] for g in listed] == ids
    page = api.get("/groups", params={"limit": 2, "sort": "name:desc"}, headers=mv()).json()
    assert [g["id"] for g in page["groups"]] == ids[:0:-1]
    assert page["group_links"][0]["rel"] == "next"
    after = api.get(
        "/groups", headers=mv(), params={"limit": 2, "sort": "name:desc", "marker": ids[1]}
    ).json()
    assert [g["id"] for g in after["groups"]] == [ids[0]]
    by_name = api.get("/groups", params={"name": "list-1"}, headers=mv()).json()["groups"]
    assert [g["id"] for g in by_name] == [ids[1]]
    api.assert_fault(api.get("/groups", params={"sort": "color"}, headers=mv()), 400)
    with service.client() as other:
        assert other.get("/groups", headers=mv()).json()["groups"] == []
        every = other.get("/groups", params={"all_tenants": "1"}, headers=mv()).json()["groups"]
        assert set(ids) <= {g["id"] for g in every}
    for group in made:
        delete_group(api, group["id"], delete_volumes=False)


def test_cinderclient_groups(service, project, api):
    gt, vt = group_type(api), volume_type(api)
    cinder = cinder_for(service, project, "3.20")
    created = cinder.groups.create(gt["id"], vt["id"], name="cc-group", description="cc")
    deadline = time.monotonic() + 30
    while cinder.groups.get(created.id).status != "available" and time.monotonic() < deadline:
        time.sleep(0.05)
    group = cinder.groups.get(created.id)
    assert (group.name, group.status, group.volume_types) == ("cc-group", "available",
                                                              [vt["id"]])  # fmt: skip
    vol = member(api, {"id": group.id}, vt)
    assert [g.id for g in cinder.groups.list()] == [group.id]
    cinder.groups.update(group, name="cc-renamed", remove_volumes=vol["id"])
    wait_group(api, group.id)
    assert cinder.groups.get(group.id).name == "cc-renamed"
    assert members_of(api, group.id) == []
    cinder.groups.update(group, add_volumes=vol["id"])
    wait_group(api, group.id)
    cinder.groups.reset_state(group, "error")
    assert cinder.groups.get(group.id).status == "error"
    cinder.groups.delete(group, delete_volumes=True)
    api.wait_for_gone(vol["id"])
    deadline = time.monotonic() + 30
    with pytest.raises(cinder_exceptions.NotFound):
        while time.monotonic() < deadline:
            cinder.groups.get(group.id)
            time.sleep(0.05)


def test_openstacksdk_groups(service, project, api):
    gt, vt = group_type(api), volume_type(api)
    sdk = sdk_for(service, project)
    try:
        created = sdk.block_storage.create_group(
            name="sdk-group", group_type=gt["id"], volume_types=[vt["id"]]
        )
        group = wait_group(api, created.id)
        fetched = sdk.block_storage.get_group(created.id)
        assert (fetched.name, fetched.group_type, fetched.volume_types) == (
            "sdk-group", gt["id"], [vt["id"]])  # fmt: skip
        assert fetched.replication_status == "disabled"
        assert created.id in {g.id for g in sdk.block_storage.groups()}
        sdk.block_storage.update_group(created.id, description="by the sdk")
        assert show_group(api, group["id"])["description"] == "by the sdk"
        sdk.block_storage.reset_group_status(created, "error")
        assert show_group(api, group["id"])["status"] == "error"
        sdk.block_storage.delete_group(created, delete_volumes=True)
        sdk.block_storage.wait_for_delete(created, interval=0.05, wait=30)
    finally:
        sdk.close()
