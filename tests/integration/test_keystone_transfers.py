"""Transfers between Keystone projects: ``openstack volume transfer request …`` from
alpha to beta, Cinder's default policy for each role, and what another project sees."""

from __future__ import annotations

import uuid
from typing import Any

from harness import Service, VolumeApi
from keystone_helpers import (
    KeystoneEnv,
    assert_no_secrets,
    firebrick_texts,
    keystone_client,
    openstack,
    openstack_json,
)
from tempest_schemas import TempestSchemas
from transfer_helpers import CURRENT, LEGACY, accept, create, transfer_ids, usage_of


def client(service: Service, keystone: KeystoneEnv, project: str, role: str) -> VolumeApi:
    return keystone_client(service, keystone.token(project, role), keystone.project_id(project))


def owner(admin: VolumeApi, volume_id: str) -> Any:
    resp = admin.get(f"/volumes/{volume_id}", headers=admin.mv("3.71"))
    assert resp.status_code == 200, resp.text
    vol = resp.json()["volume"]
    return vol["status"], vol["os-vol-tenant-attr:tenant_id"], vol["user_id"]


def test_openstackclient_transfer_request_commands(
    keystone: KeystoneEnv,
    keystone_service: Service,
    cli_env: dict[str, str],
) -> None:
    alpha, beta = keystone.project_id("alpha"), keystone.project_id("beta")
    with (
        client(keystone_service, keystone, "alpha", "member") as member,
        client(keystone_service, keystone, "alpha", "admin") as admin,
    ):
        vol = member.create_volume(1, name=f"osc-xfer-{uuid.uuid4().hex[:6]}")
        before = (usage_of(admin, alpha), usage_of(admin, beta))
        made = openstack_json(cli_env, "alpha-member", "volume", "transfer", "request", "create",
                              "--name", "to-beta", vol["id"])  # fmt: skip
        assert (made["name"], made["volume_id"]) == ("to-beta", vol["id"])
        key = made["auth_key"]
        keystone.secrets.add(key)
        listed = openstack_json(cli_env, "alpha-member", "volume", "transfer", "request", "list")
        assert {"ID": made["id"], "Name": "to-beta", "Volume": vol["id"]} in listed
        shown = openstack_json(cli_env, "alpha-member", "volume", "transfer", "request", "show",
                               made["id"])  # fmt: skip
        assert (shown["id"], shown["volume_id"]) == (made["id"], vol["id"])
        assert key not in str(shown) + str(listed)
        # Beta neither lists nor shows alpha's offer...
        theirs = openstack_json(cli_env, "beta-member", "volume", "transfer", "request", "list")
        assert made["id"] not in {row["ID"] for row in theirs}
        hidden = openstack(cli_env, "beta-member", "volume", "transfer", "request", "show",
                           made["id"])  # fmt: skip
        assert hidden.returncode != 0
        # ...but takes it with the id and the key.
        taken = openstack_json(cli_env, "beta-member", "volume", "transfer", "request", "accept",
                               "--auth-key", key, made["id"])  # fmt: skip
        assert (taken["id"], taken["volume_id"]) == (made["id"], vol["id"])
        assert owner(admin, vol["id"]) == (
            "available", beta, keystone.user("beta", "member").id,
        )  # fmt: skip
        VolumeApi.assert_fault(member.get(f"/volumes/{vol['id']}"), 404)
        after = (usage_of(admin, alpha), usage_of(admin, beta))
        assert after[0]["volumes"] == before[0]["volumes"] - 1
        assert after[0]["gigabytes"] == before[0]["gigabytes"] - 1
        assert after[1]["volumes"] == before[1]["volumes"] + 1
        assert after[1]["gigabytes"] == before[1]["gigabytes"] + 1

        # Beta offers it on and withdraws the offer.
        again = openstack_json(cli_env, "beta-member", "volume", "transfer", "request", "create",
                               vol["id"])  # fmt: skip
        keystone.secrets.add(again["auth_key"])
        assert owner(admin, vol["id"])[0] == "awaiting-transfer"
        deleted = openstack(cli_env, "beta-member", "volume", "transfer", "request", "delete",
                            again["id"])  # fmt: skip
        assert deleted.returncode == 0, deleted.stderr
        assert owner(admin, vol["id"])[0] == "available"
    with client(keystone_service, keystone, "beta", "member") as beta_member:
        beta_member.delete_volume(vol["id"])
    assert_no_secrets(firebrick_texts(keystone_service), keystone.secrets)


def test_roles_and_projects(
    keystone: KeystoneEnv, keystone_service: Service, tempest_schemas: TempestSchemas
) -> None:
    alpha, beta = keystone.project_id("alpha"), keystone.project_id("beta")
    with (
        client(keystone_service, keystone, "alpha", "member") as member,
        client(keystone_service, keystone, "alpha", "reader") as reader,
        client(keystone_service, keystone, "alpha", "admin") as admin,
        client(keystone_service, keystone, "beta", "member") as beta_member,
        client(keystone_service, keystone, "beta", "reader") as beta_reader,
    ):
        vol = member.create_volume(1)
        # A reader may not offer, and a member may not offer another project's volume.
        refused = reader.post(CURRENT, json={"transfer": {"volume_id": vol["id"]}})
        message = VolumeApi.assert_fault(refused, 403)
        assert message == "Policy doesn't allow volume:create_transfer to be performed."
        resp = beta_member.post(LEGACY, json={"transfer": {"volume_id": vol["id"]}})
        VolumeApi.assert_fault(resp, 404)
        assert owner(admin, vol["id"]) == ("available", alpha, keystone.user("alpha", "member").id)

        made = create(member, vol["id"], version="3.57", collection=CURRENT,
                      schemas=tempest_schemas)  # fmt: skip
        keystone.secrets.add(made["auth_key"])
        # Readers of the project read it; the other project does not see it.
        for reading in (reader, member, admin):
            shown = reading.get(f"{CURRENT}/{made['id']}", headers=reading.mv("3.57"))
            tempest_schemas.check("v3_57.transfers.show_volume_transfer", shown)
            assert shown.json()["transfer"]["source_project_id"] == alpha
        assert made["id"] in transfer_ids(reader, CURRENT)
        for other in (beta_member, beta_reader):
            VolumeApi.assert_fault(other.get(f"{CURRENT}/{made['id']}"), 404)
            assert made["id"] not in transfer_ids(other, CURRENT)
            assert made["id"] not in transfer_ids(other, CURRENT, all_tenants="1")
        VolumeApi.assert_fault(beta_member.delete(f"{LEGACY}/{made['id']}"), 404)
        VolumeApi.assert_fault(reader.delete(f"{LEGACY}/{made['id']}"), 403)
        assert made["id"] in transfer_ids(admin, CURRENT, all_tenants="1")

        # Readers may not take it, from either project; nothing moves.
        before = (owner(admin, vol["id"]), usage_of(admin, alpha), usage_of(admin, beta))
        for taker in (beta_reader, reader):
            message = VolumeApi.assert_fault(accept(taker, made["id"], made["auth_key"]), 403)
            assert message == "Policy doesn't allow volume:accept_transfer to be performed."
        VolumeApi.assert_fault(accept(beta_member, made["id"], "0" * 16), 400)
        assert (owner(admin, vol["id"]), usage_of(admin, alpha), usage_of(admin, beta)) == before

        taken = accept(beta_member, made["id"], made["auth_key"], version="3.57",
                       collection=CURRENT)  # fmt: skip
        tempest_schemas.check("v3_57.transfers.accept_volume_transfer", taken)
        assert owner(admin, vol["id"]) == (
            "available", beta, keystone.user("beta", "member").id,
        )  # fmt: skip
        VolumeApi.assert_fault(member.get(f"{CURRENT}/{made['id']}"), 404)
        beta_member.delete_volume(vol["id"])
    assert_no_secrets(firebrick_texts(keystone_service), keystone.secrets)
