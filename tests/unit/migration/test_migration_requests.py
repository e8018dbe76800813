"""The request bodies of os-migrate_volume, os-migrate_volume_completion and revert, and
the small rules of a migration (which statuses mean "in flight", what a retype moves)."""

from __future__ import annotations

import pytest

from firebrick.api.microversion import APIVersion
from firebrick.api.migration_api import MigrateRequest, parse_completion, parse_migrate
from firebrick.api.revert_api import parse_revert
from firebrick.domain import migration
from firebrick.domain.errors import InvalidInput

V3_15, V3_16 = APIVersion(3, 15), APIVersion(3, 16)


def test_migrate_body_as_cinderclient_sends_it() -> None:
    body = {"host": "h@b#p", "force_host_copy": False, "lock_volume": "True"}
    assert parse_migrate(body, V3_16) == MigrateRequest("h@b#p", None, False, True)
    assert parse_migrate({"host": "h@b"}, V3_15) == MigrateRequest("h@b", None, False, False)
    assert parse_migrate({"cluster": "c", "host": None}, V3_16).cluster == "c"


@pytest.mark.parametrize(
    ("body", "version", "message"),
    [
        (None, V3_16, "must be an object"),
        ({}, V3_15, "'host' is a required property"),
        ({"host": ""}, V3_15, "Host field is missing."),
        ({}, V3_16, "One and only one of cluster and host must be set."),
        ({"host": "a", "cluster": "b"}, V3_16, "One and only one"),
        ({"host": "a", "cluster": "b"}, V3_15, "('cluster' was unexpected)"),
        ({"host": None}, V3_15, "host must be a string"),
        ({"host": ["a"]}, V3_16, "host must be a string"),
        ({"host": "a" * 256}, V3_16, "at most 255"),
        ({"cluster": 5}, V3_16, "cluster must be a string"),
        ({"host": "a", "force_host_copy": "sometimes"}, V3_16, "force_host_copy must be"),
        ({"host": "a", "lock_volume": None}, V3_16, "lock_volume must be a boolean"),
        ({"host": "a", "x": 1, "y": 2}, V3_16, "('x', 'y' were unexpected)"),
    ],
)
def test_bad_migrate_bodies(body: object, version: APIVersion, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_migrate(body, version)
    assert message in caught.value.message


def test_completion_body() -> None:
    assert parse_completion({"new_volume": "n"}) == ("n", False)
    assert parse_completion({"new_volume": "n", "error": None}) == ("n", False)
    assert parse_completion({"new_volume": "n", "error": "true"}) == ("n", True)
    assert parse_completion({"new_volume": "n", "error": True}) == ("n", True)
    for bad in (None, {}, {"new_volume": 3}, {"new_volume": "n", "error": "x"},
                {"new_volume": "n", "more": 1}):  # fmt: skip
        with pytest.raises(InvalidInput):
            parse_completion(bad)


def test_revert_body() -> None:
    assert parse_revert({"snapshot_id": "s"}) == "s"
    assert parse_revert({"snapshot_id": None, "other": "allowed, as Cinder's schema"}) is None
    assert parse_revert({}) is None
    for bad in (None, [], "s", {"snapshot_id": 1}, {"snapshot_id": ["s"]}):
        with pytest.raises(InvalidInput):
            parse_revert(bad)


def test_what_counts_as_migrating() -> None:
    for idle in (None, "success", "error", "deleting"):
        assert not migration.is_migrating(idle)
    for busy in ("starting", "migrating", "completing", "target:x", "none"):
        assert migration.is_migrating(busy)
    assert migration.is_target(migration.target_status("v1"))
    assert not migration.is_target("success") and not migration.is_target(None)
    assert migration.backend_of("h@b#p") == migration.backend_of("h@b") == "h@b"


def test_a_retype_moves_exactly_the_per_type_usage() -> None:
    moved = migration.retype_usage(3, "gold", "silver")
    assert moved == {"volumes_gold": -1, "gigabytes_gold": -3,
                     "volumes_silver": 1, "gigabytes_silver": 3}  # fmt: skip
    assert migration.retype_usage(2, None, "silver") == {"volumes_silver": 1,
                                                         "gigabytes_silver": 2}  # fmt: skip
    back = {k: -v for k, v in moved.items()}
    assert {k: moved[k] + back[k] for k in moved} == dict.fromkeys(moved, 0)
