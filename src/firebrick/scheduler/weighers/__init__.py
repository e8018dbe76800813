"""Pool weighers by the names Cinder's ``scheduler_default_weighers`` uses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from firebrick.domain.capacity import DEFAULT_MAX_OVER_SUBSCRIPTION_RATIO
from firebrick.scheduler.weighers.base import PoolWeigher, normalize
from firebrick.scheduler.weighers.capacity import AllocatedCapacityWeigher, CapacityWeigher

__all__ = [
    "AllocatedCapacityWeigher",
    "CapacityWeigher",
    "PoolWeigher",
    "build_weighers",
    "normalize",
]


def build_weighers(
    names: Sequence[str],
    multipliers: Mapping[str, float] | None = None,
    *,
    default_max_over_subscription_ratio: float | str = DEFAULT_MAX_OVER_SUBSCRIPTION_RATIO,
) -> list[tuple[PoolWeigher, float]]:
    """(weigher, multiplier) pairs ready for FilterScheduler; ValueError for unknown names.

    ``multipliers`` is keyed by weigher name (e.g. ``{"CapacityWeigher":
    capacity_weight_multiplier}``); a weigher not in it gets Cinder's default.
    """
    capacity = CapacityWeigher(default_max_over_subscription_ratio)
    allocated = AllocatedCapacityWeigher()
    known: dict[str, tuple[PoolWeigher, float]] = {
        capacity.name: (capacity, capacity.default_multiplier),
        allocated.name: (allocated, allocated.default_multiplier),
    }
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(
            f"Unknown scheduler weigher(s) {', '.join(unknown)}; "
            f"available: {', '.join(sorted(known))}"
        )
    chosen = multipliers or {}
    return [(known[name][0], chosen.get(name, known[name][1])) for name in names]
