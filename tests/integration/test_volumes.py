"""The volume lifecycle driven by the clients people use: python-cinderclient, openstacksdk.

Both authenticate the way a noauth Cinder expects: a keystoneauth session whose token is
``user:project`` and whose endpoint is ``/v3/{project}``.
"""

from __future__ import annotations

import os
import time

import openstack
import pytest
from cinderclient import client as cinder_client
from cinderclient import exceptions as cinder_exceptions
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint

GiB = 2**30

# Keys every volume detail has at any microversion (tempest forbids others at 3.0 for a
# member; an admin additionally sees the os-vol-host-attr/os-vol-mig-status-attr keys).
DETAIL_KEYS = {
    "id", "status", "size", "availability_zone", "created_at", "updated_at", "name",
    "description", "volume_type", "snapshot_id", "source_volid", "metadata", "links",
    "user_id", "bootable", "encrypted", "replication_status", "consistencygroup_id",
    "multiattach", "attachments",
}  # fmt: skip


def keystone_session(service, project, user="tester"):
    endpoint = service.endpoint(project)
    return ks_session.Session(auth=token_endpoint.Token(endpoint, f"{user}:{project}"))


@pytest.fixture
def cinder(service, project):
    return cinder_client.Client("3.71", session=keystone_session(service, project))


@pytest.fixture
def sdk(service, project):
    conn = openstack.connection.Connection(
        session=keystone_session(service, project),
        block_storage_endpoint_override=service.endpoint(project),
        block_storage_api_version="3",
    )
    yield conn
    conn.close()


def cinder_wait(cinder, volume_id, status="available", timeout=30.0):
    deadline = time.monotonic() + timeout
    volume = cinder.volumes.get(volume_id)
    while volume.status != status and time.monotonic() < deadline:
        assert volume.status in {"creating", "deleting"}, volume._info
        time.sleep(0.02)
        volume = cinder.volumes.get(volume_id)
    assert volume.status == status, volume._info
    return volume


def assert_volume_file(service, volume_id, size_gib):
    path = service.find_volume_file(volume_id)
    assert path is not None, f"no file for {volume_id} in {service.volume_files()}"
    st = os.stat(path)
    assert st.st_size == size_gib * GiB
    assert st.st_blocks * 512 < st.st_size, "volume file should be sparse"
    return path


def test_cinderclient_lifecycle(service, project, cinder):
    created = cinder.volumes.create(
        2, name="cc-vol", description="made by cinderclient", metadata={"purpose": "test"}
    )
    assert created.status == "creating"
    volume = cinder_wait(cinder, created.id)
    assert volume.size == 2
    assert volume.name == "cc-vol"
    assert volume.description == "made by cinderclient"
    assert volume.metadata == {"purpose": "test"}
    assert volume.availability_zone == "nova"
    assert volume.bootable == "false"
    assert volume.volume_type == "__DEFAULT__"
    assert volume.attachments == []
    assert getattr(volume, "os-vol-tenant-attr:tenant_id") == project
    assert volume.user_id == "tester"
    host = getattr(volume, "os-vol-host-attr:host")
    assert host.startswith(f"{service.host}@file-"), host
    assert "#" in host, host
    path = assert_volume_file(service, volume.id, 2)
    backend = host.split("@", 1)[1].split("#", 1)[0]
    assert path == service.backends[backend].volume_path(volume.id)

    assert [v.id for v in cinder.volumes.list()] == [volume.id]
    assert [v.id for v in cinder.volumes.list(detailed=False)] == [volume.id]

    cinder.volumes.update(volume, name="cc-renamed", description="new words")
    cinder.volumes.update(volume, metadata={"purpose": "still test", "extra": "1"})
    volume = cinder.volumes.get(volume.id)
    assert volume.name == "cc-renamed"
    assert volume.description == "new words"
    assert volume.metadata == {"purpose": "still test", "extra": "1"}

    cinder.volumes.delete(volume)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            cinder.volumes.get(volume.id)
        except cinder_exceptions.NotFound:
            break
        time.sleep(0.02)
    with pytest.raises(cinder_exceptions.NotFound):
        cinder.volumes.get(volume.id)
    assert not path.exists()
    assert cinder.volumes.list() == []


def test_openstacksdk_lifecycle(service, sdk):
    created = sdk.block_storage.create_volume(
        size=3, name="sdk-vol", description="from the sdk", metadata={"a": "b"}
    )
    volume = sdk.block_storage.wait_for_status(created, status="available", wait=30, interval=0.05)
    assert volume.size == 3
    assert volume.name == "sdk-vol"
    assert volume.description == "from the sdk"
    assert volume.metadata == {"a": "b"}
    assert volume.is_bootable is False
    path = assert_volume_file(service, volume.id, 3)

    assert [v.id for v in sdk.block_storage.volumes(details=True)] == [volume.id]
    assert [v.id for v in sdk.block_storage.volumes(name="sdk-vol")] == [volume.id]
    assert list(sdk.block_storage.volumes(name="nope")) == []

    sdk.block_storage.update_volume(volume, name="sdk-renamed", description="changed")
    fetched = sdk.block_storage.get_volume(volume.id)
    assert fetched.name == "sdk-renamed"
    assert fetched.description == "changed"

    sdk.block_storage.delete_volume(volume)
    sdk.block_storage.wait_for_delete(volume, wait=30, interval=0.05)
    with pytest.raises(openstack.exceptions.ResourceNotFound):
        sdk.block_storage.get_volume(volume.id)
    assert not path.exists()


def test_create_response_is_the_detail_view_in_creating(api):
    resp = api.post("/volumes", json={"volume": {"size": 1, "name": " padded "}})
    assert resp.status_code == 202, resp.text
    volume = resp.json()["volume"]
    assert volume["status"] == "creating"
    assert volume["name"] == "padded"  # surrounding whitespace is stripped
    assert set(volume) >= DETAIL_KEYS, DETAIL_KEYS - set(volume)
    # os-* attribute keys are for show and detail lists only.
    assert not [k for k in volume if k.startswith("os-")], volume
    assert volume["bootable"] == "false"
    assert volume["encrypted"] is False
    assert volume["multiattach"] is False
    assert volume["attachments"] == []
    rels = {link["rel"] for link in volume["links"]}
    assert {"self", "bookmark"} <= rels
    api.wait_for_volume(volume["id"])
    api.delete_volume(volume["id"])


def test_show_update_and_microversion_dependent_keys(api):
    volume = api.create_volume(name="keys")
    shown = api.get(f"/volumes/{volume['id']}").json()["volume"]
    assert set(shown) >= DETAIL_KEYS
    assert shown["os-vol-tenant-attr:tenant_id"] == api.project
    assert "os-vol-host-attr:host" in shown
    for key in ("group_id", "shared_targets", "service_uuid", "volume_type_id"):
        assert key not in shown, f"{key} must not appear at 3.0"
    later = api.get(f"/volumes/{volume['id']}", headers=api.mv("3.71")).json()["volume"]
    for key in ("group_id", "shared_targets", "service_uuid", "volume_type_id", "consumes_quota"):
        assert key in later, f"{key} missing at 3.71"
    assert later["consumes_quota"] is True

    resp = api.put(
        f"/volumes/{volume['id']}",
        json={"volume": {"name": "renamed", "description": "d", "metadata": {"k": "v"}}},
    )
    assert resp.status_code == 200, resp.text
    updated = resp.json()["volume"]
    assert (updated["name"], updated["description"], updated["metadata"]) == (
        "renamed",
        "d",
        {"k": "v"},
    )
    assert not [k for k in updated if k.startswith("os-")], updated
    shown = api.get(f"/volumes/{volume['id']}").json()["volume"]
    assert (shown["name"], shown["description"], shown["metadata"]) == ("renamed", "d", {"k": "v"})
    # display_name/display_description are accepted aliases.
    resp = api.put(f"/volumes/{volume['id']}", json={"volume": {"display_name": "aliased"}})
    assert resp.status_code == 200, resp.text
    assert api.get(f"/volumes/{volume['id']}").json()["volume"]["name"] == "aliased"
    api.delete_volume(volume["id"])


def test_string_size_is_accepted(service, api):
    volume = api.create_volume(size="2")
    assert volume["size"] == 2
    assert os.stat(service.find_volume_file(volume["id"])).st_size == 2 * GiB
    api.delete_volume(volume["id"])


def test_delete_unknown_volume_is_404(api):
    api.assert_fault(api.delete("/volumes/00000000-0000-0000-0000-000000000000"), 404)


def test_volumes_are_private_to_their_project(service, api):
    volume = api.create_volume()
    with service.client() as stranger:
        assert stranger.volume_count() == 0
        # noauth users are admins: they may still list everything with all_tenants.
        everyone = stranger.get("/volumes", params={"all_tenants": 1}).json()["volumes"]
        assert volume["id"] in [v["id"] for v in everyone]
    api.delete_volume(volume["id"])
