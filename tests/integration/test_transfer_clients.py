"""Transfers driven by python-cinderclient (before 3.55 on /os-volume-transfer, from 3.55
on /volume-transfers) and openstacksdk, between two projects."""

from __future__ import annotations

import pytest
from cinderclient import exceptions as cinder_exceptions
from harness import Service, new_project
from lifecycle_helpers import cinder_for, create_snapshot, sdk_for
from openstack import exceptions as sdk_exceptions
from transfer_helpers import file_digest, ownership, service_texts, usage_of


@pytest.mark.parametrize("version", ["3.0", "3.57"])
def test_cinderclient_transfer_commands(service: Service, version: str) -> None:
    giver, taker = new_project(), new_project()
    cinder = cinder_for(service, giver, version)
    other = cinder_for(service, taker, version)
    with service.client(giver) as api:
        vol = api.create_volume(1)
        snap = create_snapshot(api, vol["id"])["id"]
        digest = file_digest(service, vol["id"])
        before = (usage_of(api, giver), usage_of(api, taker))

        made = cinder.transfers.create(vol["id"], name="cc-offer")
        assert made.name == "cc-offer"
        assert made.volume_id == vol["id"]
        key = made.auth_key
        shown = cinder.transfers.get(made.id)
        assert (shown.id, shown.name, shown.volume_id) == (made.id, "cc-offer", vol["id"])
        assert not hasattr(shown, "auth_key")
        if version == "3.57":
            assert (shown.source_project_id, shown.destination_project_id) == (giver, None)
            assert (shown.no_snapshots, shown.accepted) == (False, False)
        assert [t.id for t in cinder.transfers.list()] == [made.id]
        assert [t.id for t in cinder.transfers.list(detailed=False)] == [made.id]
        assert all(not hasattr(t, "auth_key") for t in cinder.transfers.list())

        with pytest.raises(cinder_exceptions.BadRequest, match="Invalid auth key"):
            other.transfers.accept(made.id, "0" * 16)
        taken = other.transfers.accept(made.id, key)
        assert (taken.id, taken.volume_id) == (made.id, vol["id"])
        with pytest.raises(cinder_exceptions.NotFound):
            cinder.transfers.get(made.id)
        assert cinder.transfers.list() == []

        after = ownership(api, vol["id"], [snap])
        assert after["volume"][1] == after[snap][1] == taker
        assert file_digest(service, vol["id"]) == digest
        assert usage_of(api, giver)["volumes"] == before[0]["volumes"] - 1
        assert usage_of(api, taker)["snapshots"] == before[1]["snapshots"] + 1

        # The new owner offers it back, then thinks better of it.
        back = other.transfers.create(vol["id"])
        assert other.volumes.get(vol["id"]).status == "awaiting-transfer"
        other.transfers.delete(back.id)
        assert other.volumes.get(vol["id"]).status == "available"
        with pytest.raises(cinder_exceptions.NotFound):
            other.transfers.get(back.id)
    assert key not in service_texts(service)
    assert back.auth_key not in service_texts(service)


def test_openstacksdk_transfer_calls(service: Service) -> None:
    giver, taker = new_project(), new_project()
    sdk, other = sdk_for(service, giver), sdk_for(service, taker)
    try:
        with service.client(giver) as api:
            vol = api.create_volume(1)
            snap = create_snapshot(api, vol["id"])["id"]
            made = sdk.block_storage.create_transfer(
                volume_id=vol["id"], name="sdk-offer", no_snapshots=True
            )
            assert made.auth_key and made.no_snapshots is True
            shown = sdk.block_storage.get_transfer(made.id)
            assert (shown.name, shown.volume_id, shown.auth_key) == ("sdk-offer", vol["id"], None)
            assert [t.id for t in sdk.block_storage.transfers()] == [made.id]
            assert sdk.block_storage.find_transfer("sdk-offer").id == made.id

            with pytest.raises(sdk_exceptions.BadRequestException):
                other.block_storage.accept_transfer(made.id, "f" * 16)
            taken = other.block_storage.accept_transfer(made.id, made.auth_key)
            assert taken.volume_id == vol["id"]
            after = ownership(api, vol["id"], [snap])
            assert after["volume"] == ("available", taker, "tester")
            assert after[snap][1] == giver  # no_snapshots: they stay

            again = other.block_storage.create_transfer(volume_id=vol["id"])
            other.block_storage.delete_transfer(again)
            with pytest.raises(sdk_exceptions.NotFoundException):
                other.block_storage.get_transfer(again.id)
            assert api.get(f"/volumes/{vol['id']}").json()["volume"]["status"] == "available"
    finally:
        sdk.close()
        other.close()
