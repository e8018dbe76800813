from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qsl, urlsplit

import pytest

from firebrick.api.listing import ListQuery, needs_next_link, next_link, parse_list_query
from firebrick.api.microversion import APIVersion
from firebrick.domain.errors import Invalid, InvalidInput

V3_0 = APIVersion(3, 0)
V3_1 = APIVersion(3, 1)
V3_2 = APIVersion(3, 2)
V3_30 = APIVersion(3, 30)
V3_31 = APIVersion(3, 31)
V3_44 = APIVersion(3, 44)
V3_45 = APIVersion(3, 45)
V3_59 = APIVersion(3, 59)
V3_60 = APIVersion(3, 60)
LATEST = APIVersion(3, 71)


def parse(
    params: dict[str, str], version: APIVersion = LATEST, is_admin: bool = False
) -> ListQuery:
    return parse_list_query(params, version, is_admin)


def test_defaults() -> None:
    assert parse({}) == ListQuery(
        limit=1000,
        marker=None,
        offset=0,
        sort=[("created_at", "desc")],
        filters={},
        with_count=False,
        all_tenants=False,
    )


# pagination -----------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "limit"), [("0", 0), ("5", 5), ("1000", 1000), ("5000", 1000)])
def test_limit(raw: str, limit: int) -> None:
    assert parse({"limit": raw}).limit == limit


def test_limit_capped_at_max_limit() -> None:
    assert parse_list_query({"limit": "50"}, LATEST, False, max_limit=20).limit == 20
    assert parse_list_query({}, LATEST, False, max_limit=20).limit == 20


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("abc", "limit param must be an integer"),
        ("1.5", "limit param must be an integer"),
        ("", "limit param must be an integer"),
        ("-1", "limit param must be positive"),
    ],
)
def test_bad_limit(raw: str, message: str) -> None:
    with pytest.raises(Invalid) as err:
        parse({"limit": raw})
    assert err.value.code == 400
    assert err.value.message == message


def test_marker_and_offset() -> None:
    query = parse({"marker": "abc", "offset": "3"})
    assert (query.marker, query.offset) == ("abc", 3)


@pytest.mark.parametrize("raw", ["-1", "x", "2147483648"])
def test_bad_offset(raw: str) -> None:
    with pytest.raises(Invalid):
        parse({"offset": raw})


# sort ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "sort"),
    [
        ({"sort": "name:asc"}, [("name", "asc")]),
        ({"sort": "size:asc,created_at:desc"}, [("size", "asc"), ("created_at", "desc")]),
        ({"sort": "status"}, [("status", "desc")]),
        ({"sort": " id : asc , name"}, [("id", "asc"), ("name", "desc")]),
        ({"sort_key": "size"}, [("size", "desc")]),
        ({"sort_dir": "asc"}, [("created_at", "asc")]),
        ({"sort_key": "name", "sort_dir": "asc"}, [("name", "asc")]),
        ({"sort": "bootable:asc,volume_type,updated_at,availability_zone:asc"},
         [("bootable", "asc"), ("volume_type", "desc"), ("updated_at", "desc"),
          ("availability_zone", "asc")]),
    ],
)  # fmt: skip
def test_sort(params: dict[str, str], sort: list[tuple[str, str]]) -> None:
    assert parse(params).sort == sort


def test_sort_keeps_name_untranslated() -> None:
    assert parse({"sort": "name"}).sort == [("name", "desc")]


@pytest.mark.parametrize("params", [{"sort": "name", "sort_key": "id"},
                                    {"sort": "name", "sort_dir": "asc"}])  # fmt: skip
def test_sort_mixing_styles_is_400(params: dict[str, str]) -> None:
    with pytest.raises(Invalid) as err:
        parse(params)
    assert "cannot be used with the 'sort' parameter" in err.value.message


@pytest.mark.parametrize(
    "params",
    [{"sort": "host:asc"}, {"sort_key": "password"}, {"sort": "name,"}, {"sort_key": ""},
     {"sort": "provider_location"}],
)  # fmt: skip
def test_invalid_sort_key(params: dict[str, str]) -> None:
    with pytest.raises(InvalidInput) as err:
        parse(params)
    assert err.value.message == "Invalid input received: Invalid sort key"


@pytest.mark.parametrize("params", [{"sort": "name:up"}, {"sort_dir": "ASC"},
                                    {"sort_key": "id", "sort_dir": "sideways"}])  # fmt: skip
def test_invalid_sort_dir(params: dict[str, str]) -> None:
    with pytest.raises(InvalidInput) as err:
        parse(params)
    assert "Unknown sort direction, must be 'desc' or 'asc'." in err.value.message


# filters -------------------------------------------------------------------------------------


def test_user_filters() -> None:
    query = parse(
        {
            "name": "vol1",
            "status": "available",
            "availability_zone": "nova",
            "group_id": "g1",
            "migration_status": "migrating",
            "metadata": "{'k': 'v', 'n': 1}",
            "bootable": "true",
            "consumes_quota": "false",
            "size": "10",
        }
    )
    assert query.filters == {
        "name": "vol1",
        "status": "available",
        "availability_zone": "nova",
        "group_id": "g1",
        "migration_status": "migrating",
        "metadata": {"k": "v", "n": "1"},
        "bootable": True,
        "consumes_quota": False,
        "size": 10,
    }


def test_name_filter_is_kept_raw() -> None:
    assert parse({"name": "'quoted'"}).filters == {"name": "'quoted'"}


@pytest.mark.parametrize("version", [V3_31, LATEST])
def test_unknown_filter_rejected_from_3_31(version: APIVersion) -> None:
    with pytest.raises(Invalid) as err:
        parse({"host": "h", "foo": "1", "name": "x"}, version)
    assert err.value.message == "Invalid filters host,foo are found in query options."


@pytest.mark.parametrize("version", [V3_0, V3_30])
def test_unknown_filter_dropped_before_3_31(version: APIVersion) -> None:
    query = parse({"host": "h", "foo": "1", "name": "x", "size": "3"}, version)
    assert query.filters == {"name": "x"}


def test_admin_filters() -> None:
    query = parse(
        {"host": "h@b#p", "user_id": "u", "volume_type_id": "t", "all_tenants": "1",
         "project_id": "p"},
        is_admin=True,
    )  # fmt: skip
    assert query.filters == {"host": "h@b#p", "user_id": "u", "volume_type_id": "t",
                             "project_id": "p"}  # fmt: skip
    assert query.all_tenants is True


def test_admin_unknown_filter_still_rejected() -> None:
    with pytest.raises(Invalid):
        parse({"provider_location": "x"}, is_admin=True)


def test_admin_legacy_keeps_admin_filters() -> None:
    assert parse({"host": "h", "foo": "x"}, V3_0, is_admin=True).filters == {"host": "h"}


def test_group_id_filter_from_3_10() -> None:
    assert parse({"group_id": "g"}, APIVersion(3, 9)).filters == {}
    assert parse({"group_id": "g"}, APIVersion(3, 10)).filters == {"group_id": "g"}


def test_non_ascii_filter_key() -> None:
    with pytest.raises(Invalid) as err:
        parse({"nåme": "x"})
    assert err.value.message == "Filter keys can only contain ASCII characters."


# all_tenants / project_id ------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1", "true", "True", "yes"])
def test_all_tenants_for_admin(value: str) -> None:
    assert parse({"all_tenants": value}, is_admin=True).all_tenants is True


def test_all_tenants_false_for_admin() -> None:
    assert parse({"all_tenants": "0"}, is_admin=True).all_tenants is False


def test_all_tenants_invalid_for_admin() -> None:
    with pytest.raises(Invalid) as err:
        parse({"all_tenants": "maybe"}, is_admin=True)
    assert err.value.message == "Value 'maybe' for 'all_tenants' is not a boolean."


@pytest.mark.parametrize("version", [V3_0, LATEST])
@pytest.mark.parametrize("value", ["1", "maybe"])
def test_all_tenants_silently_ignored_for_members(version: APIVersion, value: str) -> None:
    query = parse({"all_tenants": value}, version)
    assert query.all_tenants is False
    assert query.filters == {}


def test_project_id_needs_admin_and_all_tenants() -> None:
    assert parse({"project_id": "p"}, is_admin=True).filters == {}
    assert parse({"project_id": "p", "all_tenants": "0"}, is_admin=True).filters == {}
    with pytest.raises(Invalid):
        parse({"project_id": "p", "all_tenants": "1"})
    assert parse({"project_id": "p"}, V3_0).filters == {}


# typed filter values -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("True", True), ("1", True), ("t", True), ("yes", True),
     ("false", False), ("FALSE", False), ("0", False), ("f", False), ("no", False)],
)  # fmt: skip
def test_strict_bootable(raw: str, expected: bool) -> None:
    assert parse({"bootable": raw}, V3_2).filters == {"bootable": expected}


@pytest.mark.parametrize("raw", ["maybe", "", "2", "tru"])
def test_strict_bootable_rejects(raw: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse({"bootable": raw}, V3_2)
    assert err.value.message == f"Invalid input received: 'bootable = {raw}'"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("false", False), ("False", False), ("FALSE", False), ("true", True), ("maybe", True),
     ("0", True), ("", False)],
)  # fmt: skip
def test_lax_bootable_before_3_2(raw: str, expected: bool) -> None:
    assert parse({"bootable": raw}, V3_1).filters == {"bootable": expected}


def test_consumes_quota_is_strict_too() -> None:
    with pytest.raises(InvalidInput):
        parse({"consumes_quota": "maybe"})


@pytest.mark.parametrize("raw", ["{'k': 'v'}", '{"k": "v"}', "{'k': u'v'}"])
def test_metadata_literals(raw: str) -> None:
    assert parse({"metadata": raw}).filters == {"metadata": {"k": "v"}}


def test_metadata_values_stringified() -> None:
    assert parse({"metadata": "{'a': 1, 'b': True, 'c': None}"}).filters == {
        "metadata": {"a": "1", "b": "True", "c": "None"}
    }


@pytest.mark.parametrize("raw", ["k=v", "['k']", "{", "__import__('os')", "", "1"])
def test_bad_metadata_filter(raw: str) -> None:
    with pytest.raises(InvalidInput):
        parse({"metadata": raw})


@pytest.mark.parametrize("raw", ["abc", "1.5", ""])
def test_bad_size_filter(raw: str) -> None:
    with pytest.raises(InvalidInput):
        parse({"size": raw})


def test_time_filters_from_3_60() -> None:
    query = parse(
        {"created_at": "gte:2024-01-01T00:00:00,lt:2024-02-01T10:20:30Z",
         "updated_at": "neq:2024-03-01T01:00:00+01:00"},
        V3_60,
    )  # fmt: skip
    assert query.filters == {
        "created_at": {"gte": datetime(2024, 1, 1), "lt": datetime(2024, 2, 1, 10, 20, 30)},
        "updated_at": {"neq": datetime(2024, 3, 1)},
    }


def test_time_filters_raw_before_3_60() -> None:
    raw = "2024-01-01T00:00:00"
    assert parse({"created_at": raw}, V3_59).filters == {"created_at": raw}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("2024-01-01T00:00:00", "Invalid 2024-01-01T00 operator"),
        ("after:2024-01-01", "Invalid after operator"),
        ("gte", "Invalid created_at value"),
        ("gte:yesterday", "Invalid yesterday value"),
    ],
)
def test_bad_time_filters(raw: str, message: str) -> None:
    with pytest.raises(Invalid) as err:
        parse({"created_at": raw}, V3_60)
    assert err.value.message == message


# with_count ---------------------------------------------------------------------------------------


def test_with_count_from_3_45() -> None:
    assert parse({"with_count": "true"}, V3_45).with_count is True
    assert parse({"with_count": "false"}, V3_45).with_count is False


def test_with_count_invalid() -> None:
    with pytest.raises(Invalid) as err:
        parse({"with_count": "maybe"}, V3_45)
    assert err.value.message == "Value 'maybe' for 'with_count' is not a boolean."


def test_with_count_before_3_45_is_an_unknown_filter() -> None:
    with pytest.raises(Invalid) as err:
        parse({"with_count": "true"}, V3_44)
    assert err.value.message == "Invalid filters with_count are found in query options."
    query = parse({"with_count": "true"}, V3_30)
    assert (query.with_count, query.filters) == (False, {})


# next links ---------------------------------------------------------------------------------------


def test_next_link_replaces_marker() -> None:
    url = next_link(
        "http://c:8776/v3/p/volumes/detail",
        {"limit": "2", "marker": "old", "sort": "name:asc", "metadata": "{'k': 'v w'}"},
        "last-id",
    )
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("http", "c:8776", "/v3/p/volumes/detail")
    assert parse_qsl(parts.query) == [
        ("limit", "2"), ("marker", "last-id"), ("sort", "name:asc"), ("metadata", "{'k': 'v w'}"),
    ]  # fmt: skip


def test_next_link_adds_marker() -> None:
    assert next_link("http://c/v3/volumes", {"limit": "1"}, "abc") == (
        "http://c/v3/volumes?limit=1&marker=abc"
    )
    assert next_link("http://c/v3/volumes", {}, "abc") == "http://c/v3/volumes?marker=abc"


@pytest.mark.parametrize(
    ("limit", "returned", "total", "expected"),
    [
        (2, 2, None, True),
        (2, 1, None, False),
        (0, 0, None, False),
        (1000, 1000, None, True),
        (2, 0, 5, False),
        (2, 1, 5, True),  # Cinder compares the limit with the total when counting
    ],
)
def test_needs_next_link(limit: int, returned: int, total: int | None, expected: bool) -> None:
    assert needs_next_link(limit, returned, total) is expected


def test_display_name_sort_key_as_cinderclient_sends_it() -> None:
    # cinderclient turns `--sort name` into `sort=display_name:asc`.
    query = parse_list_query({"sort": "display_name:asc"}, APIVersion(3, 71), is_admin=False)
    assert query.sort == [("display_name", "asc")]
