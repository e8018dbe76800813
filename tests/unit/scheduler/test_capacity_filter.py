"""CapacityFilter worked examples: scheduler.md §5.2 step by step, with reasons."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from firebrick.domain.model import PoolState, RequestSpec
from firebrick.scheduler.filters import CapacityFilter

Pools = Callable[..., PoolState]
Specs = Callable[..., RequestSpec]
THICK = {"provisioning:type": "thick"}


def rejects(pool: PoolState, spec: RequestSpec) -> str | None:
    return CapacityFilter().rejects(pool, spec)


def test_thin_pool_takes_up_to_ratio_times_usable(make_pool: Pools, make_spec: Specs) -> None:
    # 100 GiB × 20 = 2000 GiB virtual, 1950 already provisioned
    pool = make_pool(total=100, free=10, provisioned=1950)
    assert rejects(pool, make_spec(50)) is None
    assert rejects(pool, make_spec(51)) == (
        "needs 51 GiB, 50 GiB virtual free (100 GiB after 0% reserve × ratio 20.0 = "
        "2000 GiB, 1950 GiB provisioned)"
    )


def test_thin_ratio_check_comes_first(make_pool: Pools, make_spec: Specs) -> None:
    pool = make_pool(total=1000, free=1000, mosr="1.0", provisioned=900)
    assert rejects(pool, make_spec(100)) is None
    assert rejects(pool, make_spec(200)) == (
        "provisioned 900 GiB + 200 GiB would exceed over-subscription ratio 1.0 of 1000 GiB"
    )


def test_thin_reserve_shrinks_the_base_before_the_ratio(make_pool: Pools, make_spec: Specs) -> None:
    # (100 - 10) × 2 = 180 virtual, 170 provisioned
    pool = make_pool(total=100, free=100, reserved=10, mosr=2, provisioned=170)
    assert rejects(pool, make_spec(10)) is None
    assert rejects(pool, make_spec(11)) is not None


def test_exact_allocations_count_when_above_reported(make_pool: Pools, make_spec: Specs) -> None:
    pool = make_pool(total=100, free=100, mosr="1.0", provisioned=10, allocated=95)
    assert rejects(pool, make_spec(5)) is None
    assert rejects(pool, make_spec(6)) is not None


def test_thick_with_reserve(make_pool: Pools, make_spec: Specs) -> None:
    # usable 100 - 20 = 80, minus 68 provisioned = 12; reported free 40 is larger
    pool = make_pool(total=100, free=40, reserved=20, provisioned=68)
    assert rejects(pool, make_spec(12, extra_specs=THICK)) is None
    assert rejects(pool, make_spec(50, extra_specs=THICK)) == (
        "needs 50 GiB, 12 GiB free after 20% reserve (reported free 40 GiB; "
        "80 GiB usable − 68 GiB provisioned)"
    )


def test_thick_trusts_smaller_reported_free(make_pool: Pools, make_spec: Specs) -> None:
    pool = make_pool(total=100, free=5, provisioned=0)
    assert rejects(pool, make_spec(5, extra_specs=THICK)) is None
    assert rejects(pool, make_spec(6, extra_specs=THICK)) is not None


def test_pool_without_thin_support_is_thick(make_pool: Pools, make_spec: Specs) -> None:
    pool = make_pool(total=100, free=30, thin=False, provisioned=70)
    assert rejects(pool, make_spec(30)) is None
    reason = rejects(pool, make_spec(31))
    assert reason is not None
    assert reason.startswith("needs 31 GiB, 30 GiB free after 0% reserve")


def test_auto_ratio(make_pool: Pools, make_spec: Specs) -> None:
    # ratio 1 + 200 / (40 + 1) ≈ 5.878: 587.8 virtual, 387.8 free
    pool = make_pool(total=100, free=60, mosr="auto", provisioned=200)
    assert rejects(pool, make_spec(387)) is None
    reason = rejects(pool, make_spec(388))
    assert reason is not None
    assert reason.startswith("needs 388 GiB, 387.8 GiB virtual free")
    assert "ratio 5.88" in reason


def test_auto_ratio_starts_at_twenty(make_pool: Pools, make_spec: Specs) -> None:
    pool = make_pool(total=10, free=10, mosr="auto")
    assert rejects(pool, make_spec(200)) is None
    assert rejects(pool, make_spec(201)) is not None


@pytest.mark.parametrize("free", ["infinite", "unknown"])
def test_unbounded_free_passes(make_pool: Pools, make_spec: Specs, free: str) -> None:
    assert rejects(make_pool(total=1, free=free, reserved=50), make_spec(10_000)) is None


@pytest.mark.parametrize("total", ["infinite", "unknown"])
def test_unbounded_total_passes_only_without_reserve(
    make_pool: Pools, make_spec: Specs, total: str
) -> None:
    assert rejects(make_pool(total=total, free=1), make_spec(10_000)) is None
    assert rejects(make_pool(total=total, free=1, reserved=10), make_spec(1)) == (
        f"cannot hold back 10% of a total capacity reported as '{total}'"
    )


@pytest.mark.parametrize("total", [0, -5])
def test_non_positive_total_fails(make_pool: Pools, make_spec: Specs, total: float) -> None:
    assert rejects(make_pool(total=total, free=10), make_spec(1)) == (
        f"total capacity is {total} GiB"
    )


def test_missing_free_capacity_fails(make_pool: Pools, make_spec: Specs) -> None:
    reason = rejects(make_pool(free=None), make_spec(1))
    assert reason == "free capacity not reported; the volume service's stats are broken"


def test_size_zero_always_passes(make_pool: Pools, make_spec: Specs) -> None:
    assert rejects(make_pool(total=0, free=None), make_spec(0)) is None


def test_ratio_below_one_fails_thin_but_not_thick(make_pool: Pools, make_spec: Specs) -> None:
    pool = make_pool(total=100, free=100, mosr="0.5")
    assert rejects(pool, make_spec(1)) == (
        "max_over_subscription_ratio 0.5 is invalid; it must be at least 1.0"
    )
    assert rejects(pool, make_spec(1, extra_specs=THICK)) is None


def test_fully_reserved_pool_fails_without_dividing_by_zero(
    make_pool: Pools, make_spec: Specs
) -> None:
    reason = rejects(make_pool(total=100, free=100, reserved=100), make_spec(1))
    assert reason == "no usable capacity: 100 GiB of 100 GiB is reserved (100%)"


def test_garbage_report_is_rejected_with_what_was_seen(make_pool: Pools, make_spec: Specs) -> None:
    reason = rejects(make_pool(free="lots"), make_spec(1))
    assert reason is not None
    assert "'lots'" in reason
    reason = rejects(make_pool(mosr="plenty"), make_spec(1))
    assert reason == "max_over_subscription_ratio 'plenty' is not a number or 'auto'"


def test_default_ratio_is_configurable(make_pool: Pools, make_spec: Specs) -> None:
    pool = make_pool(total=10, free=10, mosr=None)
    assert CapacityFilter().rejects(pool, make_spec(200)) is None
    assert (
        CapacityFilter(default_max_over_subscription_ratio="2").rejects(pool, make_spec(21))
        is not None
    )
