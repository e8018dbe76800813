"""Volume transfers over HTTP: create, show, list, delete and accept on both collections
at each microversion whose answer differs, every answer checked with Tempest's schemas;
an accept moves the volume, its snapshots and their quota usage, and nothing else."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from harness import Service, VolumeApi, new_project
from lifecycle_helpers import (
    VOLUME_PAYLOAD_KEYS,
    assert_envelope,
    create_snapshot,
    create_type,
    events,
    pwrite_pattern,
)
from tempest_schemas import TempestSchemas
from transfer_helpers import (
    CURRENT,
    LEGACY,
    SUMMARY_KEYS,
    accept,
    create,
    detail_keys,
    file_digest,
    ownership,
    schema_module,
    service_texts,
    transfer_ids,
    usage_of,
)

# (collection, microversion): each schema Tempest has, on each path that serves it.
VERSIONS = [(LEGACY, "3.0"), (LEGACY, "3.57"), (CURRENT, "3.0"), (CURRENT, "3.55"),
            (CURRENT, "3.56"), (CURRENT, "3.57"), (CURRENT, "3.59"), (CURRENT, "3.71")]  # fmt: skip


@pytest.fixture
def taker(service: Service) -> Iterator[VolumeApi]:
    """A client of a second project, as user ``taker``."""
    with service.client(new_project(), user="taker") as client:
        yield client


@pytest.mark.parametrize(("collection", "version"), VERSIONS)
def test_create_show_list_delete(
    service: Service,
    api: VolumeApi,
    tempest_schemas: TempestSchemas,
    collection: str,
    version: str,
) -> None:
    module = schema_module(version)
    vol = api.create_volume(1)
    made = create(api, vol["id"], version=version, collection=collection,
                  schemas=tempest_schemas, name="  offer  ")  # fmt: skip
    assert made["name"] == "offer"
    assert made["volume_id"] == vol["id"]
    assert len(made["auth_key"]) == 16
    if "no_snapshots" in made:
        assert made["no_snapshots"] is False
    if "accepted" in made:
        assert made["accepted"] is False
        assert made["source_project_id"] == api.project
        assert made["destination_project_id"] is None
    self_link = made["links"][0]["href"]
    assert self_link.endswith(f"/v3/{api.project}/os-volume-transfer/{made['id']}")
    assert api.wait_for_volume(vol["id"], "awaiting-transfer")

    mv = api.mv(version)
    later = []
    shown = api.get(f"{collection}/{made['id']}", headers=mv)
    tempest_schemas.check(f"{module}.show_volume_transfer", shown)
    assert set(shown.json()["transfer"]) == detail_keys(version)
    listed = api.get(collection, headers=mv)
    tempest_schemas.check(f"{module}.list_volume_transfers_no_detail", listed)
    assert [set(t) for t in listed.json()["transfers"]] == [SUMMARY_KEYS]
    detailed = api.get(f"{collection}/detail", headers=mv)
    tempest_schemas.check(f"{module}.list_volume_transfers_with_detail", detailed)
    assert [t["id"] for t in detailed.json()["transfers"]] == [made["id"]]
    later += [shown, listed, detailed]

    deleted = api.delete(f"{collection}/{made['id']}", headers=mv)
    tempest_schemas.check(f"{module}.delete_volume_transfer", deleted)
    assert api.wait_for_volume(vol["id"], "available")
    later.append(api.get(f"{collection}/{made['id']}", headers=mv))
    VolumeApi.assert_fault(later[-1], 404)
    assert transfer_ids(api, collection) == []
    # The key was in the create answer only: never again, nor in the service's logs.
    assert all(made["auth_key"] not in r.text for r in later)
    assert made["auth_key"] not in service_texts(service)

    for event in ("create.start", "create.end", "delete.start", "delete.end"):
        found = events(service, f"volume.transfer.{event}", volume_id=vol["id"])
        assert len(found) == 1, event
        assert_envelope(found[0], "volume.")
        assert set(found[0]["payload"]) == VOLUME_PAYLOAD_KEYS
        assert found[0]["payload"]["tenant_id"] == api.project
    api.delete_volume(vol["id"])


def test_accept_moves_volume_snapshots_and_their_quota(
    service: Service, api: VolumeApi, taker: VolumeApi, tempest_schemas: TempestSchemas
) -> None:
    gold = create_type(api)["name"]
    vol = api.create_volume(2, volume_type=gold)
    path = service.find_volume_file(vol["id"])
    assert path is not None
    pwrite_pattern(path, 0x5A, offset=4096)
    digest = file_digest(service, vol["id"])
    snaps = [create_snapshot(api, vol["id"])["id"] for _ in range(2)]
    giver_before, taker_before = usage_of(api, api.project), usage_of(api, taker.project)

    made = create(api, vol["id"], version="3.57", collection=CURRENT, schemas=tempest_schemas)
    resp = accept(taker, made["id"], made["auth_key"], version="3.57", collection=CURRENT)
    tempest_schemas.check("v3_57.transfers.accept_volume_transfer", resp)
    assert set(resp.json()["transfer"]) == SUMMARY_KEYS
    assert resp.json()["transfer"]["id"] == made["id"]

    after = ownership(api, vol["id"], snaps)
    assert after["volume"] == ("available", taker.project, "taker")
    assert all(after[s] == ("available", taker.project, "taker") for s in snaps)
    assert file_digest(service, vol["id"]) == digest
    # Exactly the volume (2 GiB) and two snapshots of it (2 GiB each), per type as well.
    moved = {"volumes": 1, "gigabytes": 6, "snapshots": 2,
             f"volumes_{gold}": 1, f"gigabytes_{gold}": 6, f"snapshots_{gold}": 2}  # fmt: skip
    giver_after, taker_after = usage_of(api, api.project), usage_of(api, taker.project)
    for resource in set(giver_before) | set(taker_before):
        delta = moved.get(resource, 0)
        assert giver_after[resource] == giver_before.get(resource, 0) - delta, resource
        assert taker_after[resource] == taker_before.get(resource, 0) + delta, resource

    # The transfer is gone for both sides; the key is spent.
    VolumeApi.assert_fault(api.get(f"{CURRENT}/{made['id']}"), 404)
    VolumeApi.assert_fault(accept(taker, made["id"], made["auth_key"]), 404)
    assert made["id"] not in transfer_ids(api, CURRENT, all_tenants="1")
    start = events(service, "volume.transfer.accept.start", volume_id=vol["id"])
    end = events(service, "volume.transfer.accept.end", volume_id=vol["id"])
    assert [n["payload"]["tenant_id"] for n in start + end] == [api.project, taker.project]
    assert made["auth_key"] not in service_texts(service)

    # The new owner's volume and snapshots, to do with as it likes.
    resp = taker.post(f"/volumes/{vol['id']}/action", json={"os-extend": {"new_size": 3}})
    assert resp.status_code == 202, resp.text
    assert taker.wait_for_volume(vol["id"], "available")["size"] == 3
    resp = taker.delete(f"/volumes/{vol['id']}", params={"cascade": "true"})
    assert resp.status_code == 202, resp.text
    taker.wait_for_gone(vol["id"])
    taker_final = usage_of(api, taker.project)
    assert {r: taker_final[r] for r in moved} == {r: taker_before.get(r, 0) for r in moved}


def test_no_snapshots_leaves_them_and_their_quota_behind(
    api: VolumeApi, taker: VolumeApi, tempest_schemas: TempestSchemas
) -> None:
    vol = api.create_volume(1)
    snap = create_snapshot(api, vol["id"])["id"]
    giver_before, taker_before = usage_of(api, api.project), usage_of(api, taker.project)
    made = create(api, vol["id"], version="3.55", collection=CURRENT, schemas=tempest_schemas,
                  no_snapshots="true")  # fmt: skip
    assert made["no_snapshots"] is True
    shown = api.get(f"{CURRENT}/{made['id']}", headers=api.mv("3.57"))
    assert shown.json()["transfer"]["no_snapshots"] is True

    resp = accept(taker, made["id"], made["auth_key"], version="3.55", collection=CURRENT)
    tempest_schemas.check("v3_55.transfers.accept_volume_transfer", resp)
    after = ownership(api, vol["id"], [snap])
    assert after["volume"] == ("available", taker.project, "taker")
    assert after[snap] == ("available", api.project, "tester")
    giver_after, taker_after = usage_of(api, api.project), usage_of(api, taker.project)
    assert giver_after["volumes"] == giver_before["volumes"] - 1
    assert giver_after["gigabytes"] == giver_before["gigabytes"] - 1  # the snapshot's stay
    assert giver_after["snapshots"] == giver_before["snapshots"]
    assert taker_after["volumes"] == taker_before["volumes"] + 1
    assert taker_after["gigabytes"] == taker_before["gigabytes"] + 1
    assert taker_after["snapshots"] == taker_before["snapshots"]


def test_accept_by_the_same_project(api: VolumeApi, tempest_schemas: TempestSchemas) -> None:
    vol = api.create_volume(1)
    before = usage_of(api, api.project)
    made = create(api, vol["id"])
    resp = accept(api, made["id"], made["auth_key"])
    assert resp.status_code == 202, resp.text
    tempest_schemas.check("transfers.accept_volume_transfer", resp)
    assert ownership(api, vol["id"], [])["volume"] == ("available", api.project, "tester")
    assert usage_of(api, api.project) == before


def test_listing_pages_sorts_and_filters(
    service: Service, api: VolumeApi, taker: VolumeApi
) -> None:
    made = [create(api, api.create_volume(1)["id"], name=f"n{i}")["id"] for i in range(3)]
    mv59 = api.mv("3.59")
    # From 3.59 /volume-transfers pages newest first, with a next link to follow.
    page = api.get(CURRENT, params={"limit": 2}, headers=mv59).json()
    assert [t["id"] for t in page["transfers"]] == made[:0:-1]
    link = page["transfers_links"][0]["href"]
    rest = api.get(link, headers=mv59).json()
    assert [t["id"] for t in rest["transfers"]] == made[:1]
    assert "transfers_links" not in rest
    sorted_asc = api.get(CURRENT, params={"sort": "display_name:asc"}, headers=mv59).json()
    assert [t["id"] for t in sorted_asc["transfers"]] == made
    offset = api.get(CURRENT, params={"sort_key": "created_at", "sort_dir": "asc",
                                      "offset": 1}, headers=mv59).json()  # fmt: skip
    assert [t["id"] for t in offset["transfers"]] == made[1:]
    for bad in ({"sort": "name"}, {"sort": "salt"}, {"sort_dir": "up"},
                {"sort": "id", "sort_key": "id"}, {"limit": "x"}, {"offset": "-1"}):  # fmt: skip
        VolumeApi.assert_fault(api.get(CURRENT, params=bad, headers=mv59), 400)
    VolumeApi.assert_fault(api.get(CURRENT, params={"marker": made[0][::-1]}, headers=mv59), 404)
    # Before 3.59, and on /os-volume-transfer always: oldest first, limit and offset cut.
    for collection, version in ((CURRENT, "3.58"), (LEGACY, "3.71")):
        mv = api.mv(version)
        assert transfer_ids(api, collection) == made
        first = api.get(collection, params={"limit": 1}, headers=mv).json()
        assert [t["id"] for t in first["transfers"]] == made[:1]
        assert first["transfers_links"][0]["rel"] == "next"
        second = api.get(first["transfers_links"][0]["href"], headers=mv).json()
        assert [t["id"] for t in second["transfers"]] == made[1:2]
        cut = api.get(collection, params={"offset": 2, "sort": "salt"}, headers=mv).json()
        assert [t["id"] for t in cut["transfers"]] == made[2:]
    # Filters: Cinder's transfer attributes; anything else matches nothing.
    assert transfer_ids(api, CURRENT, name="n1") == [made[1]]
    assert transfer_ids(api, LEGACY, volume_id=api.get(f"{LEGACY}/{made[2]}").json()[
        "transfer"]["volume_id"]) == [made[2]]  # fmt: skip
    assert transfer_ids(api, CURRENT, no_snapshots="false") == made
    assert transfer_ids(api, CURRENT, status="available") == []
    VolumeApi.assert_fault(api.get(CURRENT, params={"no_snapshots": "maybe"}), 400)
    # A project sees its own; an admin sees all with all_tenants (project_id narrows).
    theirs = create(taker, taker.create_volume(1)["id"])["id"]
    assert transfer_ids(taker, CURRENT) == [theirs]
    everyone = transfer_ids(api, CURRENT, all_tenants="true")
    assert set(made) | {theirs} <= set(everyone)
    assert transfer_ids(api, CURRENT, all_tenants="1", project_id=taker.project) == [theirs]
    assert transfer_ids(api, CURRENT, project_id=taker.project) == made
