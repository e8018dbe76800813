"""Operator policy overrides: ``[oslo_policy] policy_file`` with Cinder's rule names.

A Firebrick of its own (behind the session's Keystone) reads a policy.yaml that makes
volume create admin-only and opens the service list to readers; rules it does not name
keep Cinder's defaults.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from harness import Service, VolumeApi, launch
from keystone_helpers import KeystoneEnv, keystone_client

POLICY = """\
# Operator overrides (Cinder's rule names).
"volume:create": "role:admin"
"volume_extension:services:index": "role:reader"
"""


@pytest.fixture(scope="module")
def policy_service(
    keystone: KeystoneEnv, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    workdir = tmp_path_factory.mktemp("firebrick-policy")
    policy_file = workdir / "overrides.yaml"
    policy_file.write_text(POLICY)
    svc = launch(
        workdir,
        defaults={"auth_strategy": "keystone"},
        sections={
            **keystone.firebrick_sections(),
            "oslo_policy": {"policy_file": str(policy_file)},
        },
    )
    yield svc
    svc.stop()


def api(service: Service, keystone: KeystoneEnv, role: str, project: str = "alpha") -> VolumeApi:
    return keystone_client(service, keystone.token(project, role), keystone.project_id(project))


def test_overridden_create_is_admin_only(keystone: KeystoneEnv, policy_service: Service) -> None:
    with (
        api(policy_service, keystone, "member") as member,
        api(policy_service, keystone, "admin") as admin,
    ):
        before = {v["id"] for v in member.get("/volumes").json()["volumes"]}
        resp = member.post("/volumes", json={"volume": {"size": 1, "name": "member-made"}})
        message = VolumeApi.assert_fault(resp, 403)
        assert "volume:create" in message, message
        assert {v["id"] for v in member.get("/volumes").json()["volumes"]} == before

        volume = admin.create_volume(name="admin-made")
        # Rules the file does not name keep their defaults: the member reads and deletes.
        shown = member.get(f"/volumes/{volume['id']}")
        assert shown.status_code == 200, shown.text
        assert shown.json()["volume"]["name"] == "admin-made"
        member.delete_volume(volume["id"])


def test_overridden_rule_can_open_an_admin_api(
    keystone: KeystoneEnv, policy_service: Service
) -> None:
    with api(policy_service, keystone, "reader", "beta") as reader:
        resp = reader.get("/os-services")
        assert resp.status_code == 200, resp.text
        assert resp.json()["services"]
        # Still an admin API by default: the pools.
        VolumeApi.assert_fault(reader.get("/scheduler-stats/get_pools"), 403)


def test_default_policy_service_is_unaffected(
    keystone: KeystoneEnv, keystone_service: Service
) -> None:
    with api(keystone_service, keystone, "reader", "beta") as reader:
        VolumeApi.assert_fault(reader.get("/os-services"), 403)
