"""Backups driven by the clients people use, against Firebrick behind a real Keystone:
the ``openstack volume backup`` commands and openstacksdk's backup calls, and Cinder's
default policy (readers read, members back up and restore their project's volumes, an
admin-only export; another project's backup is a 404)."""

from __future__ import annotations

import uuid

from backup_helpers import wait_backup
from harness import Service
from keystone_helpers import KeystoneEnv, keystone_client, openstack, openstack_json


def _member(keystone: KeystoneEnv, service: Service, project: str = "alpha", role: str = "member"):
    return keystone_client(service, keystone.token(project, role), keystone.project_id(project),
                           microversion="3.71")  # fmt: skip


def test_openstackclient_backup_lifecycle(
    keystone: KeystoneEnv, keystone_service: Service, cli_env: dict[str, str]
) -> None:
    name = f"osc-{uuid.uuid4().hex[:8]}"
    volume = openstack_json(cli_env, "alpha-member", "volume", "create", "--size", "1", name)
    with _member(keystone, keystone_service) as api:
        api.wait_for_volume(volume["id"])
        backup = openstack_json(cli_env, "alpha-member", "volume", "backup", "create",
                                "--name", f"{name}-b", volume["id"])  # fmt: skip
        wait_backup(api, backup["id"])
        listed = openstack_json(cli_env, "alpha-member", "volume", "backup", "list")
        assert backup["id"] in {row["ID"] for row in listed}
        shown = openstack_json(cli_env, "alpha-member", "volume", "backup", "show", backup["id"])
        assert (shown["status"], shown["volume_id"]) == ("available", volume["id"])
        restored = openstack(cli_env, "alpha-member", "volume", "backup", "restore",
                             backup["id"], volume["id"], "--force")  # fmt: skip
        assert restored.returncode == 0, restored.stderr
        api.wait_for_volume(volume["id"])
        wait_backup(api, backup["id"])
        # Beta's member sees nothing of it.
        hidden = openstack(cli_env, "beta-member", "volume", "backup", "show", backup["id"])
        assert hidden.returncode != 0
        deleted = openstack(cli_env, "alpha-member", "volume", "backup", "delete", backup["id"])
        assert deleted.returncode == 0, deleted.stderr
        api.wait_for(lambda: api.get(f"/backups/{backup['id']}").status_code == 404, "deleted")
        api.delete_volume(volume["id"])


def test_openstacksdk_backup_calls(keystone: KeystoneEnv, keystone_service: Service) -> None:
    conn = keystone.connect("alpha", "member")
    try:
        volume = conn.block_storage.create_volume(size=1, name=f"sdk-{uuid.uuid4().hex[:8]}")
        conn.block_storage.wait_for_status(volume, "available", failures=["error"],
                                           interval=0.1, wait=60)  # fmt: skip
        backup = conn.block_storage.create_backup(volume_id=volume.id, name="sdk-backup")
        backup = conn.block_storage.wait_for_status(backup, "available", failures=["error"],
                                                    interval=0.1, wait=60)  # fmt: skip
        assert backup.volume_id == volume.id and backup.is_incremental is False
        assert backup.id in {b.id for b in conn.block_storage.backups(details=True)}
        incremental = conn.block_storage.create_backup(volume_id=volume.id, is_incremental=True)
        incremental = conn.block_storage.wait_for_status(incremental, "available",
                                                         failures=["error"], interval=0.1,
                                                         wait=60)  # fmt: skip
        assert conn.block_storage.get_backup(incremental.id).is_incremental is True
        conn.block_storage.restore_backup(incremental, volume=volume.id)
        # Fetched again: the objects in hand still say available from before the restore.
        conn.block_storage.wait_for_status(conn.block_storage.get_volume(volume.id),
                                           "available", failures=["error", "error_restoring"],
                                           interval=0.1, wait=60)  # fmt: skip
        for made in (incremental, backup):
            conn.block_storage.wait_for_status(conn.block_storage.get_backup(made.id),
                                               "available", interval=0.1, wait=60)  # fmt: skip
            conn.block_storage.delete_backup(made)
            conn.block_storage.wait_for_delete(made, interval=0.1, wait=60)
        conn.block_storage.delete_volume(volume)
    finally:
        conn.close()


def test_default_policy(keystone: KeystoneEnv, keystone_service: Service) -> None:
    with _member(keystone, keystone_service) as member:
        vid = member.create_volume(1)["id"]
        resp = member.post("/backups", json={"backup": {"volume_id": vid}})
        assert resp.status_code == 202, resp.text
        backup = wait_backup(member, resp.json()["backup"]["id"])
        # A member sees no project attribute and may not export.
        assert "os-backup-project-attr:project_id" not in backup and "user_id" not in backup
        member.assert_fault(member.get(f"/backups/{backup['id']}/export_record"), 403)
        member.assert_fault(
            member.post(
                f"/backups/{backup['id']}/action", json={"os-reset_status": {"status": "error"}}
            ),
            403,
        )
        with _member(keystone, keystone_service, role="reader") as reader:
            assert reader.get(f"/backups/{backup['id']}").status_code == 200
            reader.assert_fault(reader.post("/backups", json={"backup": {"volume_id": vid}}),
                                403)  # fmt: skip
            reader.assert_fault(reader.delete(f"/backups/{backup['id']}"), 403)
        with _member(keystone, keystone_service, project="beta") as other:
            other.assert_fault(other.get(f"/backups/{backup['id']}"), 404)
            other.assert_fault(other.delete(f"/backups/{backup['id']}"), 404)
            other.assert_fault(other.post(f"/backups/{backup['id']}/restore",
                                          json={"restore": None}), 404)  # fmt: skip
            assert backup["id"] not in {b["id"] for b in other.get("/backups").json()["backups"]}
        with _member(keystone, keystone_service, role="admin") as admin:
            shown = admin.get(f"/backups/{backup['id']}").json()["backup"]
            assert shown["os-backup-project-attr:project_id"] == keystone.project_id("alpha")
            assert admin.get(f"/backups/{backup['id']}/export_record").status_code == 200
        assert wait_backup(member, backup["id"])["status"] == "available"
        member.delete(f"/backups/{backup['id']}")
        member.wait_for(lambda: member.get(f"/backups/{backup['id']}").status_code == 404,
                        "deleted")  # fmt: skip
        member.delete_volume(vid)
