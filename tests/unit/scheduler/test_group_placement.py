"""choose_pool: one backend that fits every volume type of a group and its group specs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

from firebrick.domain.errors import NoValidBackend
from firebrick.domain.groups import Group, GroupType
from firebrick.domain.model import PoolState, VolumeType
from firebrick.scheduler.filter_scheduler import FilterScheduler
from firebrick.scheduler.filters import build_filters
from firebrick.scheduler.groups import choose_pool, group_spec_as_type
from firebrick.scheduler.weighers import build_weighers

Pools = Callable[..., PoolState]


def scheduler() -> FilterScheduler:
    return FilterScheduler(
        build_filters(["AvailabilityZoneFilter", "CapacityFilter", "CapabilitiesFilter"]),
        build_weighers(["CapacityWeigher"], {"CapacityWeigher": 1.0}),
    )


def group(zone: str | None = "nova") -> Group:
    return Group(id="g", project_id="p", user_id="u", status="creating", group_type_id="gt",
                 created_at=datetime(2026, 1, 1), availability_zone=zone)  # fmt: skip


def vtype(name: str, **specs: str) -> VolumeType:
    return VolumeType(id=name, name=name, extra_specs=specs)


GT = GroupType(id="gt", name="gt")


def test_every_type_must_fit_the_same_backend(make_pool: Pools) -> None:
    pools = [make_pool("a@one#p", volume_backend_name="one", free=500, total=500),
             make_pool("b@two#p", volume_backend_name="two", free=100, total=100)]  # fmt: skip
    chosen = choose_pool(scheduler(), pools, group(), [vtype("any"),
                         vtype("two", volume_backend_name="two")], GT)  # fmt: skip
    assert chosen.name == "b@two#p"  # the emptier backend does not take the second type


def test_the_best_pool_of_the_candidates_wins(make_pool: Pools) -> None:
    pools = [make_pool("a@one#p", free=100, total=100), make_pool("b@two#p", free=900, total=900)]
    assert choose_pool(scheduler(), pools, group(), [vtype("any")], GT).name == "b@two#p"


def test_no_backend_for_all_types_says_why_for_each_pool(make_pool: Pools) -> None:
    pools = [make_pool("a@one#p", volume_backend_name="one"),
             make_pool("b@two#p", volume_backend_name="two")]  # fmt: skip
    types = [vtype("t1", volume_backend_name="one"), vtype("t2", volume_backend_name="two")]
    with pytest.raises(NoValidBackend) as raised:
        choose_pool(scheduler(), pools, group(), types, GT)
    assert set(raised.value.reasons) == {"a@one#p", "b@two#p"}
    assert "volume type t2" in raised.value.reasons["a@one#p"]
    assert "volume type t1" in raised.value.reasons["b@two#p"]


def test_group_specs_are_matched_like_extra_specs(make_pool: Pools) -> None:
    pools = [make_pool("a@one#p"), make_pool("b@two#p", consistent_group_snapshot_enabled=True)]
    consistent = GroupType(
        id="gt", name="cg", group_specs={"consistent_group_snapshot_enabled": "<is> True"}
    )
    assert choose_pool(scheduler(), pools, group(), [vtype("x")], consistent).name == "b@two#p"
    with pytest.raises(NoValidBackend) as raised:
        choose_pool(scheduler(), pools[:1], group(), [vtype("x")], consistent)
    assert "group type cg" in raised.value.reasons["a@one#p"]


def test_the_group_zone_is_honoured(make_pool: Pools) -> None:
    pools = [make_pool("a@one#p", az="nova", free=900, total=900),
             make_pool("b@two#p", az="other")]  # fmt: skip
    assert choose_pool(scheduler(), pools, group("other"), [vtype("x")], GT).name == "b@two#p"


def test_a_spec_without_value_asks_for_nothing() -> None:
    typed = group_spec_as_type(GroupType(id="i", name="n", group_specs={"a": None, "b": "c"}))
    assert typed.extra_specs == {"b": "c"}
