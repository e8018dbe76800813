"""Who may migrate and revert, behind a real Keystone (Cinder's default rules):
``os-migrate_volume`` and ``os-migrate_volume_completion`` are admin-only, ``os-retype``
and ``revert`` are for the volume's project members, and a migration's temporary copy is
shown to admins only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.register_assert_rewrite("migration_helpers")

from harness import Service, VolumeApi, launch  # noqa: E402
from keystone_helpers import KeystoneEnv, keystone_client  # noqa: E402
from migration_helpers import MV, pool_of, show, wait_migration  # noqa: E402


@pytest.fixture(scope="module")
def two_backends(
    keystone: KeystoneEnv, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    svc = launch(
        tmp_path_factory.mktemp("firebrick-migration-policy"),
        backends={"file-1": {"file_capacity_gb": "50"},
                  "file-2": {"file_capacity_gb": "50", "file_create_delay": "4"}},
        defaults={"auth_strategy": "keystone"},
        sections=keystone.firebrick_sections(),
    )  # fmt: skip
    yield svc
    svc.stop()


def client(svc: Service, keystone: KeystoneEnv, role: str, project: str = "alpha") -> VolumeApi:
    api = keystone_client(svc, keystone.token(project, role), keystone.project_id(project))
    api.headers["OpenStack-API-Version"] = f"volume {MV}"
    return api


def action(api: VolumeApi, volume_id: str, name: str, body: object) -> object:
    return api.post(f"/volumes/{volume_id}/action", json={name: body})


def test_migration_is_admin_only_and_its_copy_is_shown_to_admins_only(
    keystone: KeystoneEnv, two_backends: Service
) -> None:
    svc = two_backends
    with (
        client(svc, keystone, "member") as member,
        client(svc, keystone, "reader") as reader,
        client(svc, keystone, "admin", "beta") as admin,
    ):
        vol = member.create_volume(size=1)
        assert show(admin, vol["id"])["os-vol-host-attr:host"] == pool_of(svc, "file-1")
        away = pool_of(svc, "file-2")
        for who in (member, reader):
            refused = action(who, vol["id"], "os-migrate_volume", {"host": away})
            message = VolumeApi.assert_fault(refused, 403)
            assert "volume_extension:volume_admin_actions:migrate_volume" in message
            refused = action(who, vol["id"], "os-migrate_volume_completion",
                             {"new_volume": vol["id"]})  # fmt: skip
            assert "migrate_volume_completion" in VolumeApi.assert_fault(refused, 403)
        assert member.get(f"/volumes/{vol['id']}").json()["volume"]["status"] == "available"

        # An admin (of another project) moves it; the member never sees the copy.
        resp = action(admin, vol["id"], "os-migrate_volume", {"host": away})
        assert resp.status_code == 202, resp.text

        def shown_to_admin() -> list[dict[str, object]]:
            listed = admin.get("/volumes/detail", params={"all_tenants": "1"}).json()["volumes"]
            return [v for v in listed if v["migration_status"] == f"target:{vol['id']}"]

        admin.wait_for(shown_to_admin, "the copy, shown to an admin")
        listed = member.get("/volumes/detail").json()["volumes"]
        assert [v["id"] for v in listed] == [vol["id"]]
        assert "migration_status" not in listed[0]
        assert member.get("/volumes", params={"with_count": "true"}).json()["count"] == 1
        moved = wait_migration(admin, vol["id"], timeout=60)
        assert (moved["migration_status"], moved["os-vol-host-attr:host"]) == ("success", away)
        member.delete_volume(vol["id"])


def test_retype_and_revert_are_for_members(keystone: KeystoneEnv, two_backends: Service) -> None:
    svc = two_backends
    with (
        client(svc, keystone, "member") as member,
        client(svc, keystone, "reader") as reader,
        client(svc, keystone, "member", "beta") as stranger,
    ):
        vol = member.create_volume(size=1)
        snap = member.post("/snapshots", json={"snapshot": {"volume_id": vol["id"]}})
        assert snap.status_code == 202, snap.text
        snapshot_id = snap.json()["snapshot"]["id"]
        member.wait_for(
            lambda: (
                member.get(f"/snapshots/{snapshot_id}").json()["snapshot"]["status"] == "available"
            ),
            "snapshot",
        )
        body = {"snapshot_id": snapshot_id}
        refused = action(reader, vol["id"], "revert", body)
        assert "volume:revert_to_snapshot" in VolumeApi.assert_fault(refused, 403)
        refused = action(reader, vol["id"], "os-retype", {"new_type": "__DEFAULT__"})
        assert "volume:retype" in VolumeApi.assert_fault(refused, 403)
        VolumeApi.assert_fault(action(stranger, vol["id"], "revert", body), 404)

        assert action(member, vol["id"], "revert", body).status_code == 202
        member.wait_for(lambda: show(member, vol["id"])["status"] == "available", "reverted")
        assert member.delete(f"/snapshots/{snapshot_id}").status_code == 202
        member.wait_for(lambda: member.get(f"/snapshots/{snapshot_id}").status_code == 404, "gone")
        member.delete_volume(vol["id"])
