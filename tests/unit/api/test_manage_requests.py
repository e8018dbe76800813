"""Manage requests and manageable-list queries, read as Cinder's schemas read them."""

from __future__ import annotations

import pytest

from firebrick.api.manage_requests import (
    parse_manage_snapshot,
    parse_manage_volume,
    parse_manageable_query,
)
from firebrick.api.microversion import APIVersion
from firebrick.domain.errors import Invalid

V3_0, V3_16, V3_17 = APIVersion(3, 0), APIVersion(3, 16), APIVersion(3, 17)
SNAP_ID = "3f2a8a52-32c9-4b3c-9bb1-2f1e2d7c7f10"


def test_a_full_volume_request() -> None:
    req = parse_manage_volume(
        {"volume": {"host": "h@b#p", "ref": {"source-name": "x"}, "name": " n ",
                    "description": "", "volume_type": None, "availability_zone": "nova",
                    "bootable": "yes", "metadata": {"k": "v"}}},
        V3_0,
    )  # fmt: skip
    assert (req.host, req.ref, req.name, req.description) == ("h@b#p", {"source-name": "x"},
                                                              "n", None)  # fmt: skip
    assert (req.volume_type, req.availability_zone, req.bootable) == (None, "nova", True)
    assert req.metadata == {"k": "v"}


@pytest.mark.parametrize(
    ("volume", "version"),
    [
        ({"host": "h@b"}, V3_0),  # no ref
        ({"ref": {"source-name": "x"}}, V3_0),  # no host
        ({"ref": 5, "host": "h@b"}, V3_0),
        ({"ref": None, "host": "h@b"}, V3_0),
        ({"ref": "x", "host": "h b"}, V3_0),  # not a host name
        ({"ref": "x", "host": "h@b", "cluster": "c"}, V3_0),  # cluster before 3.16
        ({"ref": "x", "host": "h@b", "cluster": "c"}, V3_16),  # both
        ({"ref": "x"}, V3_16),  # neither
        ({"ref": "x", "host": "h@b", "size": 1}, V3_0),  # unknown key
        ({"ref": "x", "host": "h@b", "bootable": "maybe"}, V3_0),
        ({"ref": "x", "host": "h@b", "metadata": {"k": 1}}, V3_0),
    ],
)
def test_bad_volume_requests_are_400(volume: dict, version: APIVersion) -> None:
    with pytest.raises(Invalid):
        parse_manage_volume({"volume": volume}, version)


def test_cluster_alone_from_3_16() -> None:
    req = parse_manage_volume({"volume": {"ref": "x", "cluster": "c1"}}, V3_16)
    assert (req.host, req.cluster) == (None, "c1")


def test_snapshot_requests() -> None:
    req = parse_manage_snapshot({"snapshot": {"volume_id": SNAP_ID, "ref": None}})
    assert (req.volume_id, req.ref, req.metadata) == (SNAP_ID, None, {})
    bad_ones = [
        {"ref": "x"}, {"volume_id": "nope", "ref": "x"}, {"volume_id": SNAP_ID},
        {"volume_id": SNAP_ID, "ref": 3}, {"volume_id": SNAP_ID, "ref": "x", "a": 1},
    ]  # fmt: skip
    for bad in bad_ones:
        with pytest.raises(Invalid):
            parse_manage_snapshot({"snapshot": bad})


def test_list_query_defaults_and_sorting() -> None:
    query = parse_manageable_query({"host": "h@b"}, V3_0, max_limit=1000)
    assert (query.limit, query.offset, query.marker) == (1000, 0, None)
    assert (query.sort_keys, query.sort_dirs) == (["reference"], ["desc"])
    query = parse_manageable_query(
        {"host": "h@b", "sort": "size:asc,reference", "limit": "5000", "offset": "2"},
        V3_0, max_limit=1000,
    )  # fmt: skip
    assert (query.sort_keys, query.sort_dirs) == (["size", "reference"], ["asc", "desc"])
    assert (query.limit, query.offset) == (1000, 2)


@pytest.mark.parametrize(
    ("params", "version"),
    [
        ({}, V3_0),
        ({"cluster": "c"}, V3_0),
        ({"host": "h@b", "cluster": "c"}, V3_17),
        ({"host": "h@b", "sort": "name"}, V3_0),
        ({"host": "h@b", "sort": "size:up"}, V3_0),
        ({"host": "h@b", "sort_key": "id"}, V3_0),
        ({"host": "h@b", "sort": "size", "sort_dir": "asc"}, V3_0),
        ({"host": "h@b", "limit": "-1"}, V3_0),
        ({"host": "h@b", "limit": "ten"}, V3_0),
        ({"host": "h@b", "offset": "²"}, V3_0),
    ],
)
def test_bad_list_queries_are_400(params: dict, version: APIVersion) -> None:
    with pytest.raises(Invalid):
        parse_manageable_query(params, version, max_limit=1000)
