from __future__ import annotations

from datetime import datetime

import pytest

from firebrick.db.services import current_capabilities
from firebrick.domain import quota
from firebrick.domain.errors import (
    VolumeLimitExceeded,
    VolumeSizeExceedsAvailableQuota,
    VolumeSizeExceedsLimit,
)
from firebrick.domain.user_messages import user_message

LIMITS = {"volumes": 2, "gigabytes": 10, "per_volume_gigabytes": -1}


def test_a_volume_that_fits_passes() -> None:
    quota.check_volume_create(5, LIMITS, {"volumes": 1, "gigabytes": 5})


def test_count_limit_names_the_quota_as_cinder_does() -> None:
    with pytest.raises(VolumeLimitExceeded) as err:
        quota.check_volume_create(1, LIMITS, {"volumes": 2, "gigabytes": 0})
    assert err.value.code == 413
    assert err.value.message.startswith("VolumeLimitExceeded: Maximum number of volumes")


def test_gigabytes_limit_reports_requested_consumed_and_quota() -> None:
    with pytest.raises(VolumeSizeExceedsAvailableQuota) as err:
        quota.check_volume_create(6, LIMITS, {"volumes": 0, "gigabytes": 5})
    assert "Requested 6G, quota is 10G and 5G has been consumed" in err.value.message


def test_unlimited_is_minus_one() -> None:
    quota.check_volume_create(10**6, {"volumes": -1, "gigabytes": -1}, {"volumes": 10**6})


def test_per_volume_limit() -> None:
    with pytest.raises(VolumeSizeExceedsLimit):
        quota.check_volume_create(11, {**LIMITS, "per_volume_gigabytes": 10}, {})


def test_user_message_is_cinders_text_then_the_explanation() -> None:
    text = user_message("VOLUME_VOLUME_001_003", "pool h@b#p: CapacityFilter: needs 5 GiB")
    assert text == (
        "schedule allocate volume:Could not find any available weighted backend. "
        "pool h@b#p: CapacityFilter: needs 5 GiB"
    )
    assert user_message("VOLUME_VOLUME_008_012", None) == (
        "create volume from backend storage:Driver failed to create the volume."
    )


REPORTED = datetime(2026, 1, 1, 12, 0, 0)


def test_free_space_follows_allocations_made_after_the_report() -> None:
    caps = {"free_capacity_gb": 10.0, "allocated_capacity_gb": 4.0}
    # Two more GiB placed since the report: two fewer free.
    now = current_capabilities(caps, 6.0, REPORTED)
    assert now["free_capacity_gb"] == 8.0
    assert now["allocated_capacity_gb"] == 6.0
    assert now["provisioned_capacity_gb"] == 6.0
    assert now["timestamp"] == "2026-01-01T12:00:00"
    # A delete since the report gives the space back at once.
    assert current_capabilities(caps, 1.0, REPORTED)["free_capacity_gb"] == 13.0
    # Never below zero.
    assert current_capabilities(caps, 40.0, REPORTED)["free_capacity_gb"] == 0.0


def test_unknown_free_space_is_left_as_reported() -> None:
    caps = {"free_capacity_gb": "unknown", "allocated_capacity_gb": 4.0}
    assert current_capabilities(caps, 6.0, REPORTED)["free_capacity_gb"] == "unknown"
