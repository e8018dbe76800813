"""Private volume types shared with projects, behind a real Keystone.

An admin makes a private type and shares it with project alpha: alpha's members then see
it and create volumes of it, beta's do not know it exists (404); sharing twice is a
conflict, unsharing what was not shared a 404; only admins share.
"""

from __future__ import annotations

import uuid

import pytest
from keystone_helpers import keystone_client, openstack, openstack_json


@pytest.fixture
def clients(keystone, keystone_service):
    def client(project, role):
        token = keystone.token(project, role)
        return keystone_client(keystone_service, token, keystone.project_id(project))

    made = [client("alpha", "admin"), client("alpha", "member"), client("beta", "member")]
    yield made
    for c in made:
        c.close()


@pytest.fixture
def private_type(clients):
    admin = clients[0]
    resp = admin.post(
        "/types",
        json={
            "volume_type": {
                "name": f"private-{uuid.uuid4().hex[:8]}",
                "os-volume-type-access:is_public": False,
            }
        },
    )
    assert resp.status_code == 200, resp.text
    made = resp.json()["volume_type"]
    assert made["is_public"] is False
    yield made
    admin.delete(f"/types/{made['id']}")


def test_a_private_type_exists_only_for_the_projects_it_is_shared_with(
    keystone, clients, private_type, tempest_schemas
):
    admin, alpha, beta = clients
    type_id = private_type["id"]
    alpha_id = keystone.project_id("alpha")

    def visible(client):
        return type_id in {t["id"] for t in client.get("/types").json()["volume_types"]}

    assert not visible(alpha) and not visible(beta)
    alpha.assert_fault(alpha.get(f"/types/{type_id}"), 404)
    before = alpha.volume_count()
    refused = alpha.post("/volumes", json={"volume": {"size": 1, "volume_type": type_id}})
    alpha.assert_fault(refused, 404)
    assert alpha.volume_count() == before

    empty = admin.get(f"/types/{type_id}/os-volume-type-access")
    tempest_schemas.check("volume_types.list_type_access", empty)
    assert empty.json() == {"volume_type_access": []}
    shared = admin.post(f"/types/{type_id}/action",
                        json={"addProjectAccess": {"project": alpha_id}})  # fmt: skip
    tempest_schemas.check("volume_types.add_type_access", shared)
    listed = admin.get(f"/types/{type_id}/os-volume-type-access")
    tempest_schemas.check("volume_types.list_type_access", listed)
    assert listed.json()["volume_type_access"] == [
        {"volume_type_id": type_id, "project_id": alpha_id}]  # fmt: skip

    assert visible(alpha) and not visible(beta)
    tempest_schemas.check("volume_types.show_volume_type", alpha.get(f"/types/{type_id}"))
    volume = alpha.create_volume(volume_type=type_id)
    beta.assert_fault(beta.get(f"/types/{type_id}"), 404)
    beta.assert_fault(
        beta.post("/volumes", json={"volume": {"size": 1, "volume_type": type_id}}), 404
    )

    # Twice, or the other way round when there is nothing to remove: nothing changes.
    again = admin.post(f"/types/{type_id}/action",
                       json={"addProjectAccess": {"project": alpha_id}})  # fmt: skip
    admin.assert_fault(again, 409)
    beta_id = keystone.project_id("beta")
    missing = admin.post(f"/types/{type_id}/action",
                         json={"removeProjectAccess": {"project": beta_id}})  # fmt: skip
    admin.assert_fault(missing, 404)
    assert len(admin.get(f"/types/{type_id}/os-volume-type-access").json()[
        "volume_type_access"]) == 1  # fmt: skip

    removed = admin.post(f"/types/{type_id}/action",
                         json={"removeProjectAccess": {"project": alpha_id}})  # fmt: skip
    tempest_schemas.check("volume_types.remove_type_access", removed)
    assert not visible(alpha)
    alpha.delete_volume(volume["id"])


def test_sharing_is_for_admins_and_private_types_only(keystone, clients, private_type):
    admin, alpha, _ = clients
    type_id = private_type["id"]
    body = {"addProjectAccess": {"project": keystone.project_id("alpha")}}
    alpha.assert_fault(alpha.post(f"/types/{type_id}/action", json=body), 403)
    admin.post(f"/types/{type_id}/action", json=body)
    alpha.assert_fault(alpha.get(f"/types/{type_id}/os-volume-type-access"), 403)

    public = admin.get("/types/default").json()["volume_type"]["id"]
    admin.assert_fault(admin.get(f"/types/{public}/os-volume-type-access"), 404)
    admin.assert_fault(admin.post(f"/types/{public}/action", json=body), 400)
    bad_bodies = (
        {"addProjectAccess": {}},
        {"addProjectAccess": {"project": 7}},
        {"shareWith": {"project": "x"}},
        {"addProjectAccess": {"project": ""}},
    )
    for bad in bad_bodies:
        admin.assert_fault(admin.post(f"/types/{type_id}/action", json=bad), 400)
    assert len(admin.get(f"/types/{type_id}/os-volume-type-access").json()[
        "volume_type_access"]) == 1  # fmt: skip


def test_admins_list_private_types_by_visibility(clients, private_type):
    admin = clients[0]

    def ids(params):
        return {t["id"] for t in admin.get("/types", params=params).json()["volume_types"]}

    assert private_type["id"] not in ids({})
    assert private_type["id"] in ids({"is_public": "false"})
    assert private_type["id"] in ids({"is_public": "none"})


def test_openstack_cli_shares_a_private_type(keystone, keystone_service, cli_env):
    name = f"cli-private-{uuid.uuid4().hex[:8]}"
    made = openstack_json(cli_env, "alpha-admin", "volume", "type", "create", "--private", name)
    try:
        assert openstack(cli_env, "beta-member", "volume", "type", "show", name).returncode != 0
        shared = openstack(cli_env, "alpha-admin", "volume", "type", "set", "--project",
                           keystone.project_id("beta"), name)  # fmt: skip
        assert shared.returncode == 0, shared.stderr
        shown = openstack_json(cli_env, "beta-member", "volume", "type", "show", made["id"])
        assert shown["name"] == name
        shown = openstack_json(cli_env, "alpha-admin", "volume", "type", "show", name)
        assert keystone.project_id("beta") in str(shown.get("access_project_ids"))
    finally:
        openstack(cli_env, "alpha-admin", "volume", "type", "delete", name)


def test_the_access_attribute_is_shown_to_members_not_readers(keystone, keystone_service):
    key = "os-volume-type-access:is_public"
    for role, shown in (("member", True), ("reader", False)):
        token = keystone.token("alpha", role)
        with keystone_client(keystone_service, token, keystone.project_id("alpha")) as client:
            default = client.get("/types/default").json()["volume_type"]
            listed = client.get("/types").json()["volume_types"]
        assert (key in default) is shown, (role, default)
        assert all((key in t) is shown for t in listed), role
