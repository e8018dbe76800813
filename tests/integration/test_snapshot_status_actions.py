"""Snapshot actions: ``os-update_snapshot_status`` (Cinder's transitions), ``os-reset_status``
(any of Cinder's snapshot statuses, with its notifications) and ``os-force_delete`` from
any status, the way Tempest's ``admin/test_snapshots_actions.py`` drives them.
"""

from __future__ import annotations

import uuid

import pytest

pytest.register_assert_rewrite("lifecycle_helpers")

from harness import Service, VolumeApi  # noqa: E402
from lifecycle_helpers import (  # noqa: E402
    create_snapshot,
    quota_usage,
    reset_snapshot,
    wait_event,
    wait_snapshot,
    wait_snapshot_gone,
)
from tempest_schemas import TempestSchemas  # noqa: E402

UPDATE = "os-update_snapshot_status"


def action(api: VolumeApi, snapshot_id: str, name: str, body: object) -> object:
    return api.post(f"/snapshots/{snapshot_id}/action", json={name: body})


def test_update_snapshot_status_follows_cinders_transitions(
    service: Service, api: VolumeApi, tempest_schemas: TempestSchemas
) -> None:
    vol = api.create_volume()
    snap = create_snapshot(api, vol["id"])
    # available is not a status a driver reports on.
    refused = action(api, snap["id"], UPDATE, {"status": "error"})
    assert "not allowed for update_snapshot_status" in api.assert_fault(refused, 400)

    reset_snapshot(api, snap["id"], "creating")
    resp = action(api, snap["id"], UPDATE, {"status": "error", "progress": "80%"})
    assert resp.status_code == 202, resp.text
    tempest_schemas.check("snapshots.update_snapshot_status", resp)
    shown = api.get(f"/snapshots/{snap['id']}").json()["snapshot"]
    assert (shown["status"], shown["os-extended-snapshot-attributes:progress"]) == ("error", "80%")

    reset_snapshot(api, snap["id"], "creating")
    for body, why in [
        ({"status": "deleting"}, "not allowed for snapshot with status creating"),
        ({"status": "available", "progress": "101%"}, "between 0 and 100"),
        ({"status": "available", "progress": "half"}, "integer percentage"),
        ({"status": "available", "progress": 50}, "integer percentage"),
        ({"status": "available", "extra": 1}, "Additional properties"),
        ({"progress": "10%"}, "'status' is a required property"),
        ({"status": 3}, "status"),
        ("available", "'status' is a required property"),
    ]:
        assert why in api.assert_fault(action(api, snap["id"], UPDATE, body), 400), body
    assert api.get(f"/snapshots/{snap['id']}").json()["snapshot"]["status"] == "creating"
    assert action(api, snap["id"], UPDATE, {"status": "available"}).status_code == 202
    reset_snapshot(api, snap["id"], "deleting")
    assert action(api, snap["id"], UPDATE, {"status": "error_deleting"}).status_code == 202
    api.assert_fault(action(api, str(uuid.uuid4()), UPDATE, {"status": "error"}), 404)

    reset_snapshot(api, snap["id"], "available")
    api.delete(f"/snapshots/{snap['id']}")
    wait_snapshot_gone(api, snap["id"])


def test_reset_status_takes_cinders_statuses_and_notifies(
    service: Service, api: VolumeApi, tempest_schemas: TempestSchemas
) -> None:
    vol = api.create_volume()
    snap = create_snapshot(api, vol["id"])
    for status in ("error", "creating", "deleting", "error_deleting", "updating",
                   "backing-up", "restoring", "unmanaging", "AVAILABLE"):  # fmt: skip
        resp = action(api, snap["id"], "os-reset_status", {"status": status})
        assert resp.status_code == 202, (status, resp.text)
        tempest_schemas.check("snapshots.reset_snapshot_status", resp)
        shown = api.get(f"/snapshots/{snap['id']}").json()["snapshot"]["status"]
        assert shown == status.lower()
    for bad in ("in-use", "", "nonsense"):
        message = api.assert_fault(action(api, snap["id"], "os-reset_status", {"status": bad}),
                                   400)  # fmt: skip
        assert "valid statuses are" in message
    end = wait_event(service, "snapshot.reset_status.end", snapshot_id=snap["id"])
    assert end["payload"]["status"] == "available"
    api.delete(f"/snapshots/{snap['id']}")
    wait_snapshot_gone(api, snap["id"])


@pytest.mark.parametrize("status", ["creating", "deleting", "error", "error_deleting"])
def test_force_delete_works_from_any_status(
    service: Service, api: VolumeApi, tempest_schemas: TempestSchemas, status: str
) -> None:
    vol = api.create_volume()
    snap = create_snapshot(api, vol["id"])
    before = quota_usage(api)["snapshots"]["in_use"]
    reset_snapshot(api, snap["id"], status)
    wait_snapshot(api, snap["id"], status)
    resp = action(api, snap["id"], "os-force_delete", {})
    assert resp.status_code == 202, resp.text
    tempest_schemas.check("snapshots.force_delete_snapshot", resp)
    wait_snapshot_gone(api, snap["id"])
    assert quota_usage(api)["snapshots"]["in_use"] == before - 1
    path = service.backends.values()
    assert not any((b.volume_dir / f"snapshot-{snap['id']}").exists() for b in path)
    api.delete_volume(vol["id"])  # no snapshot left behind
