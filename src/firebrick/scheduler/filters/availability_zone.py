"""AvailabilityZoneFilter: is the pool in one of the zones the request allows?"""

from __future__ import annotations

from firebrick.domain.model import PoolState, RequestSpec


class AvailabilityZoneFilter:
    """Passes every pool when the request names no zone (the API flow fills them in)."""

    name = "AvailabilityZoneFilter"

    def rejects(self, pool: PoolState, spec: RequestSpec) -> str | None:
        zones = spec.availability_zones
        if not zones or pool.availability_zone in zones:
            return None
        wanted = ", ".join(f"'{zone}'" for zone in zones)
        return f"pool is in availability zone '{pool.availability_zone}', request wants {wanted}"
