"""Volume type encryption and encrypted volumes: the spec's create, show, update and
delete as Cinder answers them (Tempest's schemas), the refusals while the type has
volumes, the key each volume of an encrypted type gets, the volume's encryption metadata,
and the clients (python-cinderclient, openstacksdk as Ansible's ``volume_type_info`` calls
it).
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import openstack
import pytest
from cinderclient import client as cinder_client
from harness import Service, VolumeApi
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint
from tempest_schemas import TempestSchemas

LUKS = {"provider": "luks", "cipher": "aes-xts-plain64", "key_size": 256,
        "control_location": "front-end"}  # fmt: skip
SPEC_KEYS = {"volume_type_id", "encryption_id", "provider", "cipher", "key_size",
             "control_location", "created_at", "updated_at", "deleted", "deleted_at"}  # fmt: skip
Maker = Callable[..., dict[str, Any]]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def make_type(api: VolumeApi) -> Iterator[Maker]:
    """Factory: a type (``encryption=`` gives it that spec); types and volumes go after."""
    created: list[str] = []

    def make(encryption: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        resp = api.post("/types", json={"volume_type": {"name": unique("etype"), **fields}})
        assert resp.status_code == 200, resp.text
        volume_type: dict[str, Any] = resp.json()["volume_type"]
        created.append(volume_type["id"])
        if encryption is not None:
            done = api.post(f"/types/{volume_type['id']}/encryption",
                            json={"encryption": encryption})  # fmt: skip
            assert done.status_code == 200, done.text
        return volume_type

    yield make
    for volume in api.get("/volumes").json()["volumes"]:
        api.delete_volume(volume["id"])
    for type_id in created:
        api.delete(f"/types/{type_id}")


def encryption_of(api: VolumeApi, type_id: str) -> dict[str, Any]:
    resp = api.get(f"/types/{type_id}/encryption")
    assert resp.status_code == 200, resp.text
    found: dict[str, Any] = resp.json()
    return found


def test_create_show_update_delete(
    service: Service, api: VolumeApi, make_type: Maker, tempest_schemas: TempestSchemas
) -> None:
    type_id = make_type()["id"]
    empty = api.get(f"/types/{type_id}/encryption")
    tempest_schemas.check("encryption_types.show_encryption_type", empty)
    assert empty.json() == {}

    created = api.post(f"/types/{type_id}/encryption", json={"encryption": LUKS})
    tempest_schemas.check("encryption_types.create_encryption_type", created)
    spec = created.json()["encryption"]
    assert {k: spec[k] for k in LUKS} == LUKS
    assert spec["volume_type_id"] == type_id
    encryption_id = spec["encryption_id"]

    shown = api.get(f"/types/{type_id}/encryption")
    tempest_schemas.check("encryption_types.show_encryption_type", shown)
    assert set(shown.json()) == SPEC_KEYS
    assert {k: shown.json()[k] for k in LUKS} == LUKS
    assert shown.json()["encryption_id"] == encryption_id
    assert shown.json()["deleted"] is False

    item = api.get(f"/types/{type_id}/encryption/cipher")
    tempest_schemas.check("encryption_types.show_encryption_specs_item", item)
    assert item.json() == {"cipher": "aes-xts-plain64"}
    missing = api.assert_fault(api.get(f"/types/{type_id}/encryption/colour"), 404)
    assert missing == f"Volume type encryption for type {type_id} does not exist."

    change = {"key_size": "128", "provider": "SomeProvider", "control_location": "back-end"}
    updated = api.put(f"/types/{type_id}/encryption/{encryption_id}",
                      json={"encryption": change})  # fmt: skip
    tempest_schemas.check("encryption_types.update_encryption_type", updated)
    assert updated.json() == {"encryption": {**change, "key_size": 128}}
    after = encryption_of(api, type_id)
    assert (after["key_size"], after["provider"], after["control_location"], after["cipher"]) == (
        128, "SomeProvider", "back-end", "aes-xts-plain64",
    )  # fmt: skip
    assert after["updated_at"] is not None

    # cinderclient puts "provider" where the encryption id goes: Cinder ignores that part.
    again = api.put(f"/types/{type_id}/encryption/provider", json={"encryption": {"cipher": None}})
    assert again.status_code == 200, again.text
    assert encryption_of(api, type_id)["cipher"] is None

    deleted = api.delete(f"/types/{type_id}/encryption/{encryption_id}")
    tempest_schemas.check("encryption_types.delete_encryption_type", deleted)
    assert encryption_of(api, type_id) == {}
    gone = api.assert_fault(api.delete(f"/types/{type_id}/encryption/{encryption_id}"), 404)
    assert gone == f"Volume type encryption for type {type_id} does not exist."

    events = [n for n in service.notifications()
              if n["event_type"].startswith("volume_type_encryption.")
              and n["payload"].get("type_id") == type_id]  # fmt: skip
    assert [n["event_type"] for n in events] == [
        "volume_type_encryption.create", "volume_type_encryption.update",
        "volume_type_encryption.update",
    ]  # fmt: skip
    assert events[0]["publisher_id"] == f"volumeTypeEncryption.{service.host}"
    assert events[0]["payload"] == {"type_id": type_id, "specs": LUKS}
    assert events[1]["payload"] == {"type_id": type_id, "id": encryption_id}


def test_second_create_and_unknown_type(api: VolumeApi, make_type: Maker) -> None:
    type_id = make_type(encryption=LUKS)["id"]
    before = encryption_of(api, type_id)
    other = {**LUKS, "provider": "other"}
    message = api.assert_fault(
        api.post(f"/types/{type_id}/encryption", json={"encryption": other}), 400
    )
    assert message == f"Volume type encryption for type {type_id} already exists."
    assert encryption_of(api, type_id) == before
    missing = str(uuid.uuid4())
    message = api.assert_fault(
        api.post(f"/types/{missing}/encryption", json={"encryption": LUKS}), 404
    )
    assert message == f"Volume type {missing} could not be found."
    api.assert_fault(api.get(f"/types/{missing}/encryption"), 404)
    api.assert_fault(api.put(f"/types/{missing}/encryption/x", json={"encryption": LUKS}), 404)
    # A type without encryption has nothing to update or delete.
    plain = make_type()["id"]
    api.assert_fault(api.put(f"/types/{plain}/encryption/x", json={"encryption": LUKS}), 404)
    assert encryption_of(api, plain) == {}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({**LUKS, "key_size": "abc"}, "Invalid input received: key_size must be an integer."),
        ({**LUKS, "key_size": -1},
         "Invalid input for field/attribute key_size. Value: -1. -1 is less than the minimum "
         "of 0"),
        ({**LUKS, "key_size": 2**31},
         "Invalid input for field/attribute key_size. Value: 2147483648. 2147483648 is "
         "greater than the maximum of 2147483647"),
        ({**LUKS, "key_size": 1.5},
         "Invalid input for field/attribute key_size. Value: 1.5. 1.5 is not of type "
         "'string', 'integer', 'null'"),
        ({**LUKS, "control_location": "middle"},
         "Invalid input for field/attribute control_location. Value: middle. 'middle' is not "
         "one of ['front-end', 'back-end']"),
        ({"cipher": "aes", "control_location": "front-end"},
         "Invalid input for field/attribute encryption. Value: {'cipher': 'aes', "
         "'control_location': 'front-end'}. 'provider' is a required property"),
        ({**LUKS, "provider": 5},
         "Invalid input for field/attribute provider. Value: 5. 5 is not of type 'string'"),
        ({**LUKS, "cipher": "c" * 256}, None),
        ("luks", "Invalid input for field/attribute encryption. Value: luks. 'luks' is not of "
                 "type 'object'"),
    ],
)  # fmt: skip
def test_bad_spec_is_400_and_creates_nothing(
    api: VolumeApi, make_type: Maker, spec: Any, message: str | None
) -> None:
    type_id = make_type()["id"]
    got = api.assert_fault(api.post(f"/types/{type_id}/encryption", json={"encryption": spec}), 400)
    if message is not None:
        assert got == message
    assert encryption_of(api, type_id) == {}


def test_bad_update_changes_nothing(api: VolumeApi, make_type: Maker) -> None:
    type_id = make_type(encryption=LUKS)["id"]
    before = encryption_of(api, type_id)
    for body in ({"encryption": {"key_size": "x"}}, {"encryption": {"control_location": "up"}},
                 {"encryption": {}, "extra": 1}, {"specs": {}}):  # fmt: skip
        api.assert_fault(api.put(f"/types/{type_id}/encryption/x", json=body), 400)
    assert encryption_of(api, type_id) == before


def test_type_in_use_keeps_its_encryption(api: VolumeApi, make_type: Maker) -> None:
    plain = make_type()
    api.create_volume(volume_type=plain["id"])
    message = api.assert_fault(
        api.post(f"/types/{plain['id']}/encryption", json={"encryption": LUKS}), 400
    )
    assert message == "Cannot create encryption specs. Volume type in use."
    assert encryption_of(api, plain["id"]) == {}

    encrypted = make_type(encryption=LUKS)
    api.create_volume(volume_type=encrypted["id"])
    before = encryption_of(api, encrypted["id"])
    message = api.assert_fault(
        api.put(f"/types/{encrypted['id']}/encryption/x", json={"encryption": {"key_size": 128}}),
        400,
    )
    assert message == "Cannot update encryption specs. Volume type in use."
    message = api.assert_fault(api.delete(f"/types/{encrypted['id']}/encryption/x"), 400)
    assert message == "Cannot delete encryption specs. Volume type in use."
    assert encryption_of(api, encrypted["id"]) == before


def stored_keys(service: Service) -> dict[str, tuple[str, str, int]]:
    """key id -> (volume id, secret, bits), read from the service's own database."""
    with sqlite3.connect(f"file:{service.state_path / 'firebrick.sqlite'}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT id, volume_id, secret, bit_length FROM volume_encryption_keys")
        return {r[0]: (r[1], r[2], r[3]) for r in rows}


def test_encrypted_volume_key_views_and_metadata(
    service: Service, api: VolumeApi, make_type: Maker, tempest_schemas: TempestSchemas
) -> None:
    volume_type = make_type(encryption=LUKS)
    created = api.post("/volumes", json={"volume": {"size": 1, "volume_type": volume_type["id"]}},
                       headers=api.mv("3.64"))  # fmt: skip
    tempest_schemas.check("v3_64.volumes.create_volume", created)
    key_id = created.json()["volume"]["encryption_key_id"]
    volume_id = created.json()["volume"]["id"]
    api.wait_for_volume(volume_id)

    old = api.get(f"/volumes/{volume_id}", headers=api.mv("3.63"))
    tempest_schemas.check("v3_63.volumes.show_volume", old)
    assert old.json()["volume"]["encrypted"] is True
    assert "encryption_key_id" not in old.json()["volume"]
    new = api.get(f"/volumes/{volume_id}", headers=api.mv("3.64"))
    tempest_schemas.check("v3_64.volumes.show_volume", new)
    assert new.json()["volume"]["encryption_key_id"] == key_id
    detail = api.get("/volumes/detail", headers=api.mv("3.64"))
    tempest_schemas.check("v3_64.volumes.list_volumes_with_detail", detail)
    assert {v["id"]: v.get("encryption_key_id") for v in detail.json()["volumes"]}[
        volume_id] == key_id  # fmt: skip

    metadata = api.get(f"/volumes/{volume_id}/encryption")
    assert metadata.status_code == 200, metadata.text
    assert metadata.json() == {"encryption_key_id": key_id, **LUKS}
    cipher = api.get(f"/volumes/{volume_id}/encryption/cipher")
    assert (cipher.status_code, cipher.json()) == (200, "aes-xts-plain64")
    api.assert_fault(api.get(f"/volumes/{volume_id}/encryption/colour"), 404)
    keys = stored_keys(service)
    assert keys[key_id][0] == volume_id
    assert keys[key_id][2] == 256 and len(keys[key_id][1]) == 64  # 256 bits in hex
    secret = keys[key_id][1]
    for name in ("api", "volume", "scheduler"):
        assert secret not in service.log(name)
    assert secret not in (service.state_path / "notifications.jsonl").read_text()
    assert secret not in service.output()

    # A copy of an encrypted volume gets a key of its own with the same secret.
    clone = api.create_volume(source_volid=volume_id)
    clone_key = api.get(f"/volumes/{clone['id']}", headers=api.mv("3.64")).json()["volume"][
        "encryption_key_id"]  # fmt: skip
    keys = stored_keys(service)
    assert clone_key != key_id and keys[clone_key][:1] == (clone["id"],)
    assert keys[clone_key][1] == secret

    # A plain volume has no key.
    plain = api.create_volume()
    shown = api.get(f"/volumes/{plain['id']}", headers=api.mv("3.64")).json()["volume"]
    assert shown["encrypted"] is False and "encryption_key_id" not in shown
    assert api.get(f"/volumes/{plain['id']}/encryption").json() == {"encryption_key_id": None}

    # The key goes with its volume.
    api.delete_volume(clone["id"])
    assert clone_key not in stored_keys(service)
    assert key_id in stored_keys(service)


def test_copies_and_types_that_cannot_have_encrypted_volumes(
    api: VolumeApi, make_type: Maker
) -> None:
    encrypted = make_type(encryption=LUKS)
    source = api.create_volume(volume_type=encrypted["id"])
    plain = make_type()
    before = api.volume_count()
    message = api.assert_fault(
        api.post("/volumes", json={"volume": {"source_volid": source["id"],
                                              "volume_type": plain["id"]}}), 400,
    )  # fmt: skip
    assert message == (
        f"Invalid input received: Invalid volume_type provided: {plain['name']} (requested type "
        "is not compatible; recommend omitting the type argument)."
    )
    multi = make_type(encryption=LUKS, extra_specs={"multiattach": "<is> True"})
    message = api.assert_fault(
        api.post("/volumes", json={"volume": {"size": 1, "volume_type": multi["id"]}}), 400
    )
    assert message == "Invalid volume: Multiattach cannot be used with encrypted volumes."
    no_cipher = make_type(encryption={"provider": "luks", "control_location": "front-end"})
    message = api.assert_fault(
        api.post("/volumes", json={"volume": {"size": 1, "volume_type": no_cipher["id"]}}), 400
    )
    assert message == "Invalid encryption spec"
    odd = make_type(encryption={**LUKS, "key_size": 100})
    message = api.assert_fault(
        api.post("/volumes", json={"volume": {"size": 1, "volume_type": odd["id"]}}), 400
    )
    assert message == "Key manager error"
    assert api.volume_count() == before


# -- the clients people use -------------------------------------------------------------


def keystone_session(service: Service, project: str) -> ks_session.Session:
    endpoint = service.endpoint(project)
    return ks_session.Session(auth=token_endpoint.Token(endpoint, f"admin:{project}"))


def test_openstacksdk_type_encryption(service: Service, project: str, make_type: Maker) -> None:
    """What Ansible's ``openstack.cloud.volume_type_info`` reads, with and without a spec."""
    conn = openstack.connection.Connection(
        session=keystone_session(service, project),
        block_storage_endpoint_override=service.endpoint(project),
        block_storage_api_version="3",
    )
    try:
        plain = make_type()
        nothing = conn.block_storage.get_type_encryption(plain["id"])
        assert (nothing.provider, nothing.cipher, nothing.encryption_id) == (None, None, None)
        encrypted = make_type(encryption=LUKS)
        found = conn.block_storage.get_type_encryption(encrypted["id"])
        assert (found.provider, found.cipher, found.key_size, found.control_location) == (
            "luks", "aes-xts-plain64", 256, "front-end",
        )  # fmt: skip
        assert found.encryption_id and found.deleted is False
        conn.block_storage.update_type_encryption(volume_type=encrypted["id"], key_size=512)
        assert conn.block_storage.get_type_encryption(encrypted["id"]).key_size == 512
        conn.block_storage.delete_type_encryption(volume_type=encrypted["id"])
        assert conn.block_storage.get_type_encryption(encrypted["id"]).provider is None
        made = conn.block_storage.create_type_encryption(plain["id"], **LUKS)
        assert made.provider == "luks"
    finally:
        conn.close()


def test_cinderclient_encryption_types(service: Service, project: str, make_type: Maker) -> None:
    cinder = cinder_client.Client("3.71", session=keystone_session(service, project))
    volume_type = make_type()
    made = cinder.volume_encryption_types.create(volume_type["id"], dict(LUKS))
    assert made.provider == "luks"
    shown = cinder.volume_encryption_types.get(volume_type["id"])
    assert (shown.cipher, shown.key_size, shown.volume_type_id) == (
        "aes-xts-plain64", 256, volume_type["id"],
    )  # fmt: skip
    assert volume_type["id"] in {e.volume_type_id for e in cinder.volume_encryption_types.list()}
    cinder.volume_encryption_types.update(volume_type["id"], {"control_location": "back-end"})
    assert cinder.volume_encryption_types.get(volume_type["id"]).control_location == "back-end"
    cinder.volume_encryption_types.delete(volume_type["id"])
    assert not hasattr(cinder.volume_encryption_types.get(volume_type["id"]), "provider")


def test_retype_cannot_change_encryption(api: VolumeApi, make_type: Maker) -> None:
    plain, encrypted = make_type(), make_type(encryption=LUKS)
    volume = api.create_volume(volume_type=plain["id"])
    resp = api.post(f"/volumes/{volume['id']}/action",
                    json={"os-retype": {"new_type": encrypted["id"]}})  # fmt: skip
    assert resp.status_code == 202, resp.text
    after = api.get(f"/volumes/{volume['id']}", headers=api.mv("3.64")).json()["volume"]
    assert (after["volume_type_id"], after["encrypted"]) == (plain["id"], False)
    messages = api.get("/messages", headers=api.mv("3.3")).json()["messages"]
    mine = [m for m in messages if m["resource_uuid"] == volume["id"]]
    assert mine and mine[0]["event_id"] == "VOLUME_VOLUME_001_003"
