from __future__ import annotations

from firebrick.api.views.types import volume_type
from firebrick.domain.model import VolumeType

SPECS = {
    "volume_backend_name": "lvm",
    "RESKEY:availability_zones": "az1,az2",
    "multiattach": "<is> True",
    "replication_enabled": "<is> False",
    "capabilities:thin": "<is> True",
}
TEMPEST_ALLOWED = {
    "extra_specs", "name", "is_public", "description", "id",
    "os-volume-type-access:is_public", "qos_specs_id",
}  # fmt: skip


def make_type(**kw: object) -> VolumeType:
    values: dict[str, object] = {"id": "t1", "name": "gold", "extra_specs": dict(SPECS)}
    values.update(kw)
    return VolumeType(**values)  # type: ignore[arg-type]


def test_admin_sees_everything() -> None:
    assert volume_type(make_type(description="fast"), is_admin=True) == {
        "id": "t1",
        "name": "gold",
        "description": "fast",
        "is_public": True,
        "os-volume-type-access:is_public": True,
        "extra_specs": SPECS,
        "qos_specs_id": None,
    }


def test_member_sees_user_visible_specs_only() -> None:
    body = volume_type(make_type(is_public=False), is_admin=False)
    assert body == {
        "id": "t1",
        "name": "gold",
        "description": None,
        "is_public": False,
        "os-volume-type-access:is_public": False,
        "extra_specs": {
            "RESKEY:availability_zones": "az1,az2",
            "multiattach": "<is> True",
            "replication_enabled": "<is> False",
        },
    }


def test_member_with_no_visible_specs() -> None:
    body = volume_type(make_type(extra_specs={"volume_backend_name": "lvm"}), is_admin=False)
    assert body["extra_specs"] == {}


def test_key_sets_fit_tempest() -> None:
    for is_admin in (True, False):
        keys = set(volume_type(make_type(), is_admin=is_admin))
        assert {"name", "is_public", "description", "id"} <= keys <= TEMPEST_ALLOWED


def test_extra_specs_is_a_copy() -> None:
    t = make_type()
    volume_type(t, is_admin=True)["extra_specs"]["x"] = "y"
    assert "x" not in t.extra_specs
