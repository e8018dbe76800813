from __future__ import annotations

from typing import Any

import pytest

from firebrick.api.microversion import APIVersion
from firebrick.api.validation import (
    MULTIATTACH_REMOVED,
    VolumeCreateRequest,
    VolumeUpdateRequest,
    is_uuid_like,
    parse_json,
    parse_volume_create,
    parse_volume_update,
)
from firebrick.domain.errors import Invalid, InvalidInput

V3_0 = APIVersion(3, 0)
V3_52 = APIVersion(3, 52)
V3_53 = APIVersion(3, 53)
V3_71 = APIVersion(3, 71)
UUID1 = "0b6a5a1c-4b53-4e6e-9c36-8d9d2b7c8a11"
UUID2 = "c3c6a5d4-2f0e-4a4b-9d6e-1a2b3c4d5e6f"


def create(volume: Any, version: APIVersion = V3_0, **top: Any) -> VolumeCreateRequest:
    return parse_volume_create({"volume": volume, **top}, version)


# parse_json ---------------------------------------------------------------------------


def test_parse_json() -> None:
    assert parse_json(b'{"volume": {"size": 1}}') == {"volume": {"size": 1}}
    assert parse_json('{"a": "é"}'.encode()) == {"a": "é"}


@pytest.mark.parametrize("raw", [b"", b"{", b"{'a': 1}", b"\xff\xfe{}", b"nope", b"\x80"])
def test_parse_json_malformed(raw: bytes) -> None:
    with pytest.raises(Invalid) as err:
        parse_json(raw)
    assert err.value.message == "Malformed request body"
    assert err.value.code == 400


# create: envelope -----------------------------------------------------------------------


@pytest.mark.parametrize("body", [None, [], "x", {}, {"volumes": {}}, {"snapshot": {"size": 1}}])
def test_create_needs_volume_element(body: object) -> None:
    with pytest.raises(Invalid) as err:
        parse_volume_create(body, V3_0)
    assert err.value.message == "Missing required element 'volume' in request body."


@pytest.mark.parametrize("inner", [None, [], "x", 1])
def test_create_volume_must_be_an_object(inner: object) -> None:
    with pytest.raises(Invalid) as err:
        create(inner)
    assert err.value.code == 400
    assert "is not of type 'object'" in err.value.message


def test_minimal_create() -> None:
    assert create({"size": 1}) == VolumeCreateRequest(size=1)


def test_full_create() -> None:
    req = create(
        {
            "size": "10",
            "name": "  vol1 ",
            "description": "\tdesc\n",
            "volume_type": "lvmdriver-1",
            "availability_zone": "nova",
            "metadata": {"k": "v"},
            "consistencygroup_id": None,
            "multiattach": False,
        },
        V3_71,
        **{"OS-SCH-HNT:scheduler_hints": {"same_host": [UUID1]}},
    )
    assert req == VolumeCreateRequest(
        size=10,
        name="vol1",
        description="desc",
        volume_type="lvmdriver-1",
        availability_zone="nova",
        metadata={"k": "v"},
        scheduler_hints={"same_host": [UUID1]},
    )


# create: size ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "expected"),
    [(1, 1), ("1", 1), ("007", 7), (2**31 - 1, 2**31 - 1), (None, None)],
)
def test_good_sizes(size: object, expected: int | None) -> None:
    assert create({"size": size}).size == expected


def test_size_may_be_absent() -> None:
    assert create({"snapshot_id": UUID1}).size is None


@pytest.mark.parametrize(
    "size",
    [0, -1, "0", "-1", "abc", "", " 1", "1.5", 1.5, 1.0, True, False, 2**31, "2147483648",
     10**30, [], {}, "١"],
)  # fmt: skip
def test_bad_sizes(size: object) -> None:
    with pytest.raises(InvalidInput) as err:
        create({"size": size})
    assert err.value.code == 400
    assert err.value.message == (
        f"Invalid input received: Volume size '{size}' must be an integer and greater than 0"
    )


def test_size_zero_message_matches_cinder() -> None:
    with pytest.raises(InvalidInput) as err:
        create({"size": 0})
    assert err.value.message == (
        "Invalid input received: Volume size '0' must be an integer and greater than 0"
    )


# create: names ---------------------------------------------------------------------------


def test_display_aliases() -> None:
    req = create({"size": 1, "display_name": " a ", "display_description": "b"})
    assert (req.name, req.description) == ("a", "b")


def test_name_wins_over_display_name() -> None:
    req = create({"size": 1, "name": "new", "display_name": "old", "description": None,
                  "display_description": "old"})  # fmt: skip
    assert (req.name, req.description) == ("new", None)


@pytest.mark.parametrize("key", ["name", "description", "display_name", "display_description"])
def test_names_at_most_255(key: str) -> None:
    assert create({"size": 1, key: "x" * 255}) is not None
    with pytest.raises(InvalidInput) as err:
        create({"size": 1, key: "x" * 256})
    assert err.value.message == f"Invalid input received: {key} has 256 characters, more than 255."


@pytest.mark.parametrize("key", ["name", "description", "volume_type", "availability_zone",
                                 "imageRef"])  # fmt: skip
def test_string_fields_reject_other_types(key: str) -> None:
    with pytest.raises(Invalid) as err:
        create({"size": 1, key: 5})
    assert err.value.message == (
        f"Invalid input for field/attribute {key}. Value: 5. 5 is not of type 'string', 'null'"
    )


def test_empty_volume_type_means_default() -> None:
    assert create({"size": 1, "volume_type": ""}).volume_type is None


def test_availability_zone_length() -> None:
    with pytest.raises(InvalidInput):
        create({"size": 1, "availability_zone": "a" * 256})


# create: metadata -------------------------------------------------------------------------


def test_metadata_null_is_empty() -> None:
    assert create({"size": 1, "metadata": None}).metadata == {}


@pytest.mark.parametrize("metadata", [[], "k=v", 1])
def test_metadata_must_be_an_object(metadata: object) -> None:
    with pytest.raises(Invalid) as err:
        create({"size": 1, "metadata": metadata})
    assert "is not of type 'object', 'null'" in err.value.message


@pytest.mark.parametrize(
    ("metadata", "fragment"),
    [
        ({"k": 1}, "Invalid input for field/attribute k. Value: 1. 1 is not of type 'string'"),
        ({"k": None}, "is not of type 'string'"),
        ({"": "v"}, "Invalid metadata: Metadata key:  has 0 characters, less than 1."),
        ({"k" * 256: "v"}, "greater than 255 characters"),
        ({"k": "v" * 256}, "value greater than 255 characters"),
    ],
)
def test_bad_metadata(metadata: dict[str, Any], fragment: str) -> None:
    with pytest.raises(Invalid) as err:
        create({"size": 1, "metadata": metadata})
    assert err.value.code == 400
    assert fragment in err.value.message


def test_metadata_limits_are_inclusive() -> None:
    metadata = {"k" * 255: "v" * 255}
    assert create({"size": 1, "metadata": metadata}).metadata == metadata


# create: multiattach -------------------------------------------------------------------------


@pytest.mark.parametrize("value", [True, "true", "True", "1", "yes", "on"])
def test_multiattach_true_is_refused(value: object) -> None:
    with pytest.raises(Invalid) as err:
        create({"size": 1, "multiattach": value})
    assert err.value.message == MULTIATTACH_REMOVED


@pytest.mark.parametrize("value", [False, "false", "0", "no", None])
def test_multiattach_false_is_fine(value: object) -> None:
    assert create({"size": 1, "multiattach": value}).multiattach is False


@pytest.mark.parametrize("value", ["maybe", 1, []])
def test_multiattach_must_be_boolean(value: object) -> None:
    with pytest.raises(Invalid):
        create({"size": 1, "multiattach": value})


# create: sources -------------------------------------------------------------------------


def test_sources() -> None:
    assert create({"snapshot_id": UUID1}).snapshot_id == UUID1
    assert create({"source_volid": UUID1}).source_volid == UUID1
    assert create({"imageRef": "cirros"}).image_ref == "cirros"
    assert create({"image_id": UUID1}).image_ref == UUID1
    assert create({"consistencygroup_id": UUID1, "size": 1}).consistencygroup_id == UUID1


def test_imageref_wins_over_image_id() -> None:
    assert create({"imageRef": "a", "image_id": "b"}).image_ref == "a"


@pytest.mark.parametrize(
    "volume",
    [
        {"snapshot_id": UUID1, "source_volid": UUID2},
        {"snapshot_id": UUID1, "imageRef": "img"},
        {"source_volid": UUID1, "image_id": "img"},
        {"snapshot_id": UUID1, "backup_id": UUID2},
    ],
)
def test_sources_are_exclusive(volume: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput) as err:
        create(volume, APIVersion(3, 47))
    assert err.value.message == (
        "Invalid input received: May specify only one of backup, imageRef, snapshot, source volume"
    )


def test_null_sources_do_not_count() -> None:
    req = create({"size": 1, "snapshot_id": None, "source_volid": None, "imageRef": None})
    assert req.snapshot_id is None


@pytest.mark.parametrize("key", ["snapshot_id", "source_volid", "consistencygroup_id"])
@pytest.mark.parametrize("value", ["abc", "", "0b6a5a1c-4b53-4e6e-9c36", UUID1 + "0"])
def test_ids_must_be_uuids(key: str, value: str) -> None:
    with pytest.raises(Invalid) as err:
        create({"size": 1, key: value})
    assert err.value.message == (
        f"Invalid input for field/attribute {key}. Value: {value}. '{value}' is not a 'uuid'"
    )


def test_is_uuid_like() -> None:
    assert is_uuid_like(UUID1)
    assert is_uuid_like(UUID1.upper())
    assert is_uuid_like(UUID1.replace("-", ""))
    assert not is_uuid_like("{" + UUID1 + "}")
    assert not is_uuid_like("urn:uuid:" + UUID1)


# create: microversion gates -------------------------------------------------------------------


def test_group_id_from_3_13() -> None:
    assert create({"size": 1, "group_id": UUID1}, APIVersion(3, 12)).group_id is None
    assert create({"size": 1, "group_id": UUID1}, APIVersion(3, 13)).group_id == UUID1


def test_group_id_ignored_before_3_13_even_if_invalid() -> None:
    assert create({"size": 1, "group_id": "junk"}, APIVersion(3, 12)).group_id is None


def test_backup_id_from_3_47() -> None:
    assert create({"backup_id": UUID1}, APIVersion(3, 46)).backup_id is None
    assert create({"backup_id": UUID1}, APIVersion(3, 47)).backup_id == UUID1


def test_backup_id_before_3_47_does_not_conflict() -> None:
    req = create({"snapshot_id": UUID1, "backup_id": UUID2}, APIVersion(3, 46))
    assert (req.snapshot_id, req.backup_id) == (UUID1, None)


def test_unknown_keys_ignored_before_3_53() -> None:
    assert create({"size": 1, "foo": "bar"}, V3_52) == VolumeCreateRequest(size=1)


def test_unknown_keys_refused_from_3_53() -> None:
    with pytest.raises(Invalid) as err:
        create({"size": 1, "foo": "bar"}, V3_53)
    assert err.value.code == 400
    assert err.value.message == "Additional properties are not allowed ('foo' was unexpected)"


def test_several_unknown_keys() -> None:
    with pytest.raises(Invalid) as err:
        create({"size": 1, "foo": 1, "bar": 2}, V3_71)
    assert err.value.message == (
        "Additional properties are not allowed ('bar', 'foo' were unexpected)"
    )


def test_all_known_keys_accepted_at_latest() -> None:
    req = create(
        {
            "size": 1, "name": None, "description": None, "display_name": None,
            "display_description": None, "volume_type": None, "metadata": None,
            "snapshot_id": None, "source_volid": None, "consistencygroup_id": None,
            "availability_zone": None, "multiattach": None, "image_id": None,
            "imageRef": None, "group_id": None, "backup_id": None,
        },
        V3_71,
    )  # fmt: skip
    assert req == VolumeCreateRequest(size=1)


def test_scheduler_hints() -> None:
    hints = "OS-SCH-HNT:scheduler_hints"
    assert parse_volume_create({"volume": {"size": 1}, hints: None}, V3_0).scheduler_hints == {}
    with pytest.raises(Invalid):
        parse_volume_create({"volume": {"size": 1}, hints: ["x"]}, V3_0)
    inside = parse_volume_create({"volume": {"size": 1, "scheduler_hints": {"a": 1}}}, V3_71)
    assert inside.scheduler_hints == {"a": 1}


# update ---------------------------------------------------------------------------------------


def update(volume: Any, version: APIVersion = V3_0) -> VolumeUpdateRequest:
    return parse_volume_update({"volume": volume}, version)


def test_update_name_only() -> None:
    req = update({"name": " new "})
    assert req.name == "new"
    assert req.changes() == {"name": "new"}


def test_update_everything() -> None:
    req = update({"display_name": "n", "display_description": "d", "metadata": {"a": "b"}})
    assert req.changes() == {"name": "n", "description": "d", "metadata": {"a": "b"}}


def test_update_clear_fields() -> None:
    req = update({"name": None, "description": None, "metadata": None})
    assert req.changes() == {"name": None, "description": None, "metadata": {}}


def test_update_empty_before_3_53_changes_nothing() -> None:
    assert update({}, V3_52).changes() == {}
    assert update({"foo": 1}, V3_52).changes() == {}


def test_update_empty_from_3_53_is_400() -> None:
    with pytest.raises(Invalid) as err:
        update({}, V3_53)
    assert err.value.message == (
        "Invalid input for field/attribute volume. Value: {}. {} does not have enough properties"
    )


def test_update_unknown_key_from_3_53_is_400() -> None:
    with pytest.raises(Invalid) as err:
        update({"name": "x", "size": 2}, V3_53)
    assert err.value.message == "Additional properties are not allowed ('size' was unexpected)"


@pytest.mark.parametrize("body", [None, {}, {"name": "x"}, {"volume": "x"}])
def test_update_envelope(body: object) -> None:
    with pytest.raises(Invalid):
        parse_volume_update(body, V3_0)


@pytest.mark.parametrize(
    "volume",
    [{"name": "x" * 256}, {"description": 5}, {"metadata": []}, {"metadata": {"k": 1}}],
)
def test_update_bad_values(volume: dict[str, Any]) -> None:
    with pytest.raises(Invalid):
        update(volume, V3_71)
