"""What a transfer refuses, with Cinder's 4xx, and the nothing each refusal changes: bad
bodies, volumes that are not ``available``, a second offer, a wrong key, a taker over its
quota; and what a volume ``awaiting-transfer`` refuses until the offer is taken or
withdrawn."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from harness import Service, VolumeApi, new_project
from lifecycle_helpers import create_snapshot, create_type, reset_snapshot, reset_volume
from transfer_helpers import (
    CURRENT,
    LEGACY,
    accept,
    create,
    ownership,
    set_limits,
    transfer_ids,
    usage_of,
)

MISSING = str(uuid.uuid4())


@pytest.fixture
def taker(service: Service) -> Iterator[VolumeApi]:
    with service.client(new_project(), user="taker") as client:
        yield client


def _state(api: VolumeApi, volume_id: str, snapshots: list[str], *projects: str) -> Any:
    """Everything a refused request must leave as it was."""
    return (
        ownership(api, volume_id, snapshots),
        [usage_of(api, p) for p in projects],
        sorted(transfer_ids(api, CURRENT, all_tenants="1", volume_id=volume_id)),
    )


BAD_CREATES = [
    (LEGACY, "3.0", {}, "'transfer' is a required property"),
    (LEGACY, "3.0", [], "[] is not of type 'object'"),
    (LEGACY, "3.0", {"transfer": {}}, "'volume_id' is a required property"),
    (LEGACY, "3.0", {"transfer": {"volume_id": "nope"}}, "'nope' is not a 'uuid'"),
    (LEGACY, "3.0", {"transfer": {"volume_id": 7}}, "7 is not of type 'string'"),
    (LEGACY, "3.0", {"transfer": "x"}, "is not of type 'object'"),
    (LEGACY, "3.0", {"transfer": {"name": "x"}, "x": 1}, "Additional properties"),
    (LEGACY, "3.0", "VOL", "Additional properties are not allowed ('color' was unexpected)"),
    (LEGACY, "3.71", "VOL", "('no_snapshots' was unexpected)"),
    (CURRENT, "3.54", "VOL", "('no_snapshots' was unexpected)"),
    (CURRENT, "3.55", "VOL", "'perhaps' is not one of"),
    (CURRENT, "3.0", "VOL", "is not valid under any of the given schemas"),
    (CURRENT, "3.57", "VOL", "is not valid under any of the given schemas"),
]
EXTRAS = {
    (LEGACY, "3.0"): {"color": "red"},
    (LEGACY, "3.71"): {"no_snapshots": True},
    (CURRENT, "3.54"): {"no_snapshots": True},
    (CURRENT, "3.55"): {"no_snapshots": "perhaps"},
    (CURRENT, "3.0"): {"name": "   "},
    (CURRENT, "3.57"): {"name": "n" * 256},
}


@pytest.mark.parametrize(("collection", "version", "body", "words"), BAD_CREATES)
def test_bad_create_bodies_are_400(
    api: VolumeApi, collection: str, version: str, body: Any, words: str
) -> None:
    vol = api.create_volume(1)
    if body == "VOL":
        body = {"transfer": {"volume_id": vol["id"], **EXTRAS[(collection, version)]}}
    resp = api.post(collection, json=body, headers=api.mv(version))
    assert words in VolumeApi.assert_fault(resp, 400)
    assert _state(api, vol["id"], [], api.project) == (
        {"volume": ("available", api.project, "tester")},
        [usage_of(api, api.project)],
        [],
    )


def test_bad_accept_bodies_are_400_and_unknown_ids_404(api: VolumeApi, taker: VolumeApi) -> None:
    vol = api.create_volume(1)
    made = create(api, vol["id"])
    before = _state(api, vol["id"], [], api.project, taker.project)
    url = f"{LEGACY}/{made['id']}/accept"
    for body in ({}, {"accept": {}}, {"accept": {"auth_key": None}}, {"accept": "k"},
                 {"accept": {"auth_key": True}},
                 {"accept": {"auth_key": made["auth_key"], "x": 1}}):  # fmt: skip
        message = VolumeApi.assert_fault(taker.post(url, json=body), 400)
        assert made["auth_key"] not in message
        assert message.startswith(("Invalid input for field/attribute", "'accept' is")), message
    for wrong in ("0" * 16, made["auth_key"].upper(), made["auth_key"][:-1], 1234, ""):
        message = VolumeApi.assert_fault(accept(taker, made["id"], wrong), 400)
        assert message == (
            f"Invalid auth key: Attempt to transfer {made['id']} with invalid auth key."
        )
    VolumeApi.assert_fault(accept(taker, MISSING, made["auth_key"]), 404)
    message = VolumeApi.assert_fault(taker.get(f"{CURRENT}/{MISSING}"), 404)
    assert message == f"Transfer {MISSING} could not be found."
    VolumeApi.assert_fault(taker.delete(f"{LEGACY}/{MISSING}"), 404)
    assert _state(api, vol["id"], [], api.project, taker.project) == before
    assert accept(taker, made["id"], made["auth_key"]).status_code == 202


def test_only_an_available_volume_with_available_snapshots_is_offered(api: VolumeApi) -> None:
    VolumeApi.assert_fault(api.post(LEGACY, json={"transfer": {"volume_id": MISSING}}), 404)
    vol = api.create_volume(1)
    snap = create_snapshot(api, vol["id"])["id"]

    def refused(collection: str = LEGACY, version: str = "3.0", **fields: Any) -> str:
        before = _state(api, vol["id"], [snap], api.project)
        resp = api.post(collection, json={"transfer": {"volume_id": vol["id"], **fields}},
                        headers=api.mv(version))  # fmt: skip
        message = VolumeApi.assert_fault(resp, 400)
        assert _state(api, vol["id"], [snap], api.project) == before
        return message

    for status in ("error", "maintenance", "extending", "detaching"):
        reset_volume(api, vol["id"], status)
        assert refused() == "Invalid volume: status must be available"
    reset_volume(api, vol["id"], "available")
    # Attached (here: reserved for an instance).
    resp = api.post("/attachments", json={"attachment": {"volume_uuid": vol["id"],
                    "instance_uuid": str(uuid.uuid4())}}, headers=api.mv("3.27"))  # fmt: skip
    assert resp.status_code == 200, resp.text
    assert refused() == "Invalid volume: status must be available"
    gone = api.delete(f"/attachments/{resp.json()['attachment']['id']}", headers=api.mv("3.27"))
    assert gone.status_code == 200, gone.text
    api.wait_for_volume(vol["id"], "available")
    resp = api.post(f"/volumes/{vol['id']}/action",
                    json={"os-reset_status": {"migration_status": "migrating"}})  # fmt: skip
    assert resp.status_code == 202, resp.text
    assert refused() == f"Invalid volume: Volume {vol['id']} is being migrated."
    resp = api.post(f"/volumes/{vol['id']}/action",
                    json={"os-reset_status": {"migration_status": None}})  # fmt: skip
    assert resp.status_code == 202, resp.text

    reset_snapshot(api, snap, "error")
    assert refused() == f"Invalid snapshot: snapshot: {snap} status must be available"
    # Without its snapshots the volume may go.
    made = create(api, vol["id"], version="3.55", collection=CURRENT, no_snapshots=True)
    # A second offer of the same volume.
    assert refused() == "Invalid volume: status must be available"
    assert transfer_ids(api, CURRENT) == [made["id"]]


def test_wrong_key_and_over_quota_accepts_move_nothing(
    service: Service, api: VolumeApi, taker: VolumeApi
) -> None:
    gold = create_type(api)["name"]
    vol = api.create_volume(2, volume_type=gold)
    snap = create_snapshot(api, vol["id"])["id"]
    made = create(api, vol["id"], version="3.57", collection=CURRENT)
    before = _state(api, vol["id"], [snap], api.project, taker.project)
    VolumeApi.assert_fault(accept(taker, made["id"], "0" * 16), 400)
    assert _state(api, vol["id"], [snap], api.project, taker.project) == before

    # Each limit of the taker's that the volume or its snapshot would pass: Cinder's 413.
    taker_volume = {"per_volume_gigabytes": 1, "volumes": 0, "gigabytes": 3,
                    f"volumes_{gold}": 0, f"gigabytes_{gold}": 2}  # fmt: skip
    taker_snapshot = {"snapshots": 0, f"snapshots_{gold}": 0}
    expected = {
        "per_volume_gigabytes": "VolumeSizeExceedsLimit: Requested volume size 2G is larger "
                                "than maximum allowed limit 1G.",
        "volumes": "VolumeLimitExceeded: Maximum number of volumes allowed (0) exceeded for "
                   "quota 'volumes'.",
        "gigabytes": "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds "
                     "allowed gigabytes quota. Requested 2G, quota is 3G and 2G has been "
                     "consumed.",
        f"volumes_{gold}": f"Maximum number of volumes allowed (0) exceeded for quota "
                           f"'volumes_{gold}'.",
        f"gigabytes_{gold}": f"allowed gigabytes_{gold} quota. Requested 2G, quota is 2G and "
                             "2G has been consumed.",
        "snapshots": "SnapshotLimitExceeded: Maximum number of snapshots allowed (0) exceeded",
        f"snapshots_{gold}": "Maximum number of snapshots allowed (0) exceeded",
    }  # fmt: skip
    for resource, limit in {**taker_volume, **taker_snapshot}.items():
        set_limits(api, taker.project, **{resource: limit})
        resp = accept(taker, made["id"], made["auth_key"], collection=CURRENT)
        message = VolumeApi.assert_fault(resp, 413)
        assert expected[resource] in message, (resource, message)
        assert resp.headers["retry-after"] == "0"
        assert _state(api, vol["id"], [snap], api.project, taker.project) == before
        set_limits(api, taker.project, **{resource: -1})
    resp = accept(taker, made["id"], made["auth_key"], collection=CURRENT)
    assert resp.status_code == 202, resp.text
    assert ownership(api, vol["id"], [snap])["volume"] == ("available", taker.project, "taker")


def test_accept_refuses_what_changed_under_the_offer(api: VolumeApi, taker: VolumeApi) -> None:
    vol = api.create_volume(1)
    snap = create_snapshot(api, vol["id"])["id"]
    made = create(api, vol["id"])
    reset_snapshot(api, snap, "error")
    before = _state(api, vol["id"], [snap], api.project, taker.project)
    message = VolumeApi.assert_fault(accept(taker, made["id"], made["auth_key"]), 400)
    assert message == (
        f"Invalid snapshot: Transfer {made['id']}: Snapshot {snap} is not in the expected "
        "available state."
    )
    assert _state(api, vol["id"], [snap], api.project, taker.project) == before
    reset_snapshot(api, snap, "available")
    reset_volume(api, vol["id"], "error")
    message = VolumeApi.assert_fault(accept(taker, made["id"], made["auth_key"]), 400)
    assert message == (
        f"Invalid volume: Transfer {made['id']}: Volume id {vol['id']} expected in "
        "awaiting-transfer state."
    )
    reset_volume(api, vol["id"], "maintenance")
    message = VolumeApi.assert_fault(accept(taker, made["id"], made["auth_key"]), 400)
    assert message == "Invalid volume: The volume cannot accept transfer in maintenance mode."
    # Withdrawing the offer retires it and leaves such a volume as it is, as Cinder does.
    assert api.delete(f"{LEGACY}/{made['id']}").status_code == 202
    assert ownership(api, vol["id"], [])["volume"] == ("maintenance", api.project, "tester")
    assert transfer_ids(api) == []


def test_a_new_offer_retires_one_an_admin_reset_left_behind(
    api: VolumeApi, taker: VolumeApi
) -> None:
    vol = api.create_volume(1)
    old = create(api, vol["id"])
    reset_volume(api, vol["id"], "available")
    new = create(api, vol["id"])
    assert transfer_ids(api) == [new["id"]]
    VolumeApi.assert_fault(accept(taker, old["id"], old["auth_key"]), 404)
    assert ownership(api, vol["id"], [])["volume"] == ("awaiting-transfer", api.project, "tester")
    assert accept(taker, new["id"], new["auth_key"]).status_code == 202


def test_a_volume_awaiting_transfer_refuses_changes(api: VolumeApi) -> None:
    vol = api.create_volume(1)
    vid = vol["id"]
    other_type = create_type(api)["name"]
    made = create(api, vid)
    attempts = [
        ("DELETE", f"/volumes/{vid}", None, "3.0", 400),
        ("POST", f"/volumes/{vid}/action", {"os-extend": {"new_size": 2}}, "3.0", 400),
        ("POST", f"/volumes/{vid}/action", {"os-retype": {"new_type": other_type}},
         "3.0", 400),
        ("POST", f"/volumes/{vid}/action", {"os-update_readonly_flag": {"readonly": True}},
         "3.0", 400),
        ("POST", f"/volumes/{vid}/action", {"os-reserve": {}}, "3.0", 400),
        ("POST", "/snapshots", {"snapshot": {"volume_id": vid, "force": True}}, "3.0", 400),
        ("POST", "/snapshots", {"snapshot": {"volume_id": vid}}, "3.71", 400),
        ("POST", "/volumes", {"volume": {"size": 1, "source_volid": vid}}, "3.0", 400),
        ("POST", "/attachments", {"attachment": {"volume_uuid": vid}}, "3.27", 400),
    ]  # fmt: skip
    for method, url, body, version, code in attempts:
        before = _state(api, vid, [], api.project)
        volumes_before = {v["id"] for v in api.get("/volumes").json()["volumes"]}
        resp = api.request(method, url, json=body, headers=api.mv(version))
        VolumeApi.assert_fault(resp, code)
        assert _state(api, vid, [], api.project) == before, (method, url)
        assert {v["id"] for v in api.get("/volumes").json()["volumes"]} == volumes_before
    assert api.get(f"/snapshots?volume_id={vid}").json()["snapshots"] == []
    assert api.get("/attachments", headers=api.mv("3.27")).json()["attachments"] == []

    # An admin's force delete takes the volume, and its offer with it.
    resp = api.post(f"/volumes/{vid}/action", json={"os-force_delete": {}})
    assert resp.status_code == 202, resp.text
    api.wait_for_gone(vid)
    VolumeApi.assert_fault(api.get(f"{LEGACY}/{made['id']}"), 404)
    assert made["id"] not in transfer_ids(api, CURRENT, all_tenants="1")


def test_recovery_leaves_an_offer_alone(start_service: Any) -> None:
    svc = start_service(defaults={"transitional_status_timeout": "0.3",
                                  "reconcile_interval": "0.2"})  # fmt: skip
    giver, taker = new_project(), new_project()
    with svc.client(giver) as api:
        vol = api.create_volume(1)
        made = create(api, vol["id"])
        time.sleep(1.5)  # several reconciler passes
        assert api.wait_for_volume(vol["id"], "awaiting-transfer")
    svc.restart()
    with svc.client(giver) as api, svc.client(taker, user="taker") as other:
        assert api.get(f"/volumes/{vol['id']}").json()["volume"]["status"] == "awaiting-transfer"
        assert transfer_ids(api) == [made["id"]]
        assert accept(other, made["id"], made["auth_key"]).status_code == 202
        assert ownership(api, vol["id"], [])["volume"] == ("available", taker, "taker")
        assert svc.find_volume_file(vol["id"]) is not None
