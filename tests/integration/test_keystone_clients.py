"""Real OpenStack clients against Firebrick behind a real Keystone.

openstacksdk and python-openstackclient authenticate with a password, find Firebrick in
the service catalog (``block-storage``/``volumev3`` in RegionOne) and drive volumes as a
member of project alpha; the admin-only volume type create is refused to a member.
"""

from __future__ import annotations

import uuid

from harness import Service
from keystone_helpers import KeystoneEnv, keystone_client, openstack, openstack_json


def test_openstacksdk_volume_lifecycle(keystone: KeystoneEnv, keystone_service: Service) -> None:
    alpha = keystone.project_id("alpha")
    conn = keystone.connect("alpha", "member")
    try:
        assert conn.current_project_id == alpha
        # The endpoint comes from the catalog, with the project id filled in.
        assert conn.block_storage.get_endpoint().rstrip("/") == (
            f"{keystone_service.base_url}/v3/{alpha}"
        )
        name = f"sdk-{uuid.uuid4().hex[:8]}"
        created = conn.block_storage.create_volume(size=1, name=name)
        volume = conn.block_storage.wait_for_status(
            created, status="available", failures=["error"], interval=0.1, wait=60
        )
        assert volume.id == created.id
        assert volume.size == 1
        assert created.id in {v.id for v in conn.block_storage.volumes()}
        shown = conn.block_storage.get_volume(created.id)
        assert (shown.name, shown.status, shown.size) == (name, "available", 1)
        conn.block_storage.delete_volume(created)
        conn.block_storage.wait_for_delete(created, interval=0.1, wait=60)
        assert created.id not in {v.id for v in conn.block_storage.volumes()}
    finally:
        conn.close()


def test_openstackclient_volume_lifecycle(
    keystone: KeystoneEnv, keystone_service: Service, cli_env: dict[str, str]
) -> None:
    name = f"osc-{uuid.uuid4().hex[:8]}"
    created = openstack_json(cli_env, "alpha-member", "volume", "create", "--size", "1", name)
    assert created["name"] == name
    assert created["size"] == 1
    volume_id = created["id"]
    with keystone_client(
        keystone_service, keystone.token("alpha", "member"), keystone.project_id("alpha")
    ) as api:
        api.wait_for_volume(volume_id)

    listed = openstack_json(cli_env, "alpha-member", "volume", "list")
    assert {"ID": volume_id, "Name": name, "Status": "available", "Size": 1}.items() <= {
        k: v for row in listed if row["ID"] == volume_id for k, v in row.items()
    }.items()
    shown = openstack_json(cli_env, "alpha-member", "volume", "show", name)
    assert (shown["id"], shown["status"], shown["size"]) == (volume_id, "available", 1)

    # Beta's member does not see it, by id or name.
    assert volume_id not in {
        row["ID"] for row in openstack_json(cli_env, "beta-member", "volume", "list")
    }
    hidden = openstack(cli_env, "beta-member", "volume", "show", volume_id)
    assert hidden.returncode != 0
    assert "no volume" in hidden.stderr.lower(), hidden.stderr

    deleted = openstack(cli_env, "alpha-member", "volume", "delete", name)
    assert deleted.returncode == 0, deleted.stderr
    with keystone_client(
        keystone_service, keystone.token("alpha", "member"), keystone.project_id("alpha")
    ) as api:
        api.wait_for_gone(volume_id)


def test_openstackclient_volume_type_create_needs_admin(
    keystone: KeystoneEnv, keystone_service: Service, cli_env: dict[str, str]
) -> None:
    refused_name = f"osc-type-{uuid.uuid4().hex[:8]}"
    refused = openstack(cli_env, "alpha-member", "volume", "type", "create", refused_name)
    assert refused.returncode != 0
    assert "403" in refused.stderr, refused.stderr
    # Cinder's words for a policy refusal.
    assert "Policy doesn't allow volume_extension:types_manage" in refused.stderr, refused.stderr
    name = f"osc-type-{uuid.uuid4().hex[:8]}"
    created = openstack_json(cli_env, "alpha-admin", "volume", "type", "create", name)
    assert created["name"] == name
    try:
        names = {
            row["Name"] for row in openstack_json(cli_env, "alpha-admin", "volume", "type", "list")
        }
        assert name in names
        assert refused_name not in names
    finally:
        deleted = openstack(cli_env, "alpha-admin", "volume", "type", "delete", name)
        assert deleted.returncode == 0, deleted.stderr
