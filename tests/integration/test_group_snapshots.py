"""Group snapshots (3.14) and groups made from a source: the data each member holds,
Tempest's schemas, the clients, Cinder's 4xx with nothing changed, and failures that
leave every member coherent."""

from __future__ import annotations

import time
from typing import Any

import pytest
from group_helpers import (
    create_from_src,
    create_group,
    create_group_snapshot,
    delete_group,
    group_events,
    group_type,
    member,
    member_snapshots,
    members_of,
    mv,
    show_group_snapshot,
    volume_type,
    wait_group,
    wait_group_snapshot,
    wait_group_snapshot_gone,
)
from lifecycle_helpers import (
    FAR,
    cinder_for,
    messages_for,
    pwrite_pattern,
    quota_usage,
    raw_holds,
    sdk_for,
)

DETAIL_KEYS = {"id", "group_id", "group_type_id", "status", "created_at", "name",
               "description"}  # fmt: skip


def snapshot_files(service: Any) -> list[str]:
    return [p.name for b in service.backends.values() if b.volume_dir.is_dir()
            for p in b.volume_dir.iterdir() if p.name.startswith("snapshot-")]  # fmt: skip


@pytest.fixture
def group3(api: Any) -> dict[str, Any]:
    """An available group of two volume types with three members."""
    gt, vt1, vt2 = group_type(api), volume_type(api), volume_type(api)
    group = create_group(api, gt, [vt1, vt2])
    vols = [member(api, group, vt1), member(api, group, vt2), member(api, group, vt1, size=2)]
    return {"group": group, "gt": gt, "types": [vt1, vt2], "volumes": vols}


def test_group_snapshot_lifecycle_over_http(service, api, group3, tempest_schemas):
    group, vols = group3["group"], group3["volumes"]
    created = api.post(
        "/group_snapshots",
        headers=mv("3.14"),
        json={"group_snapshot": {"group_id": group["id"], "name": "gs1", "description": "all"}},
    )
    tempest_schemas.check("group_snapshots.create_group_snapshot", created)
    assert set(created.json()["group_snapshot"]) == {"id", "name", "group_type_id"}
    gs_id = created.json()["group_snapshot"]["id"]
    shown = wait_group_snapshot(api, gs_id)
    tempest_schemas.check(
        "group_snapshots.show_group_snapshot",
        api.get(f"/group_snapshots/{gs_id}", headers=mv("3.14")),
    )
    assert set(shown) == DETAIL_KEYS
    assert (shown["group_id"], shown["group_type_id"]) == (group["id"], group3["gt"]["id"])
    admin = api.get(f"/group_snapshots/{gs_id}", headers=mv("3.58")).json()["group_snapshot"]
    assert set(admin) == DETAIL_KEYS | {"project_id"}

    snaps = member_snapshots(api, gs_id)
    assert sorted(s["volume_id"] for s in snaps) == sorted(v["id"] for v in vols)
    assert {s["status"] for s in snaps} == {"available"}
    assert {s["name"] for s in snaps} == {"gs1"}
    assert (
        "group_snapshot_id"
        not in api.get(f"/snapshots/{snaps[0]['id']}", headers=mv("3.13")).json()["snapshot"]
    )
    assert quota_usage(api)["snapshots"]["in_use"] == 3
    assert quota_usage(api)["gigabytes"]["in_use"] == 2 * (1 + 1 + 2)

    summary = api.get("/group_snapshots", headers=mv("3.14"))
    tempest_schemas.check("group_snapshots.list_group_snapshots_no_detail", summary)
    assert summary.json()["group_snapshots"] == [{"id": gs_id, "name": "gs1"}]
    detail = api.get("/group_snapshots/detail", headers=mv("3.14"))
    tempest_schemas.check("group_snapshots.list_group_snapshots_with_detail", detail)
    paged = api.get(
        "/group_snapshots", params={"limit": 1, "status": "available"}, headers=mv("3.29")
    ).json()
    assert [s["id"] for s in paged["group_snapshots"]] == [gs_id]
    assert "group_snapshot_links" in paged

    for status in ("creating", "available", "error"):
        reset = api.post(
            f"/group_snapshots/{gs_id}/action",
            headers=mv("3.19"),
            json={"reset_status": {"status": status}},
        )
        tempest_schemas.check("group_snapshots.reset_group_snapshot_status", reset)
        assert show_group_snapshot(api, gs_id)["status"] == status
    api.assert_fault(
        api.post(
            f"/group_snapshots/{gs_id}/action",
            headers=mv("3.19"),
            json={"reset_status": {"status": "in-use"}},
        ),
        400,
    )
    api.assert_fault(
        api.post(
            f"/group_snapshots/{gs_id}/action",
            headers=mv("3.18"),
            json={"reset_status": {"status": "available"}},
        ),
        404,
    )

    files = [
        service.backends[b].volume_dir / f"snapshot-{s['id']}"
        for s in snaps
        for b in service.backends
        if (service.backends[b].volume_dir / f"snapshot-{s['id']}").exists()
    ]
    assert len(files) == 3
    deleted = api.delete(f"/group_snapshots/{gs_id}", headers=mv("3.14"))
    tempest_schemas.check("group_snapshots.delete_group_snapshot", deleted)
    wait_group_snapshot_gone(api, gs_id)
    assert member_snapshots(api, gs_id) == [] and not any(f.exists() for f in files)
    assert quota_usage(api)["snapshots"]["in_use"] == 0

    notes = service.notifications()
    for event in (
        "group_snapshot.create.start",
        "group_snapshot.create.end",
        "group_snapshot.delete.start",
        "group_snapshot.delete.end",
    ):
        (note,) = group_events(notes, event, group_snapshot_id=gs_id)
        assert note["publisher_id"].startswith("group_snapshot.itest@file-")
        assert set(note["payload"]) == {
            "tenant_id",
            "user_id",
            "group_snapshot_id",
            "name",
            "group_id",
            "group_type",
            "created_at",
            "status",
        }
    for snap in snaps:
        assert group_events(notes, "snapshot.create.end", snapshot_id=snap["id"])
        assert group_events(notes, "snapshot.delete.end", snapshot_id=snap["id"])
    delete_group(api, group["id"])


def test_a_group_snapshot_holds_every_members_data(service, api, group3):
    group, vols = group3["group"], group3["volumes"]
    paths = [service.find_volume_file(v["id"]) for v in vols]
    for i, path in enumerate(paths):
        pwrite_pattern(path, 0x10 + i)
        pwrite_pattern(path, 0x20 + i, offset=FAR)
    gs = create_group_snapshot(api, group["id"])
    for i, path in enumerate(paths):
        pwrite_pattern(path, 0x60 + i)
        pwrite_pattern(path, 0x70 + i, offset=FAR)

    from_snapshot = create_from_src(api, group_snapshot_id=gs["id"], name="from-gs")
    assert (from_snapshot["group_snapshot_id"], from_snapshot["source_group_id"]) == (
        gs["id"],
        None,
    )
    assert from_snapshot["group_type"] == group["group_type"]
    assert from_snapshot["volume_types"] == group["volume_types"]
    copies = members_of(api, from_snapshot["id"])
    by_source = {s["id"]: s["volume_id"] for s in member_snapshots(api, gs["id"])}
    assert len(copies) == 3 and {c["status"] for c in copies} == {"available"}
    for copy in copies:
        index = [v["id"] for v in vols].index(by_source[copy["snapshot_id"]])
        path = service.find_volume_file(copy["id"])
        assert raw_holds(path, 0x10 + index) and raw_holds(path, 0x20 + index, offset=FAR)
        assert copy["size"] == vols[index]["size"]
        assert copy["volume_type"] == vols[index]["volume_type"]

    from_group = create_from_src(api, source_group_id=group["id"], name="clone")
    clones = members_of(api, from_group["id"])
    assert {c["source_volid"] for c in clones} == {v["id"] for v in vols}
    for clone in clones:
        index = [v["id"] for v in vols].index(clone["source_volid"])
        path = service.find_volume_file(clone["id"])
        assert raw_holds(path, 0x60 + index) and raw_holds(path, 0x70 + index, offset=FAR)
    backends = {c["os-vol-host-attr:host"].split("#")[0] for c in copies + clones}
    assert len(backends) == 1  # every copy on its source group's backend
    notes = service.notifications()
    assert group_events(notes, "group.create.end", group_id=from_snapshot["id"])
    assert group_events(notes, "group.create.end", group_id=from_group["id"])

    refused = api.post(
        f"/groups/{group['id']}/action", headers=mv(), json={"delete": {"delete-volumes": True}}
    )
    assert "Group has existing snapshots." in api.assert_fault(refused, 400)
    one = member_snapshots(api, gs["id"])[0]
    alone = api.delete(f"/snapshots/{one['id']}")
    assert "must not be part of a group" in api.assert_fault(alone, 400)
    for copy_group in (from_snapshot, from_group):
        delete_group(api, copy_group["id"])
    api.delete(f"/group_snapshots/{gs['id']}", headers=mv())
    wait_group_snapshot_gone(api, gs["id"])
    delete_group(api, group["id"])


def test_bad_group_snapshot_requests_change_nothing(api, group3):
    group = group3["group"]
    gs = create_group_snapshot(api, group["id"])

    def counts() -> tuple[int, int, int]:
        return (len(api.get("/group_snapshots", headers=mv()).json()["group_snapshots"]),
                len(api.get("/snapshots").json()["snapshots"]),
                len(api.get("/groups", headers=mv()).json()["groups"]))  # fmt: skip

    before = counts()

    def post(body: Any, version: str = "3.14") -> Any:
        return api.post("/group_snapshots", json=body, headers=mv(version))

    api.assert_fault(post({"group_snapshot": {"group_id": "3f2a8a52-32c9-4b3c-9bb1-2f1e2d7c7f10"}}),
                     404)  # fmt: skip
    api.assert_fault(post({"group_snapshot": {"group_id": "not-a-uuid"}}), 400)
    api.assert_fault(post({"group_snapshot": {"name": "x"}}), 400)
    api.assert_fault(post({"group_snapshot": {"group_id": group["id"]}}, "3.13"), 404)
    api.post(
        f"/groups/{group['id']}/action",
        headers=mv("3.20"),
        json={"reset_status": {"status": "error"}},
    )
    in_error = post({"group_snapshot": {"group_id": group["id"]}})
    assert "status must be available" in api.assert_fault(in_error, 400)
    api.post(
        f"/groups/{group['id']}/action",
        headers=mv("3.20"),
        json={"reset_status": {"status": "available"}},
    )
    broken = group3["volumes"][0]
    api.post(f"/volumes/{broken['id']}/action", json={"os-reset_status": {"status": "error"}})
    volume_in_error = post({"group_snapshot": {"group_id": group["id"]}})
    assert "when the volume is in error status" in api.assert_fault(volume_in_error, 400)
    api.post(f"/volumes/{broken['id']}/action", json={"os-reset_status": {"status": "available"}})
    api.put(f"/os-quota-sets/{api.project}", json={"quota_set": {"snapshots": 4}})
    over = post({"group_snapshot": {"group_id": group["id"]}})
    assert "SnapshotLimitExceeded" in api.assert_fault(over, 413)

    def src(body: Any) -> Any:
        return api.post("/groups/action", json=body, headers=mv())

    api.assert_fault(src({"create-from-src": {"name": "x"}}), 400)
    both = {"group_snapshot_id": gs["id"], "source_group_id": group["id"]}
    api.assert_fault(src({"create-from-src": both}), 400)
    # What openstacksdk and the openstack CLI send: Cinder's schema refuses the null id.
    api.assert_fault(
        src({"create-from-src": {"group_snapshot_id": gs["id"], "source_group_id": None}}), 400
    )
    api.assert_fault(
        src({"create-from-src": {"group_snapshot_id": "3f2a8a52-32c9-4b3c-9bb1-2f1e2d7c7f10"}}), 404
    )
    api.assert_fault(
        api.post(
            "/groups/action",
            headers=mv("3.13"),
            json={"create-from-src": {"source_group_id": group["id"]}},
        ),
        404,
    )
    empty = create_group(api, group3["gt"], group3["types"])
    assert "Source Group is empty" in api.assert_fault(
        src({"create-from-src": {"source_group_id": empty["id"]}}), 400
    )
    empty_gs = create_group_snapshot(api, empty["id"])
    assert "Group snapshot is empty" in api.assert_fault(
        src({"create-from-src": {"group_snapshot_id": empty_gs["id"]}}), 400
    )
    api.assert_fault(api.delete(f"/group_snapshots/{gs['id']}", headers=mv("3.13")), 404)
    assert counts() == (before[0] + 1, before[1], before[2] + 1)
    for item in (gs, empty_gs):
        api.delete(f"/group_snapshots/{item['id']}", headers=mv())
        wait_group_snapshot_gone(api, item["id"])
    delete_group(api, empty["id"])
    delete_group(api, group["id"])


def test_a_failed_member_leaves_the_group_snapshot_coherent(service, api, group3):
    group, vols = group3["group"], group3["volumes"]
    lost = service.find_volume_file(vols[1]["id"])
    lost.rename(lost.with_name("moved-away"))
    gs = create_group_snapshot(api, group["id"], wait="error")
    snaps = {s["volume_id"]: s for s in member_snapshots(api, gs["id"])}
    assert len(set(snapshot_files(service)) & {f"snapshot-{s['id']}" for s in snaps.values()}) == 2
    assert snaps[vols[1]["id"]]["status"] == "error"
    assert {snaps[v["id"]]["status"] for v in (vols[0], vols[2])} == {"available"}
    (message,) = messages_for(api, gs["id"])
    assert message["resource_type"] == "GROUP_SNAPSHOT"
    assert "create group snapshot" in message["user_message"]
    assert vols[1]["id"] in message["user_message"] or snaps[vols[1]["id"]]["id"] in message[
        "user_message"]  # fmt: skip
    # Error is a state a group snapshot may be deleted from: every member goes with it.
    api.delete(f"/group_snapshots/{gs['id']}", headers=mv())
    wait_group_snapshot_gone(api, gs["id"])
    assert member_snapshots(api, gs["id"]) == []
    assert not set(snapshot_files(service)) & {f"snapshot-{s['id']}" for s in snaps.values()}
    lost.with_name("moved-away").rename(lost)

    # A copy that fails leaves its group in error, the volume in error, the others made.
    lost.rename(lost.with_name("moved-away"))
    clone = create_from_src(api, source_group_id=group["id"], wait="error")
    copies = {c["source_volid"]: c for c in members_of(api, clone["id"])}
    assert copies[vols[1]["id"]]["status"] == "error"
    assert {copies[v["id"]]["status"] for v in (vols[0], vols[2])} == {"available"}
    assert "create group" in messages_for(api, clone["id"])[0]["user_message"]
    lost.with_name("moved-away").rename(lost)
    delete_group(api, clone["id"])
    delete_group(api, group["id"])
    assert quota_usage(api)["volumes"]["in_use"] == 0


def test_cinderclient_group_snapshots(service, project, api, group3):
    cinder = cinder_for(service, project, "3.19")
    group = group3["group"]
    created = cinder.group_snapshots.create(group["id"], name="cc-gs", description="cc")
    wait_group_snapshot(api, created.id)
    fetched = cinder.group_snapshots.get(created.id)
    assert (fetched.name, fetched.group_id, fetched.status) == ("cc-gs", group["id"], "available")
    assert [s.id for s in cinder.group_snapshots.list()] == [created.id]
    copy = cinder.groups.create_from_src(created.id, None, name="cc-copy")
    wait_group(api, copy["id"])
    assert len(members_of(api, copy["id"])) == 3
    cinder.group_snapshots.reset_state(created, "error")
    assert cinder.group_snapshots.get(created.id).status == "error"
    delete_group(api, copy["id"])
    cinder.group_snapshots.delete(created)
    wait_group_snapshot_gone(api, created.id)
    delete_group(api, group["id"])


def test_openstacksdk_group_snapshots(service, project, api, group3):
    sdk = sdk_for(service, project)
    try:
        group = group3["group"]
        created = sdk.block_storage.create_group_snapshot(group_id=group["id"], name="sdk-gs")
        wait_group_snapshot(api, created.id)
        fetched = sdk.block_storage.get_group_snapshot(created.id)
        assert (fetched.name, fetched.status) == ("sdk-gs", "available")
        assert [s.id for s in sdk.block_storage.group_snapshots()] == [created.id]
        sdk.block_storage.reset_group_snapshot_status(created, "error")
        assert show_group_snapshot(api, created.id)["status"] == "error"
        sdk.block_storage.delete_group_snapshot(created)
        deadline = time.monotonic() + 30
        while any(s.id == created.id for s in sdk.block_storage.group_snapshots()):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        delete_group(api, group["id"])
    finally:
        sdk.close()
