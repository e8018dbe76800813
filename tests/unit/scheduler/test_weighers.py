"""Weight normalisation (scheduler.md §6) and the capacity weighers."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from firebrick.domain.model import PoolState, RequestSpec
from firebrick.scheduler.weighers import (
    AllocatedCapacityWeigher,
    CapacityWeigher,
    build_weighers,
    normalize,
)

Pools = Callable[..., PoolState]
Specs = Callable[..., RequestSpec]


def test_normalize_scales_to_unit_range() -> None:
    assert normalize([10.0, 20.0, 15.0], 1.0) == [0.0, 1.0, 0.5]


def test_normalize_all_equal_is_zero() -> None:
    assert normalize([7.0, 7.0], 1.0) == [0.0, 0.0]
    assert normalize([], 1.0) == []


def test_unknown_ranks_last_under_positive_multiplier() -> None:
    # Cinder's raw -1 for unknown capacity
    assert normalize([99.0, math.inf, 199.0], 1.0) == [0.5, 0.0, 1.0]


def test_unknown_ranks_last_even_below_negative_weights() -> None:
    weights = normalize([-50.0, math.inf], 1.0)
    assert weights[1] < weights[0]


def test_unknown_ranks_last_under_negative_multiplier() -> None:
    weights = normalize([100.0, math.inf, 200.0], -1.0)
    # max + (max - min) × 100 = 10200 becomes 1, the worst once multiplied by -1
    assert weights[1] == 1.0
    assert weights[0] == 0.0
    assert weights[2] == pytest.approx(100 / 10100)


def test_unknown_with_equal_known_weights_uses_minimum_offset() -> None:
    assert normalize([5.0, math.inf], -1.0) == [0.0, 1.0]


def test_all_unknown_is_zero() -> None:
    assert normalize([math.inf, math.inf], 1.0) == [0.0, 0.0]


def test_capacity_weigher_uses_virtual_free(make_pool: Pools, make_spec: Specs) -> None:
    pool = make_pool(total=100, free=40, reserved=20, provisioned=68)
    weigher = CapacityWeigher()
    assert weigher.weigh(pool, make_spec()) == 1600 - 68
    assert weigher.weigh(pool, make_spec(extra_specs={"provisioning:type": "thick"})) == 12


@pytest.mark.parametrize(("total", "free"), [("infinite", 1), (1, "unknown"), (None, None)])
def test_capacity_weigher_scores_unknown_as_inf(
    make_pool: Pools, make_spec: Specs, total: object, free: object
) -> None:
    assert math.isinf(CapacityWeigher().weigh(make_pool(total=total, free=free), make_spec()))


def test_allocated_weigher_scores_allocations(make_pool: Pools, make_spec: Specs) -> None:
    assert AllocatedCapacityWeigher().weigh(make_pool(allocated=42), make_spec()) == 42


def test_build_weighers_pairs_cinder_default_multipliers() -> None:
    pairs = build_weighers(["CapacityWeigher", "AllocatedCapacityWeigher"])
    assert [(w.name, m) for w, m in pairs] == [
        ("CapacityWeigher", 1.0),
        ("AllocatedCapacityWeigher", -1.0),
    ]


def test_build_weighers_takes_configured_multipliers() -> None:
    [(weigher, multiplier)] = build_weighers(["CapacityWeigher"], {"CapacityWeigher": -2.0})
    assert weigher.name == "CapacityWeigher"
    assert multiplier == -2.0


def test_build_weighers_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="GoodnessWeigher"):
        build_weighers(["GoodnessWeigher"])
