"""Cinder's capacity arithmetic (scheduler.md §5.2-5.3) as pure functions."""

from __future__ import annotations

import math

import pytest

from firebrick.domain.capacity import (
    UNBOUNDED_FACTORS,
    capacity_factors,
    format_gib,
    max_over_subscription_ratio,
    thin_requested,
)
from firebrick.domain.model import VolumeType


def caps(**values: object) -> dict[str, object]:
    base: dict[str, object] = {
        "total_capacity_gb": 100.0,
        "free_capacity_gb": 60.0,
        "thin_provisioning_support": True,
    }
    base.update(values)
    return base


def test_ratio_is_one_when_pool_cannot_thin_provision() -> None:
    assert max_over_subscription_ratio(caps(thin_provisioning_support=False)) == 1.0


def test_ratio_is_one_when_capacity_is_unbounded() -> None:
    assert max_over_subscription_ratio(caps(total_capacity_gb="infinite")) == 1.0
    assert max_over_subscription_ratio(caps(free_capacity_gb="unknown")) == 1.0


def test_reported_ratio_wins_over_default() -> None:
    assert max_over_subscription_ratio(caps(max_over_subscription_ratio="1.5")) == 1.5
    assert max_over_subscription_ratio(caps(max_over_subscription_ratio=3)) == 3.0


def test_default_ratio_applies_when_not_reported() -> None:
    assert max_over_subscription_ratio(caps()) == 20.0
    assert max_over_subscription_ratio(caps(), default="2.5") == 2.5


def test_auto_ratio_tracks_provisioned_over_used() -> None:
    # used = 100 - 60 = 40, so 1 + 200 / 41
    ratio = max_over_subscription_ratio(
        caps(max_over_subscription_ratio="auto", provisioned_capacity_gb=200.0)
    )
    assert ratio == pytest.approx(1 + 200 / 41)


def test_auto_ratio_prefers_explicit_provisioned_argument() -> None:
    ratio = max_over_subscription_ratio(
        caps(max_over_subscription_ratio="auto", provisioned_capacity_gb=10.0), 81.0
    )
    assert ratio == pytest.approx(1 + 81 / 41)


def test_auto_ratio_starts_at_twenty_with_nothing_provisioned() -> None:
    assert max_over_subscription_ratio(caps(max_over_subscription_ratio="auto")) == 20.0


def test_malformed_ratio_raises() -> None:
    with pytest.raises(ValueError):
        max_over_subscription_ratio(caps(max_over_subscription_ratio="lots"))


def test_thin_factors_multiply_reserved_total_by_ratio() -> None:
    f = capacity_factors(100, 80, 30, 10, 2.0, thin=True)
    assert f.reserved_capacity == 10
    assert f.total_reserved_available == 90
    assert f.total_available == 180
    assert f.virtual_free == 150
    assert f.provisioned_ratio == round(30 / 180, 2)
    assert f.free_percent == round(150 / 180 * 100, 2)
    assert f.thin


def test_reserve_is_floored_percentage_of_total() -> None:
    assert capacity_factors(99, 99, 0, 10, 1.0, thin=False).reserved_capacity == 9


def test_thick_factors_take_smaller_of_reported_and_calculated_free() -> None:
    calculated_smaller = capacity_factors(100, 40, 68, 20, 20.0, thin=False)
    assert calculated_smaller.total_available == 80
    assert calculated_smaller.virtual_free == 12
    reported_smaller = capacity_factors(100, 5, 0, 0, 20.0, thin=False)
    assert reported_smaller.virtual_free == 5
    assert not reported_smaller.thin


def test_zero_available_capacity_gives_zero_ratios() -> None:
    f = capacity_factors(100, 100, 0, 100, 1.0, thin=False)
    assert f.total_available == 0
    assert f.provisioned_ratio == 0
    assert f.free_percent == 0


@pytest.mark.parametrize(("total", "free"), [("infinite", 10), (10, "unknown"), ("unknown", 1)])
def test_unbounded_capacity_is_infinitely_free(total: object, free: object) -> None:
    f = capacity_factors(total, free, 0, 0, 1.0, thin=True)  # type: ignore[arg-type]
    assert f is UNBOUNDED_FACTORS
    assert math.isinf(f.virtual_free)
    assert not f.bounded


def test_thick_only_when_type_says_so() -> None:
    assert thin_requested(None)
    assert thin_requested(VolumeType(id="t", name="t", extra_specs={"provisioning:type": "thin"}))
    assert not thin_requested(
        VolumeType(id="t", name="t", extra_specs={"provisioning:type": "thick"})
    )


def test_format_gib_drops_trailing_zeros() -> None:
    assert format_gib(1000.0) == "1000"
    assert format_gib(12.5) == "12.5"
    assert format_gib(387.804) == "387.8"
