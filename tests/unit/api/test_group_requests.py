"""The group APIs' request checks: Cinder's schemas and messages, list query parsing."""

from __future__ import annotations

import pytest

from firebrick.api import group_listing
from firebrick.api.group_schemas import parse_bool, validate
from firebrick.api.microversion import APIVersion
from firebrick.api.routes.groups import GROUP_ACTION_RULES
from firebrick.domain.errors import Invalid
from firebrick.domain.groups import InvalidGroupSnapshotStatus, InvalidGroupStatus
from firebrick.policy import RULES

UUID = "3f2a8a52-32c9-4b3c-9bb1-2f1e2d7c7f10"


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        ("group_type_create", {"group_type": {"name": " "}},
         "An invalid 'name' value was provided. The 'name' can not be empty."),
        ("group_type_create", {"group_type": {"name": "a", "x": 1}},
         "Invalid input for field/attribute group_type. Value: {'name': 'a', 'x': 1}. "
         "Additional properties are not allowed ('x' was unexpected)"),
        ("group_create", {"group": {"group_type": "g", "volume_types": "v"}},
         "Invalid input for field/attribute volume_types. Value: v. 'v' is not of type "
         "'array'"),
        ("group_create", {"group": {"group_type": "g", "volume_types": ["v"],
                                    "availability_zone": ""}},
         "The 'availability_zone' can not be None."),
        ("group_create_from_src", {"create-from-src": {"source_group_id": "x"}},
         "Invalid input for field/attribute source_group_id. Value: x. 'x' is not a 'uuid'"),
        ("group_delete", {"delete": {"delete-volumes": "perhaps"}},
         "Invalid input for field/attribute delete-volumes. Value: perhaps."),
        ("group_specs_update", {"a": "b", "c": "d"}, "has too many properties"),
        ("group_snapshot_create", {"group_snapshot": {}}, "'group_id' is a required property"),
    ],
)  # fmt: skip
def test_cinder_messages(name: str, body: object, message: str) -> None:
    with pytest.raises(Invalid) as raised:
        validate(name, body)
    assert raised.value.message.startswith(message) or message in raised.value.message


def test_statuses_are_checked_as_cinder_checks_them() -> None:
    assert validate("group_reset_status", {"reset_status": {"status": "ERROR"}})
    with pytest.raises(InvalidGroupStatus):
        validate("group_reset_status", {"reset_status": {"status": "in-use"}})
    with pytest.raises(InvalidGroupSnapshotStatus):
        validate("group_snapshot_reset_status", {"reset_status": {"status": "nope"}})


def test_valid_bodies_pass() -> None:
    validate("group_create", {"group": {"group_type": "g", "volume_types": ["a", "b"],
                                        "name": None, "description": None,
                                        "availability_zone": None}})  # fmt: skip
    validate("group_create_from_src", {"create-from-src": {"group_snapshot_id": UUID}})
    validate("group_update", {"group": {"add_volumes": f"{UUID},"}})
    validate("group_specs_create", {"group_specs": {"k": None}})
    assert parse_bool("yes") and parse_bool(True) and not parse_bool("0")


def parse(params: dict[str, str], *, admin: bool = False, version: str = "3.31"):  # type: ignore[no-untyped-def]
    return group_listing.parse(params, version=APIVersion.parse(version), is_admin=admin,
                               sort_keys=("name", "created_at", "id"), user_filters=("name",),
                               max_limit=1000)  # fmt: skip


def test_list_query_defaults_and_paging() -> None:
    query = parse({})
    assert (query.limit, query.offset, query.sort, query.filters) == (
        1000, 0, [("created_at", "desc")], {})  # fmt: skip
    query = parse({"limit": "5000", "offset": "2", "sort": "name:asc,id", "marker": "m"})
    assert (query.limit, query.offset, query.marker) == (1000, 2, "m")
    assert query.sort == [("name", "asc"), ("id", "desc")]
    for bad in (
        {"limit": "x"},
        {"limit": "-1"},
        {"offset": "-1"},
        {"sort": "color"},
        {"sort": "name:up"},
        {"sort": "name", "sort_key": "name"},
    ):
        with pytest.raises(Invalid):
            parse(bad)


def test_user_filters_from_3_31_and_all_tenants() -> None:
    with pytest.raises(Invalid, match="Invalid filters status"):
        parse({"status": "available"})
    assert parse({"status": "available"}, version="3.30").filters == {"status": "available"}
    assert parse({"status": "available"}, admin=True).filters == {"status": "available"}
    assert not parse({"all_tenants": "1"}).all_tenants
    assert parse({"all_tenants": "0"}, admin=True).all_tenants  # Cinder: its presence counts
    with pytest.raises(Invalid, match="ASCII"):
        parse({"nämé": "x"}, admin=True)


def test_every_group_action_names_a_rule_with_a_default() -> None:
    assert set(GROUP_ACTION_RULES.values()) <= set(RULES)
