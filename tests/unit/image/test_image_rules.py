"""The image rules that need no Glance: Cinder's checks, metadata, catalog lookup."""

from __future__ import annotations

import json
from typing import Any

import pytest

from firebrick.api import listing
from firebrick.api.image_api import check_image_metadata, volume_image_metadata
from firebrick.api.microversion import APIVersion
from firebrick.domain.errors import Invalid, InvalidInput
from firebrick.image import image_utils
from firebrick.image.access import GlanceAccess, image_endpoint
from firebrick.image.errors import GlanceUnavailable, ImageTooBig, ImageUnacceptable

GiB = 1 << 30


def image(**changes: Any) -> dict[str, Any]:
    base = {"id": "img-1", "name": "debian", "status": "active", "size": GiB // 2,
            "virtual_size": GiB, "min_disk": 0, "min_ram": 512, "disk_format": "qcow2",
            "container_format": "bare", "checksum": "abc", "os_hash_algo": "sha512",
            "os_hash_value": "def", "owner": "p1", "visibility": "private", "tags": [],
            "hw_disk_bus": "scsi", "os_distro": "debian", "stores": "fs"}  # fmt: skip
    return {**base, **changes}


def test_volume_image_metadata_is_cinders_selection() -> None:
    assert volume_image_metadata(image()) == {
        "image_id": "img-1", "image_name": "debian", "checksum": "abc",
        "container_format": "bare", "disk_format": "qcow2", "min_disk": "0",
        "min_ram": "512", "size": str(GiB // 2), "hw_disk_bus": "scsi", "os_distro": "debian",
    }  # fmt: skip


@pytest.mark.parametrize(("changes", "size", "message"), [
    ({"status": "deactivated"}, 1, "Image img-1 is not active."),
    ({"status": "queued"}, 1, "Image img-1 is not active."),
    ({"size": GiB + 1}, 1, "Size of specified image 2GB is larger than volume size 1GB."),
    ({"min_disk": 3}, 2, "Volume size 2GB cannot be smaller than the image minDisk size 3GB."),
    ({"virtual_size": 2 * GiB + 1}, 2, "Image virtual size is 3GB and doesn't fit in a "
     "volume of size 2GB."),
])  # fmt: skip
def test_check_image_metadata_refuses_as_cinder(
    changes: dict[str, Any], size: int, message: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_image_metadata(image(**changes), size)
    assert message in caught.value.message


def test_check_image_metadata_accepts_what_fits() -> None:
    check_image_metadata(image(virtual_size=None), 1)
    check_image_metadata(image(min_disk=1, virtual_size=GiB), 1)


def test_check_fits_and_formats() -> None:
    image_utils.check_fits("i", GiB, 1)
    with pytest.raises(ImageTooBig):
        image_utils.check_fits("i", GiB + 1, 1)
    assert image_utils.declared_format("i", "vhd") == "vpc"
    assert image_utils.declared_format("i", "iso") == "raw"
    with pytest.raises(ImageUnacceptable):
        image_utils.declared_format("i", "aki")
    with pytest.raises(ImageUnacceptable):
        image_utils.check_container("i", "docker")


def test_image_endpoint_from_a_v3_catalog() -> None:
    catalog = [
        {"type": "identity", "endpoints": [{"interface": "public", "url": "http://k/v3"}]},
        {"type": "image", "endpoints": [
            {"interface": "internal", "url": "http://glance-int:9292"},
            {"interface": "public", "url": "http://glance:9292"}]},
    ]  # fmt: skip
    assert image_endpoint(catalog) == "http://glance:9292"
    assert image_endpoint(json.dumps(catalog)) == "http://glance:9292"
    assert image_endpoint(catalog, "internal") == "http://glance-int:9292"
    assert image_endpoint("not json") is None
    assert image_endpoint([{"type": "volumev3", "endpoints": []}]) is None


def test_glance_access_prefers_glance_api_servers_and_needs_an_endpoint() -> None:
    access = GlanceAccess(["g1:9292", "https://g2:9292"], None)
    assert access.for_user("tok", "http://catalog:9292").base == "http://g1:9292/v2"
    assert access.for_user("tok", None).base == "https://g2:9292/v2"
    assert GlanceAccess([], None).for_user("tok", "http://c:9292/").base == "http://c:9292/v2"
    with pytest.raises(GlanceUnavailable):
        GlanceAccess([], None).for_user("tok", None)
    with pytest.raises(GlanceUnavailable):
        GlanceAccess([], None).for_service()


def test_glance_metadata_filter_from_34_and_for_admins_from_331() -> None:
    params = {"glance_metadata": "{'image_id': 'x'}"}
    found = listing.parse_list_query(dict(params), APIVersion(3, 4), False, max_limit=1000)
    assert found.filters["glance_metadata"] == {"image_id": "x"}
    older = listing.parse_list_query(dict(params), APIVersion(3, 3), False, max_limit=1000)
    assert "glance_metadata" not in older.filters
    with pytest.raises(Invalid):
        listing.parse_list_query(dict(params), APIVersion(3, 31), False, max_limit=1000)
    admin = listing.parse_list_query(dict(params), APIVersion(3, 71), True, max_limit=1000)
    assert admin.filters["glance_metadata"] == {"image_id": "x"}
    with pytest.raises(InvalidInput):
        listing.parse_list_query({"glance_metadata": "[1]"}, APIVersion(3, 4), False,
                                 max_limit=1000)  # fmt: skip
