from __future__ import annotations

from typing import Any

import pytest

from firebrick.api.microversion import APIVersion
from firebrick.api.transfer_requests import LEGACY_SORT, parse_accept, parse_create, parse_list
from firebrick.domain.errors import Invalid

VOL = "0b7e8f3c-5d71-4a5e-8a8c-6f7d1d1f5e21"
V3_0, V3_55, V3_59 = APIVersion(3, 0), APIVersion(3, 55), APIVersion(3, 59)


def test_create_strips_the_name_and_reads_no_snapshots_from_355() -> None:
    req = parse_create({"transfer": {"volume_id": VOL, "name": " x "}}, V3_0, legacy=True)
    assert (req.volume_id, req.name, req.no_snapshots) == (VOL, "x", False)
    req = parse_create({"transfer": {"volume_id": VOL, "no_snapshots": "yes"}}, V3_55,
                       legacy=False)  # fmt: skip
    assert req.no_snapshots is True and req.name is None


@pytest.mark.parametrize(
    ("body", "version", "legacy"),
    [
        ({"transfer": {"volume_id": VOL, "no_snapshots": True}}, V3_55, True),
        ({"transfer": {"volume_id": VOL, "no_snapshots": True}}, APIVersion(3, 54), False),
        ({"transfer": {"volume_id": VOL, "no_snapshots": "perhaps"}}, V3_55, False),
        ({"transfer": {"volume_id": VOL, "name": ""}}, V3_0, True),
        ({"transfer": {"volume_id": VOL, "name": 5}}, V3_0, True),
        ({"transfer": {"volume_id": VOL.upper() + "0"}}, V3_0, True),
        ({"transfer": {}}, V3_0, True),
        ({"transfer": []}, V3_0, True),
        ({}, V3_0, True),
        ([], V3_0, True),
    ],
)
def test_create_refuses_what_cinders_schemas_refuse(
    body: Any, version: APIVersion, legacy: bool
) -> None:
    with pytest.raises(Invalid):
        parse_create(body, version, legacy=legacy)


def test_accept_takes_a_string_or_an_integer_and_never_echoes_it() -> None:
    assert parse_accept({"accept": {"auth_key": "abc"}}) == "abc"
    assert parse_accept({"accept": {"auth_key": 123}}) == "123"
    bodies = [{"accept": {"auth_key": "secret-1", "more": 1}}, {"accept": "secret-1"},
              {"accept": {"auth_key": ["secret-1"]}}, {"accept": {"auth_key": True}}]  # fmt: skip
    for body in bodies:
        with pytest.raises(Invalid) as err:
            parse_accept(body)
        assert "secret-1" not in err.value.message


def test_list_before_359_is_oldest_first_and_from_359_sorts_as_asked() -> None:
    legacy = parse_list({"sort": "id:desc", "limit": "5"}, V3_59, legacy=True, is_admin=False,
                        max_limit=1000)  # fmt: skip
    assert legacy.sort == LEGACY_SORT and legacy.limit == 5
    paged = parse_list({}, V3_59, legacy=False, is_admin=False, max_limit=1000)
    assert paged.sort == [("created_at", "desc"), ("id", "desc")]
    asked = parse_list({"sort": "display_name:asc,volume_id"}, V3_59, legacy=False,
                       is_admin=False, max_limit=1000)  # fmt: skip
    assert asked.sort == [("display_name", "asc"), ("volume_id", "desc"), ("created_at", "asc"),
                          ("id", "asc")]  # fmt: skip
    for bad in ({"sort": "name"}, {"sort_key": "crypt_hash"}, {"sort_dir": "sideways"},
                {"sort": "id", "sort_dir": "asc"}):  # fmt: skip
        with pytest.raises(Invalid):
            parse_list(bad, V3_59, legacy=False, is_admin=False, max_limit=1000)


def test_list_filters_and_all_tenants() -> None:
    query = parse_list({"name": "a", "all_tenants": "1", "project_id": "p"}, V3_0, legacy=True,
                       is_admin=False, max_limit=10)  # fmt: skip
    assert query.filters == {"display_name": "a"}
    assert (query.all_tenants, query.project_id, query.limit) == (False, None, 10)
    admin = parse_list({"all_tenants": "yes", "project_id": "p"}, V3_0, legacy=True,
                       is_admin=True, max_limit=10)  # fmt: skip
    assert (admin.all_tenants, admin.project_id, admin.filters) == (True, "p", {})
    assert parse_list({"all_tenants": "maybe"}, V3_0, legacy=True, is_admin=True,
                      max_limit=10).all_tenants is False  # fmt: skip
    unknown = parse_list({"status": "x"}, V3_0, legacy=True, is_admin=True, max_limit=10)
    assert unknown.filters is None
    assert parse_list({"accepted": "false"}, V3_0, legacy=True, is_admin=False,
                      max_limit=10).filters == {"accepted": False}  # fmt: skip
    with pytest.raises(Invalid):
        parse_list({"accepted": "perhaps"}, V3_0, legacy=True, is_admin=False, max_limit=10)
