"""QoS specs and volume type encryption behind a real Keystone: Cinder's default policy
(admin-only, the volume's readers for its encryption metadata) and the ``openstack`` CLI
(``volume qos ...``, ``volume type create --encryption-*``, ``volume type show``).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from harness import Service, VolumeApi
from keystone_helpers import KeystoneEnv, keystone_client
from keystone_helpers import openstack as run_openstack


def client(service: Service, keystone: KeystoneEnv, role: str, project: str = "alpha") -> VolumeApi:
    return keystone_client(service, keystone.token(project, role), keystone.project_id(project))


def test_qos_and_type_encryption_are_admin_only(
    keystone: KeystoneEnv, keystone_service: Service
) -> None:
    with client(keystone_service, keystone, "admin") as admin:
        name = f"ks-qos-{uuid.uuid4().hex[:8]}"
        qos = admin.post("/qos-specs", json={"qos_specs": {"name": name, "a": "1"}})
        assert qos.status_code == 200, qos.text
        qos_id = qos.json()["qos_specs"]["id"]
        vtype = admin.post("/types", json={"volume_type": {"name": f"ks-t-{uuid.uuid4().hex[:8]}"}})
        type_id = vtype.json()["volume_type"]["id"]
        try:
            calls = [
                ("GET", "/qos-specs", None),
                ("POST", "/qos-specs", {"qos_specs": {"name": f"{name}-x"}}),
                ("GET", f"/qos-specs/{qos_id}", None),
                ("PUT", f"/qos-specs/{qos_id}", {"qos_specs": {"a": "2"}}),
                ("PUT", f"/qos-specs/{qos_id}/delete_keys", {"keys": ["a"]}),
                ("GET", f"/qos-specs/{qos_id}/associations", None),
                ("GET", f"/qos-specs/{qos_id}/associate?vol_type_id={type_id}", None),
                ("GET", f"/qos-specs/{qos_id}/disassociate?vol_type_id={type_id}", None),
                ("GET", f"/qos-specs/{qos_id}/disassociate_all", None),
                ("DELETE", f"/qos-specs/{qos_id}", None),
                ("GET", f"/types/{type_id}/encryption", None),
                ("POST", f"/types/{type_id}/encryption",
                 {"encryption": {"provider": "luks", "control_location": "front-end"}}),
                ("GET", f"/types/{type_id}/encryption/provider", None),
                ("PUT", f"/types/{type_id}/encryption/x", {"encryption": {"key_size": 1}}),
                ("DELETE", f"/types/{type_id}/encryption/x", None),
            ]  # fmt: skip
            for role in ("member", "reader"):
                with client(keystone_service, keystone, role) as user:
                    for method, path, body in calls:
                        resp = user.request(method, path, json=body)
                        message = VolumeApi.assert_fault(resp, 403)
                        assert message.startswith("Policy doesn't allow volume_extension:"), message
            # Nothing changed.
            shown = admin.get(f"/qos-specs/{qos_id}").json()["qos_specs"]
            assert (shown["name"], shown["specs"]) == (name, {"a": "1"})
            assert admin.get(f"/types/{type_id}/encryption").json() == {}
            assert admin.get(f"/qos-specs/{qos_id}/associations").json()["qos_associations"] == []
            listed = admin.get("/qos-specs")
            assert listed.status_code == 200 and qos_id in {
                q["id"] for q in listed.json()["qos_specs"]}  # fmt: skip
        finally:
            admin.delete(f"/qos-specs/{qos_id}?force=True")
            admin.delete(f"/types/{type_id}")


def test_volume_encryption_metadata_for_the_volumes_readers(
    keystone: KeystoneEnv, keystone_service: Service
) -> None:
    with client(keystone_service, keystone, "admin") as admin:
        vtype = admin.post("/types", json={"volume_type": {"name": f"ks-e-{uuid.uuid4().hex[:8]}"}})
        type_id = vtype.json()["volume_type"]["id"]
        spec = {"provider": "luks", "cipher": "aes-xts-plain64", "key_size": 256,
                "control_location": "front-end"}  # fmt: skip
        assert admin.post(f"/types/{type_id}/encryption",
                          json={"encryption": spec}).status_code == 200  # fmt: skip
        with client(keystone_service, keystone, "member") as member:
            volume = member.create_volume(volume_type=type_id)
            try:
                with client(keystone_service, keystone, "reader") as reader:
                    got = reader.get(f"/volumes/{volume['id']}/encryption")
                    assert got.status_code == 200, got.text
                    assert got.json()["cipher"] == "aes-xts-plain64"
                    assert got.json()["encryption_key_id"]
                    item = reader.get(f"/volumes/{volume['id']}/encryption/provider")
                    assert item.json() == "luks"
                with client(keystone_service, keystone, "reader", "beta") as stranger:
                    VolumeApi.assert_fault(stranger.get(f"/volumes/{volume['id']}/encryption"), 404)
            finally:
                member.delete_volume(volume["id"])
        admin.delete(f"/types/{type_id}")


# -- the openstack CLI ------------------------------------------------------------------


def openstack(env: dict[str, str], *args: str, cloud: str = "alpha-admin") -> Any:
    """``openstack --os-cloud <cloud> ARGS`` (JSON output when it has any)."""
    done = run_openstack(env, cloud, *args)
    assert done.returncode == 0, f"openstack {' '.join(args)}: {done.stderr}"
    return json.loads(done.stdout) if done.stdout.strip() else None


def test_openstack_cli_qos(
    keystone: KeystoneEnv, keystone_service: Service, cli_env: dict[str, str]
) -> None:
    qos_name = f"osc-qos-{uuid.uuid4().hex[:8]}"
    type_name = f"osc-qtype-{uuid.uuid4().hex[:8]}"
    created = openstack(cli_env, "volume", "qos", "create", "--consumer", "front-end",
                        "--property", "read_iops_sec=2000", qos_name, "-f", "json")  # fmt: skip
    assert (created["name"], created["consumer"]) == (qos_name, "front-end")
    openstack(cli_env, "volume", "type", "create", type_name, "-f", "json")
    try:
        openstack(cli_env, "volume", "qos", "set", "--property", "write_iops_sec=500", qos_name)
        openstack(cli_env, "volume", "qos", "unset", "--property", "read_iops_sec", qos_name)
        openstack(cli_env, "volume", "qos", "associate", qos_name, type_name)
        shown = openstack(cli_env, "volume", "qos", "show", qos_name, "-f", "json")
        assert shown["properties"] == {"write_iops_sec": "500"}
        assert shown["associations"] == [type_name]
        listed = openstack(cli_env, "volume", "qos", "list", "-f", "json")
        assert [row["Associations"] for row in listed if row["Name"] == qos_name] == [[type_name]]
        openstack(cli_env, "volume", "qos", "disassociate", "--volume-type", type_name, qos_name)
        shown = openstack(cli_env, "volume", "qos", "show", qos_name, "-f", "json")
        assert not shown.get("associations"), shown  # the CLI leaves out an empty list
        # A member may not.
        refused = run_openstack(cli_env, "alpha-member", "volume", "qos", "list")
        assert refused.returncode != 0 and "403" in refused.stderr, refused.stderr
    finally:
        openstack(cli_env, "volume", "qos", "delete", "--force", qos_name)
        openstack(cli_env, "volume", "type", "delete", type_name)
    with keystone_client(
        keystone_service, keystone.token("alpha", "admin"), keystone.project_id("alpha")
    ) as admin:
        assert qos_name not in {q["name"] for q in admin.get("/qos-specs").json()["qos_specs"]}


def test_openstack_cli_encrypted_type(
    keystone: KeystoneEnv, keystone_service: Service, cli_env: dict[str, str]
) -> None:
    name = f"osc-enc-{uuid.uuid4().hex[:8]}"
    created = openstack(
        cli_env, "volume", "type", "create", "--encryption-provider", "luks",
        "--encryption-cipher", "aes-xts-plain64", "--encryption-key-size", "256",
        "--encryption-control-location", "front-end", name, "-f", "json",
    )  # fmt: skip
    try:
        assert created["encryption"]["provider"] == "luks"
        shown = openstack(cli_env, "volume", "type", "show", "--encryption-type", name,
                          "-f", "json")  # fmt: skip
        assert {k: shown["encryption"][k] for k in
                ("provider", "cipher", "key_size", "control_location")} == {
            "provider": "luks", "cipher": "aes-xts-plain64", "key_size": 256,
            "control_location": "front-end",
        }  # fmt: skip
        openstack(cli_env, "volume", "type", "set", "--encryption-key-size", "512", name)
        listed = openstack(cli_env, "volume", "type", "list", "--encryption-type", "-f", "json")
        row = next(r for r in listed if r["Name"] == name)
        assert row["Encryption"]["key_size"] == 512
        openstack(cli_env, "volume", "type", "unset", "--encryption-type", name)
        shown = openstack(cli_env, "volume", "type", "show", "--encryption-type", name,
                          "-f", "json")  # fmt: skip
        assert not shown.get("encryption")
    finally:
        openstack(cli_env, "volume", "type", "delete", name)
