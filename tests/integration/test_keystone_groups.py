"""Groups behind a real Keystone: Cinder's default policy for reader, member and admin,
project isolation (another project's group or group snapshot is a 404), and the
``openstack volume group type / group / group snapshot`` commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from group_helpers import mv, unique, wait_group, wait_group_snapshot
from harness import Service, VolumeApi
from keystone_helpers import KeystoneEnv, keystone_client

CLI_TIMEOUT = 120


@pytest.fixture(scope="module")
def clients(keystone: KeystoneEnv, keystone_service: Service) -> Iterator[Any]:
    opened: list[VolumeApi] = []

    def make(project: str, role: str) -> VolumeApi:
        api = keystone_client(keystone_service, keystone.token(project, role),
                              keystone.project_id(project), "3.14")  # fmt: skip
        opened.append(api)
        return api

    yield make
    for api in opened:
        api.close()


def denied(api: VolumeApi, resp: Any, rule: str) -> None:
    assert api.assert_fault(resp, 403) == f"Policy doesn't allow {rule} to be performed."


@pytest.fixture(scope="module")
def alpha_group(clients: Any) -> dict[str, Any]:
    """A group of alpha's with one volume and a group snapshot, made by alpha's member."""
    admin, member = clients("alpha", "admin"), clients("alpha", "member")
    vt = admin.post("/types", json={"volume_type": {"name": unique("kvt")}}).json()["volume_type"]
    gt = admin.post("/group_types", json={"group_type": {"name": unique("kgt")}}).json()[
        "group_type"]  # fmt: skip
    created = member.post(
        "/groups",
        json={"group": {"name": "alpha-group", "group_type": gt["id"], "volume_types": [vt["id"]]}},
    )
    assert created.status_code == 202, created.text
    group = wait_group(member, created.json()["group"]["id"])
    vol = member.post("/volumes", json={"volume": {"size": 1, "volume_type": vt["id"],
                                                   "group_id": group["id"]}})  # fmt: skip
    member.wait_for_volume(vol.json()["volume"]["id"])
    gs = member.post("/group_snapshots", json={"group_snapshot": {"group_id": group["id"]}})
    assert gs.status_code == 202, gs.text
    snapshot = wait_group_snapshot(member, gs.json()["group_snapshot"]["id"])
    return {"group": group, "gt": gt, "vt": vt, "volume": vol.json()["volume"],
            "group_snapshot": snapshot}  # fmt: skip


def test_group_type_policy(clients: Any) -> None:
    admin, member, reader = (clients("alpha", r) for r in ("admin", "member", "reader"))
    denied(
        member,
        member.post("/group_types", json={"group_type": {"name": unique("x")}}),
        "group:group_types:create",
    )
    public = admin.post(
        "/group_types",
        json={"group_type": {"name": unique("pub"), "group_specs": {"secret": "spec"}}},
    ).json()["group_type"]
    private = admin.post(
        "/group_types", json={"group_type": {"name": unique("priv"), "is_public": False}}
    ).json()["group_type"]
    for user in (member, reader):
        listed = {t["id"]: t for t in user.get("/group_types").json()["group_types"]}
        assert public["id"] in listed and private["id"] not in listed
        assert "group_specs" not in listed[public["id"]]  # admin-only attribute
        assert "group_specs" not in user.get(f"/group_types/{public['id']}").json()["group_type"]
        user.assert_fault(user.get(f"/group_types/{private['id']}"), 404)
        denied(
            user,
            user.get(f"/group_types/{public['id']}/group_specs"),
            "group:group_types_specs:get_all",
        )
        denied(
            user,
            user.put(f"/group_types/{public['id']}", json={"group_type": {"description": "x"}}),
            "group:group_types:update",
        )
        denied(user, user.delete(f"/group_types/{public['id']}"), "group:group_types:delete")
    assert admin.get(f"/group_types/{public['id']}").json()["group_type"]["group_specs"] == {
        "secret": "spec"}  # fmt: skip
    for gt in (public, private):
        assert admin.delete(f"/group_types/{gt['id']}").status_code == 202


def test_group_policy(clients: Any, alpha_group: dict[str, Any]) -> None:
    member, reader = clients("alpha", "member"), clients("alpha", "reader")
    group, gs = alpha_group["group"], alpha_group["group_snapshot"]
    assert reader.get(f"/groups/{group['id']}").status_code == 200
    assert [g["id"] for g in reader.get("/groups").json()["groups"]] == [group["id"]]
    assert reader.get(f"/group_snapshots/{gs['id']}").status_code == 200
    denied(
        reader,
        reader.post(
            "/groups",
            json={
                "group": {
                    "group_type": alpha_group["gt"]["id"],
                    "volume_types": [alpha_group["vt"]["id"]],
                }
            },
        ),
        "group:create",
    )
    denied(
        reader, reader.put(f"/groups/{group['id']}", json={"group": {"name": "x"}}), "group:update"
    )
    denied(
        reader,
        reader.post(f"/groups/{group['id']}/action", json={"delete": {"delete-volumes": True}}),
        "group:delete",
    )
    denied(
        reader,
        reader.post("/group_snapshots", json={"group_snapshot": {"group_id": group["id"]}}),
        "group:create_group_snapshot",
    )
    denied(reader, reader.delete(f"/group_snapshots/{gs['id']}"), "group:delete_group_snapshot")
    reset = {"reset_status": {"status": "available"}}
    denied(
        member,
        member.post(f"/groups/{group['id']}/action", json=reset, headers=mv("3.20")),
        "group:reset_status",
    )
    denied(
        member,
        member.post(f"/group_snapshots/{gs['id']}/action", json=reset, headers=mv("3.19")),
        "group:reset_group_snapshot_status",
    )
    # The project attribute (3.58) is for admins.
    assert "project_id" not in member.get(f"/groups/{group['id']}", headers=mv("3.58")).json()[
        "group"]  # fmt: skip
    admin = clients("alpha", "admin")
    assert admin.get(f"/groups/{group['id']}", headers=mv("3.58")).json()["group"][
        "project_id"] == admin.project  # fmt: skip
    assert member.put(f"/groups/{group['id']}", json={"group": {"description": "by member"}}
                      ).status_code == 202  # fmt: skip


def test_another_projects_groups_are_404(clients: Any, alpha_group: dict[str, Any]) -> None:
    beta = clients("beta", "member")
    group, gs, vol = alpha_group["group"], alpha_group["group_snapshot"], alpha_group["volume"]
    assert beta.get("/groups").json()["groups"] == []
    assert beta.get("/group_snapshots").json()["group_snapshots"] == []
    for resp in (
        beta.get(f"/groups/{group['id']}"),
        beta.put(f"/groups/{group['id']}", json={"group": {"name": "mine"}}),
        beta.post(f"/groups/{group['id']}/action", json={"delete": {"delete-volumes": True}}),
        beta.get(f"/group_snapshots/{gs['id']}"),
        beta.delete(f"/group_snapshots/{gs['id']}"),
        beta.post("/group_snapshots", json={"group_snapshot": {"group_id": group["id"]}}),
        beta.post("/groups/action", json={"create-from-src": {"group_snapshot_id": gs["id"]}}),
        beta.post("/groups/action", json={"create-from-src": {"source_group_id": group["id"]}}),
        beta.post(
            "/volumes",
            headers=mv("3.13"),
            json={
                "volume": {
                    "size": 1,
                    "volume_type": alpha_group["vt"]["id"],
                    "group_id": group["id"],
                }
            },
        ),
    ):
        beta.assert_fault(resp, 404)
    # Beta's own group cannot take alpha's volume: to beta it does not exist.
    gt, vt = alpha_group["gt"], alpha_group["vt"]
    mine = beta.post("/groups", json={"group": {"group_type": gt["id"],
                                                "volume_types": [vt["id"]]}})  # fmt: skip
    wait_group(beta, mine.json()["group"]["id"])
    refused = beta.put(
        f"/groups/{mine.json()['group']['id']}", json={"group": {"add_volumes": vol["id"]}}
    )
    assert "because volume cannot be found" in beta.assert_fault(refused, 400)
    alpha = clients("alpha", "member")
    shown = alpha.get(f"/groups/{group['id']}").json()["group"]
    assert (shown["name"], shown["status"]) == ("alpha-group", "available")
    beta.post(
        f"/groups/{mine.json()['group']['id']}/action", json={"delete": {"delete-volumes": False}}
    )


# ---------------------------------------------------------------------------------------
# the openstack CLI


@pytest.fixture(scope="module")
def cli_env(keystone: KeystoneEnv, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    clouds = keystone.clouds_yaml(tmp_path_factory.mktemp("osc-groups") / "clouds.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["OS_CLIENT_CONFIG_FILE"] = str(clouds)
    env["HOME"] = str(clouds.parent)
    return env


def openstack(env: dict[str, str], cloud: str, *args: str, version: str = "3.14") -> Any:
    script = Path(sys.executable).parent / "openstack"
    return subprocess.run(
        [str(script), "--os-cloud", cloud, "--os-volume-api-version", version, *args],
        env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT, check=False,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def openstack_json(env: dict[str, str], cloud: str, *args: str, version: str = "3.14") -> Any:
    done = openstack(env, cloud, *args, "-f", "json", version=version)
    assert done.returncode == 0, f"openstack {' '.join(args)}: {done.stderr}"
    return json.loads(done.stdout)


def test_openstack_cli_groups(
    keystone: KeystoneEnv, keystone_service: Service, cli_env: dict[str, str], clients: Any
) -> None:
    admin, member = clients("alpha", "admin"), clients("alpha", "member")
    vt = admin.post("/types", json={"volume_type": {"name": unique("cli-vt")}}).json()[
        "volume_type"]  # fmt: skip
    gt_name = unique("cli-gt")
    v311 = {"version": "3.11"}

    def cli(cloud: str, *args: str, **kw: str) -> Any:
        return openstack_json(cli_env, cloud, "volume", "group", *args, **kw)

    def ok(cloud: str, *args: str, **kw: str) -> None:
        done = openstack(cli_env, cloud, "volume", "group", *args, **kw)
        assert done.returncode == 0, done.stderr

    refused = openstack(cli_env, "alpha-member", "volume", "group", "type", "create", gt_name)
    assert refused.returncode != 0 and "group:group_types:create" in refused.stderr
    gt = cli("alpha-admin", "type", "create", "--description", "by the CLI", gt_name, **v311)
    assert (gt["Name"], gt["Description"], gt["Is Public"]) == (gt_name, "by the CLI", True)
    ok("alpha-admin", "type", "set", "--property", "color=blue", gt_name, **v311)
    assert cli("alpha-admin", "type", "show", gt_name, **v311)["Properties"] == {"color": "blue"}
    assert gt_name in {t["Name"] for t in cli("alpha-member", "type", "list", **v311)}
    ok("alpha-admin", "type", "set", "--no-property", gt_name, **v311)
    assert cli("alpha-admin", "type", "show", gt_name, **v311)["Properties"] == {}

    group = cli(
        "alpha-member",
        "create",
        "--volume-group-type",
        gt["ID"],
        "--volume-type",
        vt["id"],
        "--name",
        "cli-group",
    )
    wait_group(member, group["ID"])
    assert group["ID"] in {row["ID"] for row in cli("alpha-member", "list")}
    assert group["ID"] not in {row["ID"] for row in cli("beta-member", "list")}
    ok("alpha-member", "set", "--description", "described", group["ID"])
    shown = cli("alpha-member", "show", group["ID"])
    assert (shown["Name"], shown["Description"], shown["Status"]) == (
        "cli-group", "described", "available")  # fmt: skip
    hidden = openstack(cli_env, "beta-member", "volume", "group", "show", group["ID"])
    assert hidden.returncode != 0

    snapshot = cli("alpha-member", "snapshot", "create", "--name", "cli-gs", group["ID"])
    wait_group_snapshot(member, snapshot["ID"])
    assert snapshot["ID"] in {row["ID"] for row in cli("alpha-member", "snapshot", "list")}
    shown = cli("alpha-member", "snapshot", "show", snapshot["ID"])
    assert (shown["Name"], shown["Status"], shown["Group"]) == ("cli-gs", "available",
                                                                group["ID"])  # fmt: skip
    ok("alpha-member", "snapshot", "delete", snapshot["ID"])
    member.wait_for(
        lambda: member.get(f"/group_snapshots/{snapshot['ID']}").status_code == 404,
        "the group snapshot to go",
    )
    ok("alpha-member", "delete", group["ID"])
    member.wait_for(
        lambda: member.get(f"/groups/{group['ID']}").status_code == 404, "the group to go"
    )
    ok("alpha-admin", "type", "delete", gt_name, **v311)
