from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from firebrick.api.microversion import APIVersion
from firebrick.api.views import volumes as views
from firebrick.domain.model import Volume

BASE_URL = "http://c:8776"
PROJECT = "9f0c3d2a6b1e4c5d8e7f6a5b4c3d2e1f"
VOLUME_ID = "6edbc2f4-1507-44f8-ac0d-eed1d2608d38"
TYPE_ID = "1b2c3d4e-0000-4000-8000-000000000001"

V3_0 = APIVersion(3, 0)
V3_48 = APIVersion(3, 48)
V3_63 = APIVersion(3, 63)
V3_65 = APIVersion(3, 65)
V3_71 = APIVersion(3, 71)

BASE_KEYS = {
    "id", "status", "size", "availability_zone", "created_at", "updated_at", "attachments",
    "name", "description", "volume_type", "snapshot_id", "source_volid", "metadata", "links",
    "user_id", "bootable", "encrypted", "replication_status", "consistencygroup_id",
    "multiattach",
}  # fmt: skip
OS_USER = {"os-vol-tenant-attr:tenant_id"}
OS_ADMIN = OS_USER | {
    "os-vol-host-attr:host",
    "os-vol-mig-status-attr:migstat",
    "os-vol-mig-status-attr:name_id",
}
V48 = {"group_id", "shared_targets", "service_uuid"}
V63 = V48 | {"volume_type_id"}
V65 = V63 | {"consumes_quota"}

# (version, is_admin) -> keys of the non-extended view (create / update responses).
EXPECTED_PLAIN: dict[tuple[APIVersion, bool], set[str]] = {
    (V3_0, False): BASE_KEYS,
    (V3_0, True): BASE_KEYS | {"migration_status"},
    (V3_48, False): BASE_KEYS | V48,
    (V3_48, True): BASE_KEYS | V48 | {"migration_status", "provider_id"},
    (V3_63, False): BASE_KEYS | V63,
    (V3_63, True): BASE_KEYS | V63 | {"migration_status", "provider_id", "cluster_name"},
    (V3_65, False): BASE_KEYS | V65,
    (V3_65, True): BASE_KEYS | V65 | {"migration_status", "provider_id", "cluster_name"},
    (V3_71, False): BASE_KEYS | V65,
    (V3_71, True): BASE_KEYS | V65 | {"migration_status", "provider_id", "cluster_name"},
}

# tempest's schemas (additionalProperties: false), latest microversion schema files merged.
TEMPEST_SHOW = BASE_KEYS | OS_ADMIN | V65 | {
    "migration_status", "provider_id", "cluster_name", "volume_image_metadata",
}  # fmt: skip
TEMPEST_CREATE = BASE_KEYS | V65 | {"migration_status", "provider_id", "cluster_name"}
TEMPEST_REQUIRED = BASE_KEYS  # tempest requires every base key


def make_volume(**overrides: Any) -> Volume:
    values: dict[str, Any] = {
        "id": VOLUME_ID,
        "project_id": PROJECT,
        "user_id": "2a4c",
        "size": 1,
        "status": "available",
        "created_at": datetime(2024, 5, 2, 10, 11, 12),
        "updated_at": datetime(2024, 5, 2, 10, 11, 15, 123456),
        "name": "vol1",
        "availability_zone": "nova",
        "volume_type_id": TYPE_ID,
        "volume_type_name": "__DEFAULT__",
        "host": "node1@lvm#pool",
        "metadata": {"k": "v"},
    }
    values.update(overrides)
    return Volume(**values)


def render(
    version: APIVersion, *, is_admin: bool, extended: bool, **overrides: Any
) -> dict[str, Any]:
    return views.detail(
        make_volume(**overrides),
        version=version,
        base_url=BASE_URL,
        project_in_url=True,
        is_admin=is_admin,
        extended=extended,
    )


@pytest.mark.parametrize(("version", "is_admin"), list(EXPECTED_PLAIN))
def test_plain_key_sets(version: APIVersion, is_admin: bool) -> None:
    body = render(version, is_admin=is_admin, extended=False)
    assert set(body) == EXPECTED_PLAIN[version, is_admin]
    assert set(body) <= TEMPEST_CREATE
    assert set(body) >= TEMPEST_REQUIRED


@pytest.mark.parametrize(("version", "is_admin"), list(EXPECTED_PLAIN))
def test_extended_key_sets(version: APIVersion, is_admin: bool) -> None:
    body = render(version, is_admin=is_admin, extended=True)
    extra = OS_ADMIN if is_admin else OS_USER
    assert set(body) == EXPECTED_PLAIN[version, is_admin] | extra
    assert set(body) <= TEMPEST_SHOW


@pytest.mark.parametrize(
    ("version", "key"),
    [
        (APIVersion(3, 12), None),
        (APIVersion(3, 13), "group_id"),
        (APIVersion(3, 20), None),
        (APIVersion(3, 21), "provider_id"),
        (APIVersion(3, 47), None),
        (APIVersion(3, 48), "shared_targets"),
        (APIVersion(3, 60), None),
        (APIVersion(3, 61), "cluster_name"),
        (APIVersion(3, 62), None),
        (APIVersion(3, 63), "volume_type_id"),
        (APIVersion(3, 64), None),
        (APIVersion(3, 65), "consumes_quota"),
    ],
)
def test_each_microversion_boundary(version: APIVersion, key: str | None) -> None:
    before = set(render(APIVersion(3, version.minor - 1), is_admin=True, extended=False))
    now = set(render(version, is_admin=True, extended=False))
    added = now - before
    if key is None:
        assert added == set()
    else:
        assert key in added


def test_values_at_3_0_member() -> None:
    body = render(V3_0, is_admin=False, extended=True)
    assert body == {
        "id": VOLUME_ID,
        "status": "available",
        "size": 1,
        "availability_zone": "nova",
        "created_at": "2024-05-02T10:11:12.000000",
        "updated_at": "2024-05-02T10:11:15.123456",
        "attachments": [],
        "name": "vol1",
        "description": None,
        "volume_type": "__DEFAULT__",
        "snapshot_id": None,
        "source_volid": None,
        "metadata": {"k": "v"},
        "links": [
            {"rel": "self", "href": f"{BASE_URL}/v3/{PROJECT}/volumes/{VOLUME_ID}"},
            {"rel": "bookmark", "href": f"{BASE_URL}/{PROJECT}/volumes/{VOLUME_ID}"},
        ],
        "user_id": "2a4c",
        "bootable": "false",
        "encrypted": False,
        "replication_status": None,
        "consistencygroup_id": None,
        "multiattach": False,
        "os-vol-tenant-attr:tenant_id": PROJECT,
    }


def test_values_at_3_71_admin() -> None:
    body = render(V3_71, is_admin=True, extended=True, migration_status="migrating")
    assert body["migration_status"] == "migrating"
    assert body["os-vol-mig-status-attr:migstat"] == "migrating"
    assert body["os-vol-mig-status-attr:name_id"] is None
    assert body["os-vol-host-attr:host"] == "node1@lvm#pool"
    assert body["provider_id"] is None
    assert body["cluster_name"] is None
    assert body["group_id"] is None
    assert body["shared_targets"] is False
    assert body["service_uuid"] is None
    assert body["volume_type_id"] == TYPE_ID
    assert body["consumes_quota"] is True


def test_bootable_is_a_string() -> None:
    assert render(V3_0, is_admin=False, extended=False, bootable=True)["bootable"] == "true"
    assert render(V3_0, is_admin=False, extended=False)["bootable"] == "false"


@pytest.mark.parametrize(
    ("internal", "shown"),
    [("managing", "creating"), ("error_managing", "error"), ("in-use", "in-use")],
)
def test_status_is_the_shown_one(internal: str, shown: str) -> None:
    assert render(V3_0, is_admin=False, extended=False, status=internal)["status"] == shown


def test_timestamps_are_naive_utc_with_microseconds() -> None:
    aware = datetime(2024, 5, 2, 12, 0, 0, tzinfo=timezone(timedelta(hours=2)))
    body = render(V3_0, is_admin=False, extended=False, created_at=aware, updated_at=None)
    assert body["created_at"] == "2024-05-02T10:00:00.000000"
    assert body["updated_at"] is None
    utc = datetime(2024, 1, 1, tzinfo=UTC)
    assert views.timestamp(utc) == "2024-01-01T00:00:00.000000"


@pytest.mark.parametrize(
    ("version", "name", "type_id", "expected"),
    [
        (V3_0, "gold", TYPE_ID, "gold"),
        (V3_0, None, TYPE_ID, TYPE_ID),
        (V3_0, None, None, None),
        (APIVersion(3, 62), None, TYPE_ID, TYPE_ID),
        (V3_63, "gold", TYPE_ID, "gold"),
        (V3_63, None, TYPE_ID, None),
        (V3_71, None, None, None),
    ],
)
def test_volume_type_name_or_id(
    version: APIVersion, name: str | None, type_id: str | None, expected: str | None
) -> None:
    body = render(
        version, is_admin=False, extended=False, volume_type_name=name, volume_type_id=type_id
    )
    assert body["volume_type"] == expected


def test_links_without_project_in_url() -> None:
    body = views.detail(
        make_volume(),
        version=APIVersion(3, 67),
        base_url=BASE_URL + "/",
        project_in_url=False,
        is_admin=False,
        extended=False,
    )
    assert body["links"] == [
        {"rel": "self", "href": f"{BASE_URL}/v3/volumes/{VOLUME_ID}"},
        {"rel": "bookmark", "href": f"{BASE_URL}/volumes/{VOLUME_ID}"},
    ]


def test_links_use_the_url_project_when_given() -> None:
    body = views.detail(
        make_volume(),
        version=V3_0,
        base_url=BASE_URL,
        project_in_url=True,
        is_admin=True,
        extended=True,
        url_project_id="adminproject",
    )
    assert body["links"][0]["href"] == f"{BASE_URL}/v3/adminproject/volumes/{VOLUME_ID}"
    assert body["os-vol-tenant-attr:tenant_id"] == PROJECT


def test_attachments_and_image_metadata_pass_through() -> None:
    attachment = {
        "id": VOLUME_ID, "attachment_id": "a1", "volume_id": VOLUME_ID, "server_id": "s1",
        "host_name": None, "device": "/dev/vdb", "attached_at": "2024-05-02T10:11:12.000000",
    }  # fmt: skip
    volume = make_volume(status="in-use", attach_status="attached")
    common: dict[str, Any] = {
        "version": V3_0, "base_url": BASE_URL, "project_in_url": True, "is_admin": False,
    }  # fmt: skip
    shown = views.detail(
        volume, extended=True, attachments=[attachment], image_metadata={"os": "x"}, **common
    )
    assert shown["attachments"] == [attachment]
    assert shown["volume_image_metadata"] == {"os": "x"}
    created = views.detail(volume, extended=False, image_metadata={"os": "x"}, **common)
    assert "volume_image_metadata" not in created


def test_metadata_is_a_copy() -> None:
    volume = make_volume()
    body = views.detail(
        volume, version=V3_0, base_url=BASE_URL, project_in_url=True, is_admin=False,
        extended=False,
    )  # fmt: skip
    body["metadata"]["x"] = "y"
    assert volume.metadata == {"k": "v"}


def test_summary() -> None:
    assert views.summary(make_volume(name=None), base_url=BASE_URL, project_in_url=True) == {
        "id": VOLUME_ID,
        "name": None,
        "links": [
            {"rel": "self", "href": f"{BASE_URL}/v3/{PROJECT}/volumes/{VOLUME_ID}"},
            {"rel": "bookmark", "href": f"{BASE_URL}/{PROJECT}/volumes/{VOLUME_ID}"},
        ],
    }


def test_list_body_plain() -> None:
    assert views.list_body([], next_marker_url=None, count=None) == {"volumes": []}


def test_list_body_with_next_and_count() -> None:
    items = [{"id": "a"}]
    body = views.list_body(items, next_marker_url="http://x/v3/p/volumes?marker=a", count=0)
    assert body == {
        "volumes": [{"id": "a"}],
        "volumes_links": [{"rel": "next", "href": "http://x/v3/p/volumes?marker=a"}],
        "count": 0,
    }


def test_list_body_other_collections() -> None:
    body = views.list_body(
        [], next_marker_url="u", count=None, key="volume_types", links_key="volume_type_links"
    )
    assert body == {"volume_types": [], "volume_type_links": [{"rel": "next", "href": "u"}]}
    assert "snapshots_links" in views.list_body(
        [], next_marker_url="u", count=None, key="snapshots"
    )


def test_timestamps_always_carry_microseconds_in_cinders_format() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    from firebrick.api.views.volumes import TIME_FORMAT, timestamp

    whole = datetime(2026, 12, 7, 13, 55, 42)
    assert timestamp(whole) == "2026-12-07T13:55:42.000000" == whole.strftime(TIME_FORMAT)
    assert timestamp(whole.replace(microsecond=876)) == "2026-12-07T13:55:42.000876"
    east = datetime(2026, 12, 7, 15, 55, 42, tzinfo=timezone(timedelta(hours=2)))
    assert timestamp(east) == "2026-12-07T13:55:42.000000"
    assert timestamp(whole.replace(tzinfo=UTC)) == "2026-12-07T13:55:42.000000"
    assert timestamp(None) is None
