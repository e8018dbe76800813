"""AvailabilityZoneFilter, CapabilitiesFilter and build_filters."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from firebrick.domain.model import PoolState, RequestSpec
from firebrick.scheduler.filters import (
    AvailabilityZoneFilter,
    CapabilitiesFilter,
    CapacityFilter,
    build_filters,
)

Pools = Callable[..., PoolState]
Specs = Callable[..., RequestSpec]


def test_az_filter_passes_any_zone_when_none_requested(make_pool: Pools, make_spec: Specs) -> None:
    assert AvailabilityZoneFilter().rejects(make_pool(az="az9"), make_spec()) is None


def test_az_filter_wants_one_of_the_requested_zones(make_pool: Pools, make_spec: Specs) -> None:
    spec = make_spec(azs=["az1", "az2"])
    assert AvailabilityZoneFilter().rejects(make_pool(az="az2"), spec) is None
    assert AvailabilityZoneFilter().rejects(make_pool(az="nova"), spec) == (
        "pool is in availability zone 'nova', request wants 'az1', 'az2'"
    )


def capabilities_rejects(pool: PoolState, spec: RequestSpec) -> str | None:
    return CapabilitiesFilter().rejects(pool, spec)


def test_capabilities_pass_without_type_or_specs(make_pool: Pools, make_spec: Specs) -> None:
    assert capabilities_rejects(make_pool(), make_spec()) is None
    assert capabilities_rejects(make_pool(), make_spec(extra_specs={})) is None


def test_capabilities_match_reported_values(make_pool: Pools, make_spec: Specs) -> None:
    pool = make_pool(volume_backend_name="lvmdriver-1", multiattach=True)
    spec = make_spec(
        extra_specs={
            "volume_backend_name": "lvmdriver-1",
            "capabilities:multiattach": "<is> True",
            "thin_provisioning_support": "<is> True",
        }
    )
    assert capabilities_rejects(pool, spec) is None


def test_capabilities_ignore_other_scopes(make_pool: Pools, make_spec: Specs) -> None:
    spec = make_spec(
        extra_specs={
            "provisioning:type": "thick",
            "RESKEY:availability_zones": "az1",
            "qos:maxIOPS": "100",
            "acme:dedup": "<is> True",
        }
    )
    assert capabilities_rejects(make_pool(), spec) is None


def test_capabilities_walk_nested_keys(make_pool: Pools, make_spec: Specs) -> None:
    pool = make_pool(replication={"mode": "sync", "targets": ["dr1", "dr2"]})
    assert (
        capabilities_rejects(pool, make_spec(extra_specs={"capabilities:replication:mode": "sync"}))
        is None
    )
    assert (
        capabilities_rejects(
            pool, make_spec(extra_specs={"capabilities:replication:targets": "dr2"})
        )
        is None
    )
    assert (
        capabilities_rejects(
            pool, make_spec(extra_specs={"capabilities:replication:mode": "async"})
        )
        == "capability 'replication:mode' is 'sync', type wants 'async'"
    )
    assert (
        capabilities_rejects(pool, make_spec(extra_specs={"capabilities:replication:mode:x": "1"}))
        == "capability 'replication:mode:x' not reported"
    )


def test_capability_missing(make_pool: Pools, make_spec: Specs) -> None:
    spec = make_spec(extra_specs={"capabilities:compression": "<is> True"})
    assert capabilities_rejects(make_pool(), spec) == "capability 'compression' not reported"


def test_capability_mismatch_says_what_was_seen(make_pool: Pools, make_spec: Specs) -> None:
    spec = make_spec(extra_specs={"multiattach": "<is> True"})
    assert capabilities_rejects(make_pool(multiattach=False), spec) == (
        "capability 'multiattach' is 'False', type wants '<is> True'"
    )


def test_capability_lists_match_any_element(make_pool: Pools, make_spec: Specs) -> None:
    pool = make_pool(storage_protocol=["iSCSI", "iscsi"])
    assert capabilities_rejects(pool, make_spec(extra_specs={"storage_protocol": "iscsi"})) is None
    assert capabilities_rejects(pool, make_spec(extra_specs={"storage_protocol": "FC"})) == (
        "capability 'storage_protocol' is ['iSCSI', 'iscsi'], type wants 'FC'"
    )


def test_build_filters_keeps_configured_order() -> None:
    filters = build_filters(["CapabilitiesFilter", "AvailabilityZoneFilter", "CapacityFilter"])
    assert [f.name for f in filters] == [
        "CapabilitiesFilter",
        "AvailabilityZoneFilter",
        "CapacityFilter",
    ]
    assert isinstance(filters[2], CapacityFilter)


def test_build_filters_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="JsonFilter"):
        build_filters(["CapacityFilter", "JsonFilter"])
