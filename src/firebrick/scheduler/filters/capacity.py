"""CapacityFilter: does the pool have room for the requested GiB?

Cinder's algorithm step by step (scheduler.md §5.2), with the reason it rejects
spelled out in numbers instead of a scheduler log line.
"""

from __future__ import annotations

from firebrick.domain.capacity import (
    DEFAULT_MAX_OVER_SUBSCRIPTION_RATIO,
    as_gib,
    capacity_factors,
    flag,
    format_gib,
    is_unbounded,
    max_over_subscription_ratio,
    thin_requested,
)
from firebrick.domain.model import PoolState, RequestSpec


class CapacityFilter:
    """Asks whether the pool can hold ``spec.size`` more GiB.

    Thin placements (the default unless the type says ``provisioning:type=thick``) on a
    thin-capable pool are bounded by the over-subscription ratio; thick ones by the
    smaller of reported free space and total minus reserve minus provisioned.
    ``spec.size`` is the GiB to add: the caller passes the delta for an extend.
    """

    name = "CapacityFilter"

    def __init__(
        self, default_max_over_subscription_ratio: float | str = DEFAULT_MAX_OVER_SUBSCRIPTION_RATIO
    ) -> None:
        self._default_mosr = default_max_over_subscription_ratio

    def rejects(self, pool: PoolState, spec: RequestSpec) -> str | None:
        if pool.capabilities.get("backend_state") == "down":
            reason = pool.capabilities.get("backend_state_reason") or "no reason given"
            return f"the backend is down: {reason}"
        requested = spec.size
        # Size 0 is a manage request or a get_pools dry run: nothing to place.
        if requested == 0:
            return None
        free = pool.free_capacity_gb
        if free is None:
            return "free capacity not reported; the volume service's stats are broken"
        # A backend that cannot tell is trusted; a wrong guess ends in a reschedule.
        if is_unbounded(free):
            return None
        caps = pool.capabilities
        total = pool.total_capacity_gb
        try:
            reserved_percentage = as_gib(caps.get("reserved_percentage") or 0)
            if is_unbounded(total):
                if reserved_percentage == 0:
                    return None
                return (
                    f"cannot hold back {format_gib(reserved_percentage)}% of a total "
                    f"capacity reported as '{total}'"
                )
            total_gb = as_gib(total)
            free_gb = as_gib(free)
        except ValueError:
            return (
                f"capacity report is not numeric (total {total!r}, free {free!r}, "
                f"reserved_percentage {caps.get('reserved_percentage')!r})"
            )
        if total_gb <= 0:
            return f"total capacity is {format_gib(total_gb)} GiB"
        return self._lacks_room(pool, requested, total_gb, free_gb, reserved_percentage, spec)

    def _lacks_room(
        self,
        pool: PoolState,
        requested: int,
        total_gb: float,
        free_gb: float,
        reserved_percentage: float,
        spec: RequestSpec,
    ) -> str | None:
        """Steps 6-10 of §5.2, once the report is known to hold real numbers."""
        caps = pool.capabilities
        provisioned = pool.provisioned_capacity_gb
        thin = thin_requested(spec.volume_type) and flag(
            caps.get("thin_provisioning_support", False)
        )
        try:
            mosr = max_over_subscription_ratio(caps, provisioned, self._default_mosr)
        except ValueError:
            reported = caps.get("max_over_subscription_ratio")
            return f"max_over_subscription_ratio {reported!r} is not a number or 'auto'"
        if thin and mosr < 1:
            return (
                f"max_over_subscription_ratio {round(mosr, 2)} is invalid; it must be at least 1.0"
            )

        factors = capacity_factors(total_gb, free_gb, provisioned, reserved_percentage, mosr, thin)
        if factors.total_available <= 0:
            return (
                f"no usable capacity: {format_gib(factors.reserved_capacity)} GiB of "
                f"{format_gib(total_gb)} GiB is reserved ({format_gib(reserved_percentage)}%)"
            )
        if thin:
            ratio = (provisioned + requested) / factors.total_available
            if ratio > mosr:
                return (
                    f"provisioned {format_gib(provisioned)} GiB + {requested} GiB would exceed "
                    f"over-subscription ratio {round(mosr, 2)} of "
                    f"{format_gib(factors.total_available)} GiB"
                )
            if factors.virtual_free >= requested:
                return None
            return (
                f"needs {requested} GiB, {format_gib(factors.virtual_free)} GiB virtual free "
                f"({format_gib(factors.total_reserved_available)} GiB after "
                f"{format_gib(reserved_percentage)}% reserve × ratio {round(mosr, 2)} = "
                f"{format_gib(factors.total_available)} GiB, "
                f"{format_gib(provisioned)} GiB provisioned)"
            )
        if factors.virtual_free >= requested:
            return None
        return (
            f"needs {requested} GiB, {format_gib(factors.virtual_free)} GiB free after "
            f"{format_gib(reserved_percentage)}% reserve (reported free {format_gib(free_gb)} "
            f"GiB; {format_gib(factors.total_available)} GiB usable − "
            f"{format_gib(provisioned)} GiB provisioned)"
        )
