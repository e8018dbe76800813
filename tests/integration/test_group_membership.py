"""Cinder's rules about groups and their volumes: each bad request gets Cinder's 4xx and
changes nothing; a group that fits no backend goes to error with a user message."""

from __future__ import annotations

from typing import Any

import pytest
from group_helpers import (
    create_group,
    delete_group,
    group_action,
    group_type,
    member,
    members_of,
    mv,
    show_group,
    volume_type,
    wait_group,
)
from lifecycle_helpers import create_snapshot, messages_for, quota_usage


def state(api: Any) -> dict[str, Any]:
    """What a refused request must leave as it was: groups, volumes, usage."""
    groups = api.get("/groups/detail", headers=mv()).json()["groups"]
    volumes = api.get("/volumes/detail", headers=mv("3.13")).json()["volumes"]
    return {
        "groups": sorted((g["id"], g["status"], g["name"]) for g in groups),
        "volumes": sorted((v["id"], v["status"], v["group_id"]) for v in volumes),
        "usage": {k: v["in_use"] for k, v in quota_usage(api).items() if isinstance(v, dict)},
    }


@pytest.fixture
def setup(api: Any) -> dict[str, Any]:
    gt, vt, other_vt = group_type(api), volume_type(api), volume_type(api)
    group = create_group(api, gt, [vt])
    return {"gt": gt, "vt": vt, "other_vt": other_vt, "group": group}


def test_bad_group_creates(api, setup):
    gt, vt = setup["gt"], setup["vt"]
    before = state(api)
    cases = [
        ({"group_type": "no-such-type", "volume_types": [vt["id"]]}, 404,
         "Group type with name no-such-type could not be found."),
        ({"group_type": gt["id"], "volume_types": ["no-such-vt"]}, 404,
         "Volume type with name no-such-vt could not be found."),
        ({"group_type": gt["id"]}, 400, "'volume_types' is a required property"),
        ({"group_type": gt["id"], "volume_types": []}, 400, "volume_types"),
        ({"group_type": gt["id"], "volume_types": [vt["id"], vt["id"]]}, 400, "unique"),
        ({"group_type": "default_cgsnapshot_type", "volume_types": [vt["id"]]}, 400,
         "is reserved for migrating CGs to groups"),
        ({"group_type": gt["id"], "volume_types": [vt["id"]], "availability_zone": "mars"},
         400, "Availability zone 'mars' is invalid."),
        ({"group_type": gt["id"], "volume_types": [vt["id"]], "size": 1}, 400,
         "Additional properties are not allowed"),
    ]  # fmt: skip
    for body, status, words in cases:
        message = api.assert_fault(api.post("/groups", json={"group": body}, headers=mv()), status)
        assert words in message, (body, message)
    api.assert_fault(api.post("/groups", headers=mv("3.12"), json={"group": {
        "group_type": gt["id"], "volume_types": [vt["id"]]}}), 404)  # fmt: skip
    assert state(api) == before


def test_bad_volume_creates_into_a_group(api, setup):
    group, vt, other_vt = setup["group"], setup["vt"], setup["other_vt"]
    before = state(api)

    def create(**fields: Any) -> Any:
        return api.post("/volumes", json={"volume": {"size": 1, **fields}}, headers=mv("3.13"))

    no_type = create(group_id=group["id"])
    assert "volume_type must be provided" in api.assert_fault(no_type, 400)
    wrong = create(group_id=group["id"], volume_type=other_vt["id"])
    assert "requested type must be supported by this group" in api.assert_fault(wrong, 400)
    api.assert_fault(create(group_id="3f2a8a52-32c9-4b3c-9bb1-2f1e2d7c7f10",
                            volume_type=vt["id"]), 404)  # fmt: skip
    group_action(api, group["id"], {"reset_status": {"status": "error"}}, "3.20")
    in_error = create(group_id=group["id"], volume_type=vt["id"])
    assert "Originating group status must be one of" in api.assert_fault(in_error, 400)
    group_action(api, group["id"], {"reset_status": {"status": "available"}}, "3.20")
    after = state(api)
    assert after["volumes"] == before["volumes"] and after["usage"] == before["usage"]


def test_bad_membership_updates(service, api, setup):
    group, vt, other_vt = setup["group"], setup["vt"], setup["other_vt"]
    inside = member(api, group, vt)
    wrong_type = api.create_volume(volume_type=other_vt["id"])
    away = api.create_volume(volume_type=other_vt["id"])
    other_group = create_group(api, setup["gt"], [vt])
    taken = member(api, other_group, vt)
    broken = api.create_volume(volume_type=vt["id"])
    api.post(f"/volumes/{broken['id']}/action", json={"os-reset_status": {"status": "error"}})
    on_one, anywhere = volume_type(api, backend="file-1"), volume_type(api)
    pinned_group = create_group(api, setup["gt"], [on_one, anywhere])
    stranger = api.create_volume(volume_type=volume_type(api, backend="file-2")["id"])
    retyped = api.post(
        f"/volumes/{stranger['id']}/action", json={"os-retype": {"new_type": anywhere["id"]}}
    )
    assert retyped.status_code == 202, retyped.text
    before = state(api)

    def update(**fields: str) -> Any:
        return api.put(f"/groups/{group['id']}", json={"group": fields}, headers=mv())

    cases = [
        (update(add_volumes=wrong_type["id"]), "is not supported by the group"),
        (update(add_volumes=taken["id"]), f"is already in group {other_group['id']}"),
        (update(add_volumes=broken["id"]), "because volume is in an invalid state: error"),
        (update(add_volumes="3f2a8a52-32c9-4b3c-9bb1-2f1e2d7c7f10"), "cannot be found"),
        (update(remove_volumes=away["id"]), "because it is not in the group"),
        (update(add_volumes=wrong_type["id"], remove_volumes=wrong_type["id"]),
         "are in both add and remove volume list"),
        (update(name=group["name"]), "no valid name, description, add_volumes"),
        (update(color="blue"), "Additional properties are not allowed"),
        (api.put(f"/groups/{group['id']}", json={"group": {}}, headers=mv()), "is not valid"),
    ]  # fmt: skip
    for resp, words in cases:
        assert words in api.assert_fault(resp, 400)
    # A volume of one of the group's types, but on another backend, is not local to it.
    refused = api.put(
        f"/groups/{pinned_group['id']}",
        headers=mv(),
        json={"group": {"add_volumes": stranger["id"]}},
    )
    assert api.assert_fault(refused, 400) == "Invalid volume: Volume is not local to this node."
    assert members_of(api, pinned_group["id"]) == []
    group_action(api, group["id"], {"reset_status": {"status": "error"}}, "3.20")
    not_available = update(remove_volumes=inside["id"])
    assert "Group status must be available." in api.assert_fault(not_available, 400)
    group_action(api, group["id"], {"reset_status": {"status": "available"}}, "3.20")
    assert state(api)["volumes"] == before["volumes"]
    assert [v["id"] for v in members_of(api, group["id"])] == [inside["id"]]


def test_a_member_is_not_deleted_or_retyped_alone(api, setup):
    group, vt, other_vt = setup["group"], setup["vt"], setup["other_vt"]
    vol = member(api, group, vt)
    before = state(api)
    assert "belong to a group" in api.assert_fault(api.delete(f"/volumes/{vol['id']}"), 400)
    forced = api.post(f"/volumes/{vol['id']}/action", json={"os-force_delete": {}})
    assert "belong to a group" in api.assert_fault(forced, 400)
    retype = api.post(
        f"/volumes/{vol['id']}/action", json={"os-retype": {"new_type": other_vt["id"]}}
    )
    assert "Retype needs volume" in api.assert_fault(retype, 400)
    assert state(api) == before
    assert api.get(f"/volumes/{vol['id']}").json()["volume"]["volume_type"] == vt["name"]


def test_group_delete_rules(service, api, setup):
    group, vt = setup["group"], setup["vt"]
    vol = member(api, group, vt)
    before = state(api)
    keep = group_action(api, group["id"], {"delete": {"delete-volumes": False}})
    assert "still contains volumes. The delete-volumes flag is required" in api.assert_fault(
        keep, 400)  # fmt: skip
    snap = create_snapshot(api, vol["id"])
    with_snapshot = group_action(api, group["id"], {"delete": {"delete-volumes": True}})
    assert "Volume in group still has dependent snapshots." in api.assert_fault(
        with_snapshot, 400)  # fmt: skip
    api.assert_fault(group_action(api, group["id"], {"delete": {"delete-volumes": "maybe"}}),
                     400)  # fmt: skip
    api.assert_fault(group_action(api, group["id"], {"explode": {}}), 400)
    assert show_group(api, group["id"])["status"] == "available"
    after = state(api)
    assert after["volumes"] == before["volumes"] and after["groups"] == before["groups"]
    api.delete(f"/snapshots/{snap['id']}")
    api.wait_for(lambda: api.get(f"/snapshots/{snap['id']}").status_code == 404, "snapshot gone")
    path = service.find_volume_file(vol["id"])
    assert path is not None
    delete_group(api, group["id"], delete_volumes=True)
    api.wait_for_gone(vol["id"])
    assert not path.exists()
    assert quota_usage(api)["volumes"]["in_use"] == 0


def test_a_group_no_backend_fits_goes_to_error_with_a_message(api):
    split = [volume_type(api, backend="file-1"), volume_type(api, backend="file-2")]
    group = create_group(api, group_type(api), split, wait="error")
    (message,) = messages_for(api, group["id"])
    assert message["resource_type"] == "GROUP"
    assert "No backend fits every volume type of the group" in message["user_message"]
    assert "file-1" in message["user_message"] and "file-2" in message["user_message"]
    unsatisfiable = group_type(api, consistent_group_snapshot_enabled="<is> True")
    other = create_group(api, unsatisfiable, [volume_type(api)], wait="error")
    (message,) = messages_for(api, other["id"])
    assert "consistent_group_snapshot_enabled" in message["user_message"]
    # A group in error without a backend goes at once, with its quota.
    for failed in (group, other):
        delete_group(api, failed["id"], delete_volumes=False)
    assert quota_usage(api)["groups"]["in_use"] == 0


def test_volumes_created_in_a_group_follow_it(api, setup):
    group, vt = setup["group"], setup["vt"]
    vols = [member(api, group, vt) for _ in range(2)]
    hosts = {api.get(f"/volumes/{v['id']}", headers=mv("3.71")).json()["volume"][
        "os-vol-host-attr:host"].split("#")[0] for v in vols}  # fmt: skip
    assert len(hosts) == 1
    shown = wait_group(api, group["id"])
    assert {v["availability_zone"] for v in vols} == {shown["availability_zone"]}
    delete_group(api, group["id"])
