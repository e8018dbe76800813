"""Volumes from Glance images and volumes uploaded to Glance, against a real Glance.

Glance runs beside the test Keystone (``glance_helpers``); Firebrick finds it in the
catalog of the caller's token (API) and of its service user (volume service).
"""

from __future__ import annotations

import os
import struct
import time
from typing import Any

import pytest
from glance_helpers import (
    GlanceEnv,
    ImageService,
    MiB,
    active_image,
    create_from,
    disk_bytes,
)
from harness import MAX_MICROVERSION, VolumeApi

DATA = os.urandom(3 * MiB) + b"\0" * MiB + b"firebrick" * 1000


@pytest.mark.parametrize(("disk_format", "backend"), [
    ("raw", "img-raw"), ("qcow2", "img-raw"), ("qcow2", "img-qcow2"), ("vmdk", "img-raw"),
    ("vdi", "img-qcow2"), ("vhdx", "img-raw"), ("vhd", "img-raw"),
])  # fmt: skip
def test_create_from_image_holds_the_image_bytes(
    image_service: ImageService,
    glance: GlanceEnv,
    disk_format: str,
    backend: str,
    tempest_schemas: Any,
) -> None:
    image = glance.image("alpha", DATA, disk_format, virtual_size=8 * MiB, os_distro="debian")
    with image_service.client() as api:
        volume = create_from(api, image, volume_type=backend)
        assert volume["bootable"] == "true"
        meta = volume["volume_image_metadata"]
        assert meta["image_id"] == image["id"]
        assert meta["image_name"] == image["name"]
        assert meta["disk_format"] == disk_format
        assert meta["container_format"] == "bare"
        assert meta["checksum"] == image["checksum"]
        assert meta["size"] == str(image["size"])
        assert meta["min_disk"] == "0" and meta["min_ram"] == "0"
        assert meta["os_distro"] == "debian"
        shown = api.get(f"/volumes/{volume['id']}")
        tempest_schemas.check("volumes.show_volume", shown)
        path = image_service.volume_file(volume["id"])
        assert path is not None
        fmt = "qcow2" if backend == "img-qcow2" else "raw"
        assert disk_bytes(path, fmt, len(DATA) + MiB) == DATA + b"\0" * MiB
        api.delete_volume(volume["id"])


def _volumes_of(api: VolumeApi) -> set[str]:
    resp = api.get("/volumes")
    assert resp.status_code == 200, resp.text
    return {v["id"] for v in resp.json()["volumes"]}


def _usage(api: VolumeApi, project_id: str) -> dict[str, Any]:
    resp = api.get(f"/os-quota-sets/{project_id}", params={"usage": "true"})
    assert resp.status_code == 200, resp.text
    quota_set: dict[str, Any] = resp.json()["quota_set"]
    return {k: quota_set[k]["in_use"] for k in ("volumes", "gigabytes")}


def test_images_the_api_refuses_leave_nothing(
    image_service: ImageService,
    glance: GlanceEnv,
) -> None:
    """Too big, min_disk, deactivated, another project's private image, unknown: 400."""
    big = glance.image("alpha", b"x" * 4096, "qcow2", virtual_size=3 << 30)
    needs_two = glance.image("alpha", b"y" * 4096, "raw", min_disk=2)
    deactivated = glance.image("alpha", b"z" * 4096, "raw")
    with glance.client("alpha") as g:
        assert g.post(f"/images/{deactivated['id']}/actions/deactivate").status_code == 204
    private_beta = glance.image("beta", b"b" * 4096, "raw")
    cases = [
        (big, 1, "Image virtual size is 3GB and doesn't fit in a volume of size 1GB"),
        (needs_two, 1, "cannot be smaller than the image minDisk size 2GB"),
        (deactivated, 1, f"Image {deactivated['id']} is not active"),
        (private_beta, 1, "Invalid image identifier or unable to access requested image"),
        ({"id": "7d1b1b4e-0000-4000-8000-000000000000"}, 1, "Invalid image identifier"),
    ]
    with image_service.client() as api:
        project_id = image_service.keystone.project_id("alpha")
        before, usage = _volumes_of(api), _usage(api, project_id)
        for image, size, message in cases:
            resp = api.post("/volumes", json={"volume": {"size": size, "imageRef": image["id"]}})
            assert message in api.assert_fault(resp, 400)
        assert _volumes_of(api) == before
        assert _usage(api, project_id) == usage
        # The same images are fine where they fit.
        volume = create_from(api, needs_two, size=2)
        api.delete_volume(volume["id"])


def test_a_corrupt_qcow2_errors_the_volume_with_a_message_and_leaves_nothing(
    image_service: ImageService,
    glance: GlanceEnv,
) -> None:
    good = glance.image("alpha", DATA, "qcow2", virtual_size=8 * MiB)
    with glance.client("alpha") as g:
        content = g.get(f"/images/{good['id']}/file").content
    # A valid header whose first L1 entry points at an unaligned L2 table.
    broken = bytearray(content)
    l1 = struct.unpack(">Q", broken[40:48])[0]
    broken[l1 : l1 + 8] = struct.pack(">Q", 0x8000000000012345)
    corrupt = glance.raw_image("alpha", bytes(broken), "qcow2")
    mislabelled = glance.raw_image("alpha", content, "raw")  # qcow2 data said to be raw
    with image_service.client(microversion="3.3") as api:
        for image, words in ((corrupt, "qemu-img"), (mislabelled, "format mismatch")):
            volume = create_from(api, image, wait="error")
            assert volume["status"] == "error"
            assert image_service.volume_file(volume["id"]) is None
            found = api.get("/messages", params={"resource_uuid": volume["id"]}).json()
            [message] = found["messages"]
            assert message["user_message"].startswith("copy image to volume:")
            assert words in message["user_message"], message
            api.delete_volume(volume["id"])
    assert image_service.temporaries() == []


def test_image_metadata_actions_and_the_glance_metadata_filter(
    image_service: ImageService,
    glance: GlanceEnv,
    tempest_schemas: Any,
) -> None:
    image = glance.image("alpha", b"meta" * 1024, "raw")
    with image_service.client() as api, image_service.client(role="reader") as reader, \
            image_service.client("beta") as beta:  # fmt: skip
        volume = create_from(api, image)
        plain = api.create_volume(size=1, volume_type="img-raw")
        url = f"/volumes/{volume['id']}/action"
        resp = api.post(url, json={"os-set_image_metadata": {"metadata": {
            "kernel_id": "k-1", "image_name": "renamed"}}})  # fmt: skip
        tempest_schemas.check("volumes.update_volume_image_metadata", resp)
        assert resp.json()["metadata"]["kernel_id"] == "k-1"
        shown = reader.post(url, json={"os-show_image_metadata": {}})
        tempest_schemas.check("volumes.show_volume_image_metadata", shown)
        assert shown.json()["metadata"]["image_name"] == "renamed"
        resp = api.post(url, json={"os-unset_image_metadata": {"key": "kernel_id"}})
        tempest_schemas.check("volumes.delete_volume_image_metadata", resp)
        assert "kernel_id" not in reader.post(url, json={"os-show_image_metadata": None}).json()[
            "metadata"]  # fmt: skip
        api.assert_fault(api.post(url, json={"os-unset_image_metadata": {"key": "nope"}}), 404)
        api.assert_fault(api.post(url, json={"os-set_image_metadata": {"metadata": "x"}}), 400)
        reader.assert_fault(reader.post(url, json={"os-set_image_metadata": {
            "metadata": {"a": "b"}}}), 403)  # fmt: skip
        beta.assert_fault(beta.post(url, json={"os-show_image_metadata": {}}), 404)
        # The plain volume has no image metadata: the key is absent from its view.
        assert "volume_image_metadata" not in api.get(f"/volumes/{plain['id']}").json()["volume"]
        api.assert_fault(api.post(f"/volumes/{plain['id']}/action", json={
            "os-unset_image_metadata": {"key": "image_id"}}), 404)  # fmt: skip

        query = {"glance_metadata": str({"image_id": image["id"]})}
        listed = api.get("/volumes/detail", params=query, headers=api.mv("3.30")).json()
        assert [v["id"] for v in listed["volumes"]] == [volume["id"]]
        # From 3.31 a member may not use it (Cinder's default resource filters) …
        api.assert_fault(api.get("/volumes/detail", params=query, headers=api.mv("3.31")), 400)
        # … an admin may.
        with image_service.client(role="admin") as admin:
            found = admin.get("/volumes/detail", params=query,
                              headers=admin.mv(MAX_MICROVERSION)).json()  # fmt: skip
            assert [v["id"] for v in found["volumes"]] == [volume["id"]]
        # Copies keep what their source knew of its image.
        clone = api.create_volume(size=1, source_volid=volume["id"])
        assert clone["volume_image_metadata"]["image_id"] == image["id"]
        for vid in (clone["id"], volume["id"], plain["id"]):
            api.delete_volume(vid)


def test_the_cache_serves_the_second_create_and_notices_changed_images(
    image_service: ImageService,
    glance: GlanceEnv,
) -> None:
    image = glance.image("alpha", DATA, "qcow2", virtual_size=16 * MiB)
    svc = image_service.service
    with image_service.client() as api:
        first = create_from(api, image)
        assert any("cached as entry" in line for line in svc.log_lines_for(first["id"]))
        entries = image_service.cache_files("img-raw")
        second = create_from(api, image, size=2)
        assert any("served from the cache" in line for line in svc.log_lines_for(second["id"]))
        assert image_service.cache_files("img-raw") == entries
        for volume in (first, second):
            path = image_service.volume_file(volume["id"])
            assert path is not None
            assert disk_bytes(path, "raw", len(DATA)) == DATA
        # A changed image is not served from the cache. Glance's updated_at has whole
        # seconds: change it in a later second than the upload.
        time.sleep(1.1)
        with glance.client("alpha") as g:
            patch = g.patch(
                f"/images/{image['id']}",
                content=b'[{"op": "add", "path": "/os_distro", "value": "x"}]',
                headers={"Content-Type": "application/openstack-images-v2.1-json-patch"},
            )
            assert patch.status_code == 200, patch.text
        third = create_from(api, image)
        assert any("cached as entry" in line for line in svc.log_lines_for(third["id"]))
        assert image_service.cache_files("img-raw") != entries
        # Least recently used entries make room (max_count 3 on img-raw).
        others = [glance.image("alpha", bytes([n]) * 4096, "raw") for n in range(1, 4)]
        made = [create_from(api, other) for other in others]
        assert len(image_service.cache_files("img-raw")) == 3
        for volume in (first, second, third, *made):
            api.delete_volume(volume["id"])


def test_a_volume_service_killed_mid_download_finishes_the_create_after_restart(
    image_service: ImageService,
    glance: GlanceEnv,
    start_service: Any,
) -> None:
    head = os.urandom(MiB)
    image = glance.image("beta", head, "raw", virtual_size=400 * MiB)
    svc = start_service(backends={"file-1": {"image_volume_cache_enabled": "true"}},
                        defaults={"auth_strategy": "keystone"},
                        sections=image_service.keystone.firebrick_sections())  # fmt: skip
    from keystone_helpers import keystone_client

    keystone = image_service.keystone
    with keystone_client(svc, keystone.token("beta", "member"),
                         keystone.project_id("beta")) as api:  # fmt: skip
        volume = api.create_volume(size=1, imageRef=image["id"], wait=None)
        folder = svc.backends["file-1"].volume_dir
        api.wait_for(
            lambda: (
                any(p.name.startswith(".tmp-") for p in folder.iterdir())
                if folder.is_dir()
                else False
            ),
            "the download to start",
            timeout=60,
        )
        assert svc.stop(9) == -9
        svc.restart()
        done = api.wait_for_volume(volume["id"], timeout=120)
        assert done["bootable"] == "true"
        time.sleep(0.2)
        names = {p.name for p in folder.iterdir()}
        assert not [n for n in names if n.startswith(".tmp-")]
        assert len([n for n in names if n.startswith("image-cache-")]) == 1
        path = svc.find_volume_file(volume["id"])
        assert path is not None and disk_bytes(path, "raw", MiB) == head
        api.delete_volume(volume["id"])


def test_noauth_with_glance_api_servers_and_no_secret_in_the_logs(
    image_service: ImageService,
    glance: GlanceEnv,
    start_service: Any,
) -> None:
    """noauth: Glance from glance_api_servers, called as the service user; the owner of an
    uploaded image is the caller's project."""
    from keystone_helpers import assert_no_secrets, firebrick_texts

    image = glance.image("alpha", DATA, "vhdx", virtual_size=8 * MiB)
    svc = start_service(
        backends={"file-1": {}},
        defaults={"glance_api_servers": glance.url.removeprefix("http://")},
        sections=image_service.keystone.firebrick_sections(),
    )
    with svc.client() as api:
        volume = create_from(api, image, volume_type="__DEFAULT__")
        assert volume["bootable"] == "true"
        path = svc.find_volume_file(volume["id"])
        assert path is not None and disk_bytes(path, "raw", len(DATA)) == DATA
        resp = api.post(f"/volumes/{volume['id']}/action", json={"os-volume_upload_image": {
            "image_name": "noauth-upload", "disk_format": "qcow2"}})  # fmt: skip
        assert resp.status_code == 202, resp.text
        image_id = resp.json()["os-volume_upload_image"]["image_id"]
        api.wait_for_volume(volume["id"])
        with glance.client("alpha", "admin") as g:
            uploaded = active_image(api, g, image_id)
            assert uploaded["owner"] == api.project
            g.delete(f"/images/{image_id}")
        api.delete_volume(volume["id"])
    assert_no_secrets(firebrick_texts(svc), image_service.keystone.secrets)
    assert_no_secrets(firebrick_texts(image_service.service), image_service.keystone.secrets)


def test_without_an_image_service_a_create_from_an_image_is_a_400(api: VolumeApi) -> None:
    before = api.volume_count()
    resp = api.post("/volumes", json={"volume": {
        "size": 1, "imageRef": "7d1b1b4e-0000-4000-8000-000000000000"}})  # fmt: skip
    assert "No image service is known" in api.assert_fault(resp, 400)
    assert api.volume_count() == before
