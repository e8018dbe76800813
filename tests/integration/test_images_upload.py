"""Volumes uploaded to Glance (os-volume_upload_image), and what depends on what."""

from __future__ import annotations

from typing import Any

from glance_helpers import (
    GlanceEnv,
    ImageService,
    active_image,
    create_from,
    disk_bytes,
)
from test_images import DATA, MiB


def test_upload_then_create_from_that_image_gives_the_same_bytes(
    image_service: ImageService,
    glance: GlanceEnv,
    tempest_schemas: Any,
) -> None:
    image = glance.image("alpha", DATA, "qcow2", virtual_size=8 * MiB, hw_disk_bus="scsi")
    with image_service.client(microversion="3.1") as api:
        source = create_from(api, image, volume_type="img-qcow2")
        # Sparse formats: a raw upload sends the whole GiB (make tempest uploads raw).
        for disk_format in ("qcow2", "vmdk"):
            resp = api.post(f"/volumes/{source['id']}/action", json={"os-volume_upload_image": {
                "image_name": f"up-{disk_format}", "disk_format": disk_format,
                "visibility": "private", "protected": False}})  # fmt: skip
            assert resp.status_code == 202, resp.text
            body = resp.json()["os-volume_upload_image"]
            assert body["status"] == "uploading" and body["disk_format"] == disk_format
            assert body["visibility"] == "private" and body["protected"] is False
            assert body["volume_type"]["name"] == "img-qcow2"
            assert api.get(f"/volumes/{source['id']}").json()["volume"]["status"] in (
                "uploading",
                "available",
            )
            api.wait_for_volume(source["id"])
            with glance.client("alpha") as g:
                uploaded = active_image(api, g, body["image_id"])
            assert uploaded["owner"] == image_service.keystone.project_id("alpha")
            assert uploaded["disk_format"] == disk_format
            # Cinder passes the volume's own image properties on, not the core ones.
            assert uploaded["hw_disk_bus"] == "scsi"
            assert "image_name" not in uploaded
            copy = create_from(api, uploaded, volume_type="img-raw")
            path = image_service.volume_file(copy["id"])
            assert path is not None
            assert disk_bytes(path, "raw", len(DATA) + MiB) == DATA + b"\0" * MiB
            shown = api.get(f"/volumes/{copy['id']}")
            tempest_schemas.check("volumes.show_volume", shown)
            assert shown.json()["volume"]["volume_image_metadata"]["image_id"] == uploaded["id"]
            api.delete_volume(copy["id"])
        api.delete_volume(source["id"])


def test_upload_checks(image_service: ImageService, glance: GlanceEnv) -> None:
    with image_service.client() as api, image_service.client(role="reader") as reader, \
            image_service.client("beta") as beta:  # fmt: skip
        volume = api.create_volume(size=1, volume_type="img-raw")
        url = f"/volumes/{volume['id']}/action"
        bad = [
            {"image_name": ""},
            {"image_name": "x", "disk_format": "iso"},
            {"image_name": "x", "container_format": "ovf"},
            {"image_name": "x", "visibility": "private"},  # only from 3.1
            {"image_name": "x", "force": "maybe"},
            {"disk_format": "raw"},
        ]
        for body in bad:
            api.assert_fault(api.post(url, json={"os-volume_upload_image": body}), 400)
        reader.assert_fault(reader.post(url, json={"os-volume_upload_image": {
            "image_name": "x"}}), 403)  # fmt: skip
        beta.assert_fault(beta.post(url, json={"os-volume_upload_image": {
            "image_name": "x"}}), 404)  # fmt: skip
        public = api.post(url, json={"os-volume_upload_image": {
            "image_name": "x", "visibility": "public"}}, headers=api.mv("3.1"))  # fmt: skip
        api.assert_fault(public, 403)
        shown = api.get(f"/volumes/{volume['id']}").json()["volume"]
        assert shown["status"] == "available"
        with glance.client("alpha") as g:
            names = {i["name"] for i in g.get("/images").json()["images"]}
        assert "x" not in names
        api.delete_volume(volume["id"])


def test_volumes_and_images_made_from_each_other_are_independent(
    image_service: ImageService,
    glance: GlanceEnv,
) -> None:
    """Cinder's dependency rules without a Cinder-backed Glance store: copies, both ways."""
    image = glance.image("alpha", DATA, "raw")
    with image_service.client() as api, glance.client("alpha") as g:
        volume = create_from(api, image, volume_type="img-qcow2")
        assert g.delete(f"/images/{image['id']}").status_code == 204
        # The volume (and the cache entry it may sit on) outlive the image.
        path = image_service.volume_file(volume["id"])
        assert path is not None and disk_bytes(path, "qcow2", len(DATA)) == DATA
        resp = api.post(f"/volumes/{volume['id']}/action", json={"os-volume_upload_image": {
            "image_name": "independent", "disk_format": "qcow2"}})  # fmt: skip
        assert resp.status_code == 202, resp.text
        image_id = resp.json()["os-volume_upload_image"]["image_id"]
        api.wait_for_volume(volume["id"])
        active_image(api, g, image_id)
        api.delete_volume(volume["id"])
        assert g.get(f"/images/{image_id}").json()["status"] == "active"
        again = create_from(api, {"id": image_id}, volume_type="img-raw")
        path = image_service.volume_file(again["id"])
        assert path is not None and disk_bytes(path, "raw", len(DATA)) == DATA
        api.delete_volume(again["id"])
        g.delete(f"/images/{image_id}")
