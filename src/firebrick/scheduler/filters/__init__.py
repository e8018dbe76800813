"""Pool filters by the names Cinder's ``scheduler_default_filters`` uses."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from firebrick.domain.capacity import DEFAULT_MAX_OVER_SUBSCRIPTION_RATIO
from firebrick.scheduler.filters.availability_zone import AvailabilityZoneFilter
from firebrick.scheduler.filters.base import PoolFilter
from firebrick.scheduler.filters.capabilities import CapabilitiesFilter
from firebrick.scheduler.filters.capacity import CapacityFilter

__all__ = [
    "AvailabilityZoneFilter",
    "CapabilitiesFilter",
    "CapacityFilter",
    "PoolFilter",
    "build_filters",
]


def build_filters(
    names: Sequence[str],
    *,
    default_max_over_subscription_ratio: float | str = DEFAULT_MAX_OVER_SUBSCRIPTION_RATIO,
) -> list[PoolFilter]:
    """The filters named in configuration, in order; ValueError names any unknown one."""
    factories: dict[str, Callable[[], PoolFilter]] = {
        AvailabilityZoneFilter.name: AvailabilityZoneFilter,
        CapacityFilter.name: lambda: CapacityFilter(default_max_over_subscription_ratio),
        CapabilitiesFilter.name: CapabilitiesFilter,
    }
    unknown = [name for name in names if name not in factories]
    if unknown:
        raise ValueError(
            f"Unknown scheduler filter(s) {', '.join(unknown)}; "
            f"available: {', '.join(sorted(factories))}"
        )
    return [factories[name]() for name in names]
