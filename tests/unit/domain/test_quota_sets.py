"""Quota rules with per-type resources: names, deltas, Cinder's 413s and limit updates."""

from __future__ import annotations

import pytest

from firebrick.config import QuotaDefaults
from firebrick.domain import quota
from firebrick.domain.errors import (
    Invalid,
    QuotaExceeded,
    VolumeLimitExceeded,
    VolumeSizeExceedsAvailableQuota,
    VolumeSizeExceedsLimit,
)

# -- names and defaults ---------------------------------------------------------------


def test_resource_names_cover_cinders_keys_and_three_per_type() -> None:
    names = quota.resource_names(["gold", "__DEFAULT__"])
    assert set(names) == {
        "volumes", "snapshots", "gigabytes", "per_volume_gigabytes", "backups",
        "backup_gigabytes", "groups",
        "volumes_gold", "snapshots_gold", "gigabytes_gold",
        "volumes___DEFAULT__", "snapshots___DEFAULT__", "gigabytes___DEFAULT__",
    }  # fmt: skip
    assert len(names) == len(set(names))


@pytest.mark.parametrize(
    ("resource", "kind"),
    [
        ("volumes", "volumes"),
        ("volumes_gold", "volumes"),
        ("gigabytes_my_type", "gigabytes"),
        ("snapshots_a_b", "snapshots"),
        ("backup_gigabytes", "backup_gigabytes"),
        ("per_volume_gigabytes", "per_volume_gigabytes"),
        ("groups", "groups"),
    ],
)
def test_kind_is_what_a_resource_counts(resource: str, kind: str) -> None:
    assert quota.kind(resource) == kind


def test_defaults_come_from_config_with_cinders_backup_and_group_defaults() -> None:
    found = quota.defaults_dict(QuotaDefaults(volumes=5, snapshots=6, gigabytes=70))
    assert found == {
        "volumes": 5, "snapshots": 6, "gigabytes": 70, "per_volume_gigabytes": -1,
        "backups": 10, "backup_gigabytes": 1000, "groups": 10,
    }  # fmt: skip


def test_per_type_defaults_are_unlimited() -> None:
    found = quota.defaults_dict(QuotaDefaults(), ["gold"])
    assert found["volumes_gold"] == found["gigabytes_gold"] == found["snapshots_gold"] == -1


# -- deltas ---------------------------------------------------------------------------


def test_volume_deltas_count_the_volume_and_its_size_overall_and_for_its_type() -> None:
    assert quota.volume_deltas(5, "gold") == {
        "volumes": 1, "gigabytes": 5, "volumes_gold": 1, "gigabytes_gold": 5,
    }  # fmt: skip


def test_volume_deltas_without_a_type_are_project_wide_only() -> None:
    assert quota.volume_deltas(5, None) == {"volumes": 1, "gigabytes": 5}


def test_volume_deltas_for_several_and_for_a_deletion() -> None:
    assert quota.volume_deltas(3, "gold", count=2)["gigabytes_gold"] == 6
    assert quota.volume_deltas(3, "gold", count=-1) == {
        "volumes": -1, "gigabytes": -3, "volumes_gold": -1, "gigabytes_gold": -3,
    }  # fmt: skip


def test_snapshot_deltas_count_the_volume_size_in_gigabytes() -> None:
    assert quota.snapshot_deltas(4, "gold") == {
        "snapshots": 1, "gigabytes": 4, "snapshots_gold": 1, "gigabytes_gold": 4,
    }  # fmt: skip


def test_snapshot_deltas_without_snapshot_gigabytes() -> None:
    assert quota.snapshot_deltas(4, "gold", no_snapshot_gb_quota=True) == {
        "snapshots": 1, "snapshots_gold": 1,
    }  # fmt: skip


def test_snapshot_deltas_for_a_deletion() -> None:
    assert quota.snapshot_deltas(4, None, count=-1) == {"snapshots": -1, "gigabytes": -4}


# -- check ----------------------------------------------------------------------------

LIMITS = {"volumes": 10, "gigabytes": 100, "snapshots": 10, "volumes_gold": 2,
          "gigabytes_gold": 20, "snapshots_gold": 1}  # fmt: skip


def _raised(deltas: dict[str, int], usage: dict[str, int], limits: dict[str, int] = LIMITS) -> str:
    with pytest.raises(QuotaExceeded) as err:
        quota.check(deltas, limits, usage)
    assert err.value.code == 413
    return err.value.message


def test_a_request_that_fits_passes() -> None:
    quota.check(quota.volume_deltas(10, "gold"), LIMITS, {"volumes_gold": 1, "gigabytes_gold": 10})


def test_filling_a_limit_exactly_fits() -> None:
    quota.check({"volumes": 1}, {"volumes": 3}, {"volumes": 2})


def test_unlimited_and_unknown_resources_never_block() -> None:
    quota.check(quota.volume_deltas(10**6, "silver"), {"volumes": -1, "gigabytes": -1}, {})


def test_releasing_usage_is_never_over_quota() -> None:
    quota.check(quota.volume_deltas(50, "gold", count=-1), LIMITS, {"volumes": 99})


def test_project_volume_count() -> None:
    message = _raised(quota.volume_deltas(1, "gold"), {"volumes": 10})
    assert message == (
        "VolumeLimitExceeded: Maximum number of volumes allowed (10) exceeded for quota 'volumes'."
    )


def test_per_type_volume_count_names_the_type_quota() -> None:
    message = _raised(quota.volume_deltas(1, "gold"), {"volumes_gold": 2})
    assert message == (
        "VolumeLimitExceeded: Maximum number of volumes allowed (2) exceeded for quota "
        "'volumes_gold'."
    )


def test_project_gigabytes() -> None:
    with pytest.raises(VolumeSizeExceedsAvailableQuota) as err:
        quota.check(quota.volume_deltas(6, None), LIMITS, {"gigabytes": 95})
    assert err.value.message == (
        "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed "
        "gigabytes quota. Requested 6G, quota is 100G and 95G has been consumed."
    )


def test_per_type_gigabytes_names_the_type_quota() -> None:
    message = _raised(quota.volume_deltas(15, "gold"), {"gigabytes_gold": 10})
    assert message == (
        "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed "
        "gigabytes_gold quota. Requested 15G, quota is 20G and 10G has been consumed."
    )


def test_size_is_reported_before_count_as_cinder_sorts_the_overs() -> None:
    message = _raised(
        quota.volume_deltas(50, "gold"),
        {"volumes": 10, "volumes_gold": 2, "gigabytes": 60, "gigabytes_gold": 0},
    )
    assert "exceeds allowed gigabytes quota" in message
    message = _raised(quota.volume_deltas(50, "gold"), {"volumes": 10, "gigabytes_gold": 0})
    assert "exceeds allowed gigabytes_gold quota" in message


def test_snapshot_count() -> None:
    message = _raised(quota.snapshot_deltas(1, None), {"snapshots": 10})
    assert message == "SnapshotLimitExceeded: Maximum number of snapshots allowed (10) exceeded"


def test_per_type_snapshot_count() -> None:
    message = _raised(quota.snapshot_deltas(1, "gold"), {"snapshots_gold": 1})
    assert message == "SnapshotLimitExceeded: Maximum number of snapshots allowed (1) exceeded"


def test_snapshot_size_counts_against_gigabytes() -> None:
    message = _raised(quota.snapshot_deltas(10, None), {"gigabytes": 95})
    assert "Requested 10G, quota is 100G and 95G has been consumed." in message
    quota.check(quota.snapshot_deltas(10, None, no_snapshot_gb_quota=True), LIMITS,
                {"gigabytes": 95})  # fmt: skip


def test_backups_and_groups() -> None:
    limits = {"backups": 1, "backup_gigabytes": 10, "groups": 0}
    assert _raised({"backups": 1}, {"backups": 1}, limits) == (
        "BackupLimitExceeded: Maximum number of backups allowed (1) exceeded"
    )
    assert _raised({"backup_gigabytes": 11}, {}, limits) == (
        "VolumeBackupSizeExceedsAvailableQuota: Requested backup exceeds allowed Backup "
        "gigabytes quota. Requested 11G, quota is 10G and 0G has been consumed."
    )
    assert _raised({"groups": 1}, {}, limits) == (
        "GroupLimitExceeded: Maximum number of groups allowed (0) exceeded"
    )


def test_usage_already_over_a_lowered_limit_blocks_more() -> None:
    assert "(1)" in _raised({"volumes": 1}, {"volumes": 3}, {"volumes": 1})


# -- per-volume cap and the old entry point -----------------------------------------------


def test_per_volume_cap() -> None:
    quota.check_volume_size(10, {"per_volume_gigabytes": 10})
    quota.check_volume_size(10**6, {"per_volume_gigabytes": -1})
    quota.check_volume_size(10**6, {})
    with pytest.raises(VolumeSizeExceedsLimit) as err:
        quota.check_volume_size(11, {"per_volume_gigabytes": 10})
    assert err.value.message == (
        "VolumeSizeExceedsLimit: Requested volume size 11G is larger than maximum allowed "
        "limit 10G."
    )


def test_check_volume_create_still_checks_cap_size_and_count() -> None:
    limits = {"volumes": 2, "gigabytes": 10, "per_volume_gigabytes": 8}
    quota.check_volume_create(5, limits, {"volumes": 1, "gigabytes": 5})
    with pytest.raises(VolumeSizeExceedsLimit):
        quota.check_volume_create(9, limits, {})
    with pytest.raises(VolumeSizeExceedsAvailableQuota):
        quota.check_volume_create(6, limits, {"gigabytes": 5})
    with pytest.raises(VolumeLimitExceeded):
        quota.check_volume_create(1, limits, {"volumes": 2})


# -- parsing and checking new limits --------------------------------------------------

KNOWN = quota.resource_names(["gold"])


def test_parse_limits_takes_ints_and_integer_strings() -> None:
    found = quota.parse_limits(
        {"volumes": 5, "gigabytes_gold": "-1", "snapshots": " 7 ", "tenant_id": "p"},
        KNOWN,
        ignored=quota.NON_QUOTA_KEYS,
    )
    assert found == {"volumes": 5, "gigabytes_gold": -1, "snapshots": 7}


def test_bad_keys_are_listed_together() -> None:
    with pytest.raises(Invalid) as err:
        quota.parse_limits({"volumes": 1, "bogus": 1, "volumes_tin": 2}, KNOWN)
    assert err.value.code == 400
    assert err.value.message == (
        "Invalid input received: Bad key(s) in quota set: bogus, volumes_tin"
    )


def test_quota_class_sets_name_themselves_and_do_not_skip_ids() -> None:
    with pytest.raises(Invalid) as err:
        quota.parse_limits({"id": "x"}, KNOWN, what="quota class set")
    assert err.value.message.endswith("Bad key(s) in quota class set: id")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "volumes must be an integer"),
        (1.5, "volumes must be an integer"),
        ("ten", "volumes must be an integer"),
        (None, "volumes must be an integer"),
        ([1], "volumes must be an integer"),
        (-2, "volumes must be >= -1"),
        ("-2", "volumes must be >= -1"),
        (2**31, "volumes must be <= 2147483647"),
    ],
)
def test_limit_values_are_validated_as_oslo_does(value: object, message: str) -> None:
    with pytest.raises(Invalid) as err:
        quota.parse_limits({"volumes": value}, KNOWN)
    assert err.value.code == 400
    assert err.value.message == message


def test_a_bad_value_is_reported_before_bad_keys() -> None:
    with pytest.raises(Invalid, match="volumes must be an integer"):
        quota.parse_limits({"bogus": 1, "volumes": "x"}, KNOWN)


def test_limits_may_not_go_below_usage() -> None:
    quota.check_not_below_usage({"volumes": 3}, {"volumes": 3})
    quota.check_not_below_usage({"volumes": -1, "per_volume_gigabytes": 1}, {"volumes": 3})
    with pytest.raises(Invalid) as err:
        quota.check_not_below_usage({"gigabytes_gold": 4}, {"gigabytes_gold": 5})
    assert err.value.code == 400
    assert err.value.message == (
        "Quota gigabytes_gold limit must be equal or greater than existing resources. "
        "Current usage is 5 and the requested limit is 4."
    )
