"""Capacity weighers: spread by virtual free space, or by least allocated."""

from __future__ import annotations

import math

from firebrick.domain.capacity import DEFAULT_MAX_OVER_SUBSCRIPTION_RATIO, pool_capacity
from firebrick.domain.model import PoolState, RequestSpec


class CapacityWeigher:
    """Prefers the pool with the most virtual free GiB, computed as CapacityFilter does.

    With the default multiplier 1.0 this spreads volumes; a negative multiplier stacks
    them. Pools reporting 'infinite'/'unknown' score ``inf`` and so rank last: Cinder's
    nudge against drivers that don't report capacity.
    """

    name = "CapacityWeigher"
    default_multiplier = 1.0

    def __init__(
        self, default_max_over_subscription_ratio: float | str = DEFAULT_MAX_OVER_SUBSCRIPTION_RATIO
    ) -> None:
        self._default_mosr = default_max_over_subscription_ratio

    def weigh(self, pool: PoolState, spec: RequestSpec) -> float:
        try:
            return pool_capacity(pool, spec.volume_type, self._default_mosr).virtual_free
        except ValueError:
            # Unparseable stats are as good as 'unknown'; the filter explains them.
            return math.inf


class AllocatedCapacityWeigher:
    """Scores by GiB this service allocated; the default multiplier -1.0 prefers the least."""

    name = "AllocatedCapacityWeigher"
    default_multiplier = -1.0

    def weigh(self, pool: PoolState, spec: RequestSpec) -> float:
        return pool.allocated_capacity_gb
