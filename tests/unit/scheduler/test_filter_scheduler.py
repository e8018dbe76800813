"""FilterScheduler.choose/explain: filtering, retries, pinning, weighing and reasons."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from firebrick.domain.errors import NoValidBackend
from firebrick.domain.model import PoolState, RequestSpec, RetryInfo
from firebrick.scheduler.filter_scheduler import FilterScheduler
from firebrick.scheduler.filters import build_filters
from firebrick.scheduler.weighers import CapacityWeigher, build_weighers

Pools = Callable[..., PoolState]
Specs = Callable[..., RequestSpec]
DEFAULT_FILTERS = ["AvailabilityZoneFilter", "CapacityFilter", "CapabilitiesFilter"]


def scheduler(multiplier: float = 1.0, max_attempts: int = 3) -> FilterScheduler:
    return FilterScheduler(
        build_filters(DEFAULT_FILTERS),
        build_weighers(["CapacityWeigher"], {"CapacityWeigher": multiplier}),
        max_attempts=max_attempts,
    )


def first_try() -> RetryInfo:
    return RetryInfo(num_attempts=1)


def test_most_virtual_free_wins_by_default(make_pool: Pools, make_spec: Specs) -> None:
    pools = [
        make_pool("a@lvm#small", total=100, free=100),
        make_pool("b@lvm#big", total=500, free=10, provisioned=400),
        make_pool("c@lvm#mid", total=200, free=200),
    ]
    placement = scheduler().choose(pools, make_spec(10), first_try())
    assert placement.pool.name == "b@lvm#big"  # 10000 - 400 virtual GiB
    assert placement.weight == 1.0
    assert placement.rejected == {}


def test_negative_multiplier_stacks(make_pool: Pools, make_spec: Specs) -> None:
    pools = [make_pool("a@lvm#small", total=100), make_pool("c@lvm#mid", total=200)]
    placement = scheduler(multiplier=-1.0).choose(pools, make_spec(10), first_try())
    assert placement.pool.name == "a@lvm#small"


@pytest.mark.parametrize("multiplier", [1.0, -1.0])
def test_unknown_capacity_ranks_last(make_pool: Pools, make_spec: Specs, multiplier: float) -> None:
    pools = [
        make_pool("a@nfs#share", total="unknown", free="unknown"),
        make_pool("b@lvm#p", total=100),
        make_pool("c@lvm#p", total=200),
    ]
    placement = scheduler(multiplier).choose(pools, make_spec(10), first_try())
    assert placement.pool.name != "a@nfs#share"


def test_unknown_capacity_still_chosen_when_alone(make_pool: Pools, make_spec: Specs) -> None:
    pools = [make_pool("a@nfs#share", total="infinite", free="infinite")]
    assert scheduler().choose(pools, make_spec(10), first_try()).pool.name == "a@nfs#share"


def test_ties_go_to_lowest_pool_name(make_pool: Pools, make_spec: Specs) -> None:
    pools = [make_pool("z@lvm#p"), make_pool("m@lvm#p"), make_pool("q@lvm#p")]
    assert scheduler().choose(pools, make_spec(1), first_try()).pool.name == "m@lvm#p"
    assert scheduler().choose(pools[::-1], make_spec(1), first_try()).pool.name == "m@lvm#p"


def test_multiplied_weighers_are_summed(make_pool: Pools, make_spec: Specs) -> None:
    pools = [
        make_pool("a@lvm#p", total=100, allocated=0),
        make_pool("b@lvm#p", total=300, allocated=90),
        make_pool("c@lvm#p", total=200, allocated=10),
    ]
    sched = FilterScheduler(
        build_filters(DEFAULT_FILTERS),
        build_weighers(["CapacityWeigher", "AllocatedCapacityWeigher"]),
    )
    placement = sched.choose(pools, make_spec(1), first_try())
    # a: 0 - 0, b: 1 - 1, c: ~0.5 - ~0.11
    assert placement.pool.name == "c@lvm#p"


def test_no_survivor_gives_reason_per_pool(make_pool: Pools, make_spec: Specs) -> None:
    pools = [
        make_pool("a@lvm#p", az="az2"),
        make_pool("b@lvm#p", total=100, free=10, thin=False, provisioned=90),
        make_pool("c@lvm#p", volume_backend_name="other"),
    ]
    spec = make_spec(50, azs=["az1", "nova"], extra_specs={"volume_backend_name": "lvm"})
    with pytest.raises(NoValidBackend) as caught:
        scheduler().choose(pools, spec, first_try())
    assert caught.value.message == "No valid backend was found. No weighed backends available"
    assert caught.value.reasons == {
        "a@lvm#p": "AvailabilityZoneFilter: pool is in availability zone 'az2', "
        "request wants 'az1', 'nova'",
        "b@lvm#p": "CapacityFilter: needs 50 GiB, 10 GiB free after 0% reserve "
        "(reported free 10 GiB; 100 GiB usable − 90 GiB provisioned)",
        "c@lvm#p": "CapabilitiesFilter: capability 'volume_backend_name' is 'other', "
        "type wants 'lvm'",
    }


def test_first_failing_filter_gives_the_reason(make_pool: Pools, make_spec: Specs) -> None:
    pool = make_pool("a@lvm#p", az="az2", free=None)
    reasons = scheduler().explain([pool], make_spec(1, azs=["az1"]))
    assert reasons["a@lvm#p"] is not None
    assert reasons["a@lvm#p"].startswith("AvailabilityZoneFilter:")


def test_no_pools_at_all(make_spec: Specs) -> None:
    with pytest.raises(NoValidBackend) as caught:
        scheduler().choose([], make_spec(1), first_try())
    assert caught.value.reasons == {}


def test_placement_lists_the_pools_it_passed_over(make_pool: Pools, make_spec: Specs) -> None:
    pools = [make_pool("a@lvm#p", az="az2"), make_pool("b@lvm#p")]
    placement = scheduler().choose(pools, make_spec(1, azs=["nova"]), first_try())
    assert placement.pool.name == "b@lvm#p"
    assert placement.weight == 0.0
    assert set(placement.rejected) == {"a@lvm#p"}


def test_attempted_backends_are_skipped(make_pool: Pools, make_spec: Specs) -> None:
    pools = [
        make_pool("a@lvm#p1", total=1000),
        make_pool("a@lvm#p2", total=900),
        make_pool("b@lvm#p", total=10),
    ]
    retry = RetryInfo(num_attempts=2, backends=["a@lvm"], last_error="iSCSI target timeout")
    placement = scheduler().choose(pools, make_spec(1), retry)
    assert placement.pool.name == "b@lvm#p"
    assert placement.rejected == {
        "a@lvm#p1": "AttemptedHosts: already tried (attempt 1 failed: iSCSI target timeout)",
        "a@lvm#p2": "AttemptedHosts: already tried (attempt 1 failed: iSCSI target timeout)",
    }


def test_only_the_last_attempt_carries_the_error(make_pool: Pools, make_spec: Specs) -> None:
    pools = [make_pool("a@lvm#p"), make_pool("b@lvm#p")]
    retry = RetryInfo(num_attempts=3, backends=["a@lvm", "b@lvm"], last_error="boom")
    with pytest.raises(NoValidBackend) as caught:
        scheduler().choose(pools, make_spec(1), retry)
    assert caught.value.reasons == {
        "a@lvm#p": "AttemptedHosts: already tried (attempt 1 failed)",
        "b@lvm#p": "AttemptedHosts: already tried (attempt 2 failed: boom)",
    }


def test_max_attempts(make_pool: Pools, make_spec: Specs) -> None:
    pools = [make_pool("a@lvm#p"), make_pool("b@lvm#p"), make_pool("c@lvm#p")]
    tried = ["a@lvm", "b@lvm"]
    third = RetryInfo(num_attempts=3, backends=tried, last_error="boom")
    assert scheduler().choose(pools, make_spec(1), third).pool.name == "c@lvm#p"
    fourth = RetryInfo(num_attempts=4, backends=[*tried, "c@lvm"], last_error="bang")
    with pytest.raises(NoValidBackend) as caught:
        scheduler().choose(pools, make_spec(1), fourth)
    assert caught.value.message == "Exceeded max scheduling attempts 3 for resource vol-1"
    assert caught.value.reasons["c@lvm#p"] == (
        "AttemptedHosts: already tried (attempt 3 failed: bang)"
    )


def test_single_attempt_disables_rescheduling(make_pool: Pools, make_spec: Specs) -> None:
    with pytest.raises(NoValidBackend, match="Exceeded max scheduling attempts 1"):
        scheduler(max_attempts=1).choose(
            [make_pool()], make_spec(1), RetryInfo(num_attempts=2, backends=["x@y"])
        )


def test_max_attempts_must_be_positive() -> None:
    with pytest.raises(ValueError):
        FilterScheduler([], [], max_attempts=0)


def test_pin_to_backend(make_pool: Pools, make_spec: Specs) -> None:
    pools = [make_pool("a@lvm#p", total=1000), make_pool("b@lvm#p1"), make_pool("b@lvm#p2")]
    placement = scheduler().choose(pools, make_spec(1, pin="b@lvm"), first_try())
    assert placement.pool.backend == "b@lvm"
    assert placement.rejected == {"a@lvm#p": "ResourceBackend: request is pinned to 'b@lvm'"}


def test_pin_to_pool(make_pool: Pools, make_spec: Specs) -> None:
    pools = [make_pool("b@lvm#p1", total=1000), make_pool("b@lvm#p2")]
    placement = scheduler().choose(pools, make_spec(1, pin="b@lvm#p2"), first_try())
    assert placement.pool.name == "b@lvm#p2"
    assert set(placement.rejected) == {"b@lvm#p1"}


def test_pinned_pool_still_has_to_pass_filters(make_pool: Pools, make_spec: Specs) -> None:
    pools = [make_pool("a@lvm#p", total=1000), make_pool("b@lvm#p", total=1, thin=False)]
    with pytest.raises(NoValidBackend) as caught:
        scheduler().choose(pools, make_spec(5, pin="b@lvm"), first_try())
    assert caught.value.reasons["b@lvm#p"].startswith("CapacityFilter: needs 5 GiB")


def test_explain_reports_every_pool(make_pool: Pools, make_spec: Specs) -> None:
    pools = [make_pool("a@lvm#p", multiattach=True), make_pool("b@lvm#p", multiattach=False)]
    spec = make_spec(0, extra_specs={"multiattach": "<is> True"})
    assert scheduler().explain(pools, spec) == {
        "a@lvm#p": None,
        "b@lvm#p": "CapabilitiesFilter: capability 'multiattach' is 'False', "
        "type wants '<is> True'",
    }


def test_explain_with_size_zero_ignores_capacity(make_pool: Pools, make_spec: Specs) -> None:
    assert scheduler().explain([make_pool(total=0, free=0)], make_spec(0)) == {
        "node1@lvm#pool": None
    }


def test_scheduler_does_not_touch_the_pools(make_pool: Pools, make_spec: Specs) -> None:
    pool = make_pool(total=100, free=100, allocated=5)
    before = dict(pool.capabilities)
    FilterScheduler(build_filters(DEFAULT_FILTERS), [(CapacityWeigher(), 1.0)]).choose(
        [pool], make_spec(10), first_try()
    )
    assert pool.capabilities == before
    assert pool.allocated_capacity_gb == 5
