"""Managing and unmanaging behind a real Keystone: Cinder's policy (admin only, except the
member's ``update_snapshot_status``) and the ``openstack`` CLI's ``--remote-source`` and
``--remote`` options, which go through openstacksdk.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from harness import Service, VolumeApi
from keystone_helpers import KeystoneEnv, keystone_client

CLI_TIMEOUT = 120


def client(service: Service, keystone: KeystoneEnv, project: str, role: str) -> VolumeApi:
    return keystone_client(service, keystone.token(project, role), keystone.project_id(project))


def pool(service: Service) -> str:
    return f"{service.host}@file-1#file-1"


def wait_snapshot(api: VolumeApi, snapshot_id: str, status: str = "available") -> None:
    api.wait_for(
        lambda: api.get(f"/snapshots/{snapshot_id}").json()["snapshot"]["status"] == status,
        f"snapshot {snapshot_id} {status}",
    )


def snapshot_gone(api: VolumeApi, snapshot_id: str) -> None:
    api.wait_for(lambda: api.get(f"/snapshots/{snapshot_id}").status_code == 404, "gone")


def test_manage_and_unmanage_are_admin_only(
    keystone: KeystoneEnv, keystone_service: Service
) -> None:
    with (
        client(keystone_service, keystone, "alpha", "member") as member,
        client(keystone_service, keystone, "alpha", "reader") as reader,
        client(keystone_service, keystone, "alpha", "admin") as admin,
    ):
        vol = member.create_volume(size=1)
        snap = member.post("/snapshots", json={"snapshot": {"volume_id": vol["id"]}})
        assert snap.status_code == 202, snap.text
        snap_id = snap.json()["snapshot"]["id"]
        wait_snapshot(member, snap_id)
        host = pool(keystone_service)
        ref = {"source-name": f"volume-{vol['id']}"}
        for who in (member, reader):
            calls = [
                who.get("/os-volume-manage", params={"host": host}),
                who.get(
                    "/manageable_snapshots/detail", params={"host": host}, headers=who.mv("3.8")
                ),
                who.post("/os-volume-manage", json={"volume": {"host": host, "ref": ref}}),
                who.post(
                    "/os-snapshot-manage", json={"snapshot": {"volume_id": vol["id"], "ref": ref}}
                ),
                who.post(f"/volumes/{vol['id']}/action", json={"os-unmanage": {}}),
                who.post(f"/snapshots/{snap_id}/action", json={"os-unmanage": {}}),
            ]
            for resp in calls:
                message = VolumeApi.assert_fault(resp, 403)
                assert "Policy doesn't allow" in message, message
        assert member.get(f"/volumes/{vol['id']}").json()["volume"]["status"] == "available"
        listed = admin.get("/os-volume-manage/detail", params={"host": host})
        assert listed.status_code == 200, listed.text
        entry = next(e for e in listed.json()["manageable-volumes"] if e["reference"] == ref)
        assert (entry["safe_to_manage"], entry["cinder_id"]) == (False, vol["id"])
        member.delete(f"/snapshots/{snap_id}")
        snapshot_gone(member, snap_id)
        member.delete_volume(vol["id"])


def test_a_member_updates_the_status_of_its_own_snapshots_only(
    keystone: KeystoneEnv, keystone_service: Service
) -> None:
    with (
        client(keystone_service, keystone, "alpha", "member") as member,
        client(keystone_service, keystone, "alpha", "reader") as reader,
        client(keystone_service, keystone, "beta", "member") as stranger,
        client(keystone_service, keystone, "alpha", "admin") as admin,
    ):
        vol = member.create_volume(size=1)
        resp = member.post("/snapshots", json={"snapshot": {"volume_id": vol["id"]}})
        snap_id = resp.json()["snapshot"]["id"]
        wait_snapshot(member, snap_id)
        reset = admin.post(f"/snapshots/{snap_id}/action",
                           json={"os-reset_status": {"status": "creating"}})  # fmt: skip
        assert reset.status_code == 202, reset.text
        update = {"os-update_snapshot_status": {"status": "available", "progress": "100%"}}
        VolumeApi.assert_fault(reader.post(f"/snapshots/{snap_id}/action", json=update), 403)
        VolumeApi.assert_fault(stranger.post(f"/snapshots/{snap_id}/action", json=update), 404)
        done = member.post(f"/snapshots/{snap_id}/action", json=update)
        assert done.status_code == 202, done.text
        assert member.get(f"/snapshots/{snap_id}").json()["snapshot"]["status"] == "available"
        member.delete(f"/snapshots/{snap_id}")
        snapshot_gone(member, snap_id)
        member.delete_volume(vol["id"])


# ---------------------------------------------------------------------------------------
# the openstack CLI


@pytest.fixture(scope="module")
def cli_env(keystone: KeystoneEnv, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    clouds = keystone.clouds_yaml(tmp_path_factory.mktemp("osc-manage") / "clouds.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["OS_CLIENT_CONFIG_FILE"] = str(clouds)
    env["HOME"] = str(clouds.parent)
    return env


def openstack(env: dict[str, str], cloud: str, *args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "openstack"
    return subprocess.run(
        [str(script), "--os-cloud", cloud, "--os-volume-api-version", "3.8", *args],
        env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT, check=False,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def openstack_json(env: dict[str, str], cloud: str, *args: str) -> Any:
    result = openstack(env, cloud, *args, "-f", "json")
    assert result.returncode == 0, f"openstack {' '.join(args)}: {result.stderr}"
    return json.loads(result.stdout)


@pytest.fixture
def admin_api(keystone: KeystoneEnv, keystone_service: Service) -> Iterator[VolumeApi]:
    with client(keystone_service, keystone, "alpha", "admin") as api:
        yield api


def test_openstackclient_remote_source_and_remote_delete(
    cli_env: dict[str, str], keystone_service: Service, admin_api: VolumeApi
) -> None:
    host = pool(keystone_service)
    name = f"osc-{uuid.uuid4().hex[:8]}"
    created = openstack_json(cli_env, "alpha-admin", "volume", "create", "--size", "1", name)
    admin_api.wait_for_volume(created["id"])
    path = keystone_service.backends["file-1"].volume_path(created["id"])
    with open(path, "r+b") as handle:
        handle.write(b"kept through unmanage")

    refused = openstack(cli_env, "alpha-member", "volume", "delete", "--remote", created["id"])
    assert refused.returncode != 0 and "403" in refused.stderr, refused.stderr
    unmanaged = openstack(cli_env, "alpha-admin", "volume", "delete", "--remote", created["id"])
    assert unmanaged.returncode == 0, unmanaged.stderr
    admin_api.wait_for_gone(created["id"])
    assert path.exists()

    listed = openstack_json(cli_env, "alpha-admin", "block", "storage", "volume", "manageable",
                            "list", host, "--long")  # fmt: skip
    row = next(r for r in listed if r["reference"] == {"source-name": path.name})
    assert row["safe_to_manage"] is True

    source = f"source-name={path.name}"
    managed = openstack_json(cli_env, "alpha-admin", "volume", "create", "--remote-source",
                             source, "--host", host, f"{name}-back")  # fmt: skip
    back = admin_api.wait_for_volume(managed["id"])
    assert (back["name"], back["size"]) == (f"{name}-back", 1)
    new_path = keystone_service.backends["file-1"].volume_path(managed["id"])
    assert head(new_path, 21) == b"kept through unmanage"

    snap = openstack_json(cli_env, "alpha-admin", "volume", "snapshot", "create", "--volume",
                          managed["id"], f"{name}-snap")  # fmt: skip
    wait_snapshot(admin_api, snap["id"])
    done = openstack(cli_env, "alpha-admin", "volume", "snapshot", "delete", "--remote",
                     snap["id"])  # fmt: skip
    assert done.returncode == 0, done.stderr
    snapshot_gone(admin_api, snap["id"])
    again = openstack_json(cli_env, "alpha-admin", "volume", "snapshot", "create",
                           "--remote-source", f"source-name=snapshot-{snap['id']}", "--volume",
                           managed["id"], f"{name}-snap2")  # fmt: skip
    wait_snapshot(admin_api, again["id"])
    deleted = openstack(cli_env, "alpha-admin", "volume", "snapshot", "delete", again["id"])
    assert deleted.returncode == 0, deleted.stderr
    snapshot_gone(admin_api, again["id"])
    admin_api.delete_volume(managed["id"])


def head(path: Path, length: int) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(length)
