"""Volumes from Glance images and volumes uploaded to Glance, against a real Glance.

Glance runs beside the test Keystone (``glance_helpers``); Firebrick finds it in the
catalog of the caller's token (API) and of its service user (volume service).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from glance_helpers import (
    GlanceEnv,
    ImageService,
    MiB,
    disk_bytes,
    glance,  # noqa: F401  (fixture)
    image_service,  # noqa: F401  (fixture)
)
from harness import VolumeApi

DATA = os.urandom(3 * MiB) + b"\0" * MiB + b"firebrick" * 1000


def _create_from(api: VolumeApi, image: dict[str, Any], size: int = 1, wait: str | None =
                 "available", volume_type: str = "img-raw") -> dict[str, Any]:  # fmt: skip
    return api.create_volume(size=size, imageRef=image["id"], volume_type=volume_type,
                             wait=wait)  # fmt: skip


@pytest.mark.parametrize(("disk_format", "backend"), [
    ("raw", "img-raw"), ("qcow2", "img-raw"), ("qcow2", "img-qcow2"), ("vmdk", "img-raw"),
    ("vdi", "img-qcow2"), ("vhdx", "img-raw"), ("vhd", "img-raw"),
])  # fmt: skip
def test_create_from_image_holds_the_image_bytes(
    image_service: ImageService, glance: GlanceEnv, disk_format: str, backend: str,  # noqa: F811
    tempest_schemas: Any,
) -> None:
    image = glance.image("alpha", DATA, disk_format, virtual_size=8 * MiB, os_distro="debian")
    with image_service.client() as api:
        volume = _create_from(api, image, volume_type=backend)
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
