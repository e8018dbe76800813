"""Cinder's capacity arithmetic: over-subscription ratio, reserve and virtual free space.

The formulas are Cinder's ``sched_utils`` ones (see scheduler.md §5.2-5.3) so a pool
passes or fails here exactly where it would in Cinder. Sizes are GiB.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from firebrick.domain.extra_specs import bool_from_string
from firebrick.domain.model import PoolState, VolumeType

UNBOUNDED: Final = frozenset({"infinite", "unknown"})
DEFAULT_MAX_OVER_SUBSCRIPTION_RATIO: Final = "20.0"
INITIAL_AUTO_MOSR: Final = 20.0


@dataclass(frozen=True, slots=True)
class CapacityFactors:
    """What a pool can still take; ``virtual_free`` is ``inf`` when the pool can't say."""

    total_available: float
    virtual_free: float
    reserved_capacity: float
    provisioned_ratio: float
    free_percent: float
    total_reserved_available: float
    thin: bool

    @property
    def bounded(self) -> bool:
        return math.isfinite(self.virtual_free)


UNBOUNDED_FACTORS: Final = CapacityFactors(
    total_available=math.inf,
    virtual_free=math.inf,
    reserved_capacity=0.0,
    provisioned_ratio=0.0,
    free_percent=100.0,
    total_reserved_available=math.inf,
    thin=False,
)


def is_unbounded(value: object) -> bool:
    """True for the 'infinite'/'unknown' placeholders drivers report instead of a number."""
    return isinstance(value, str) and value in UNBOUNDED


def as_gib(value: object) -> float:
    """A reported size as a float; ValueError for anything that is not a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{value!r} is not a size in GiB")
    return float(value)


def format_gib(value: float) -> str:
    """1000.0 -> '1000', 12.5 -> '12.5': numbers people read in rejection reasons."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def flag(value: object) -> bool:
    """A reported boolean capability; drivers sometimes send 'True'/'False' strings."""
    if isinstance(value, str):
        return bool_from_string(value)
    return bool(value)


def thin_requested(volume_type: VolumeType | None) -> bool:
    """Thin unless the type asks for ``provisioning:type=thick`` (Cinder's rule)."""
    if volume_type is None:
        return True
    return volume_type.extra_specs.get("provisioning:type") != "thick"


def max_over_subscription_ratio(
    capabilities: Mapping[str, Any],
    provisioned_capacity_gb: float | None = None,
    default: float | str = DEFAULT_MAX_OVER_SUBSCRIPTION_RATIO,
) -> float:
    """The ratio a pool may over-subscribe to, resolving 'auto' (Cinder's rule, §5.3).

    ``provisioned_capacity_gb`` overrides the reported value so that 'auto' sees the
    allocations made since the last report. Raises ValueError for a malformed ratio.
    """
    if not flag(capabilities.get("thin_provisioning_support", False)):
        return 1.0
    total = capabilities.get("total_capacity_gb", 0)
    free = capabilities.get("free_capacity_gb", 0)
    # With no real numbers the capacity filter never consults the ratio.
    if is_unbounded(total) or is_unbounded(free):
        return 1.0
    value = capabilities.get("max_over_subscription_ratio") or default
    if value != "auto":
        return float(value)
    if provisioned_capacity_gb is None:
        allocated = capabilities.get("allocated_capacity_gb", 0)
        provisioned_capacity_gb = as_gib(capabilities.get("provisioned_capacity_gb", allocated))
    if provisioned_capacity_gb == 0:
        return INITIAL_AUTO_MOSR
    # Tracks the observed provisioned/used ratio, so it tightens as real usage grows.
    used = as_gib(total) - as_gib(free)
    return 1.0 + provisioned_capacity_gb / (used + 1.0)


def capacity_factors(
    total: float | str,
    free: float | str,
    provisioned: float,
    reserved_percentage: float,
    mosr: float,
    thin: bool,
) -> CapacityFactors:
    """Cinder's ``calculate_capacity_factors``; ``thin`` means the thin path applies.

    The thin path applies when the type is not thick *and* the pool supports thin
    provisioning. Values are rounded to 2 places as Cinder does, so boundary cases
    decide the same way. 'infinite'/'unknown' give :data:`UNBOUNDED_FACTORS`.
    """
    if is_unbounded(total) or is_unbounded(free):
        return UNBOUNDED_FACTORS
    total_gb = as_gib(total)
    free_gb = as_gib(free)
    reserved_capacity = float(math.floor(total_gb * float(reserved_percentage) / 100))
    total_reserved_available = total_gb - reserved_capacity
    if thin:
        total_available = total_reserved_available * mosr
        virtual_free = total_available - provisioned
    else:
        total_available = total_reserved_available
        # The reported free space may be lower than the arithmetic says (non-Cinder
        # data, metadata overhead), so thick placement trusts the smaller of the two.
        virtual_free = min(free_gb, total_available - provisioned)
    if total_available:
        provisioned_ratio = provisioned / total_available
        free_percent = virtual_free / total_available * 100
    else:
        provisioned_ratio = free_percent = 0.0
    return CapacityFactors(
        total_available=round(total_available, 2),
        virtual_free=round(virtual_free, 2),
        reserved_capacity=reserved_capacity,
        provisioned_ratio=round(provisioned_ratio, 2),
        free_percent=round(free_percent, 2),
        total_reserved_available=round(total_reserved_available, 2),
        thin=thin,
    )


def pool_capacity(
    pool: PoolState,
    volume_type: VolumeType | None,
    default_mosr: float | str = DEFAULT_MAX_OVER_SUBSCRIPTION_RATIO,
) -> CapacityFactors:
    """The factors for placing a volume of ``volume_type`` on ``pool``.

    Raises ValueError when the pool reports sizes or a ratio that are not numbers.
    """
    caps = pool.capabilities
    total = pool.total_capacity_gb
    free = pool.free_capacity_gb
    if total is None or free is None:
        raise ValueError(f"pool {pool.name} does not report its capacity")
    provisioned = pool.provisioned_capacity_gb
    thin = thin_requested(volume_type) and flag(caps.get("thin_provisioning_support", False))
    mosr = max_over_subscription_ratio(caps, provisioned, default_mosr)
    reserved = as_gib(caps.get("reserved_percentage") or 0)
    return capacity_factors(total, free, provisioned, reserved, mosr, thin)
