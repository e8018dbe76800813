"""Pool and request factories shared by the scheduler unit tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from firebrick.domain.model import PoolState, RequestSpec, VolumeType

PoolFactory = Callable[..., PoolState]
SpecFactory = Callable[..., RequestSpec]


@pytest.fixture
def make_pool() -> PoolFactory:
    def build(
        name: str = "node1@lvm#pool",
        *,
        az: str = "nova",
        total: Any = 100.0,
        free: Any = 100.0,
        reserved: Any = 0,
        mosr: Any = "20.0",
        thin: bool = True,
        provisioned: Any = None,
        allocated: float = 0.0,
        **extra: Any,
    ) -> PoolState:
        caps: dict[str, Any] = {
            "pool_name": name.split("#")[-1],
            "total_capacity_gb": total,
            "free_capacity_gb": free,
            "reserved_percentage": reserved,
            "max_over_subscription_ratio": mosr,
            "thin_provisioning_support": thin,
            "thick_provisioning_support": not thin,
            **extra,
        }
        if provisioned is not None:
            caps["provisioned_capacity_gb"] = provisioned
        return PoolState(
            name=name,
            backend=name.split("#")[0],
            availability_zone=az,
            capabilities=caps,
            allocated_capacity_gb=allocated,
        )

    return build


@pytest.fixture
def make_spec() -> SpecFactory:
    def build(
        size: int = 1,
        *,
        extra_specs: dict[str, str] | None = None,
        azs: list[str] | None = None,
        pin: str | None = None,
    ) -> RequestSpec:
        vtype = None
        if extra_specs is not None:
            vtype = VolumeType(id="t1", name="type-1", extra_specs=extra_specs)
        return RequestSpec(
            volume_id="vol-1",
            size=size,
            volume_type=vtype,
            availability_zones=azs or [],
            resource_backend=pin,
        )

    return build
