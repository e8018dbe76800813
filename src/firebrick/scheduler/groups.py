"""The scheduler's part in generic volume groups: one backend for a whole group.

Cinder's ``schedule_create_group``: each of the group's volume types is filtered and
weighed on its own; only backends that have a passing pool for every type, and that
satisfy the group type's group specs (the CapabilitiesFilter reads them as a volume
type's extra specs), are candidates; the best pool of the first type among them wins.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection

from firebrick.db import group_snapshots, group_types, groups, messages, services, types
from firebrick.db.engine import Database
from firebrick.db.volumes import now
from firebrick.domain import groups as domain
from firebrick.domain.errors import NoValidBackend
from firebrick.domain.groups import Group, GroupType
from firebrick.domain.model import PoolState, RequestSpec, RetryInfo, VolumeType
from firebrick.rpc.bus import SCHEDULER_TOPIC, Bus, cast_or_defer, volume_topic
from firebrick.scheduler.filter_scheduler import FilterScheduler

LOG = logging.getLogger("firebrick.scheduler")

GROUP_NO_VALID_BACKEND = "VOLUME_GROUP_101_003"

LiveBackends = Callable[[Connection], set[str]]


def group_spec_as_type(group_type: GroupType) -> VolumeType:
    """The group type's specs in the shape the filters read (a spec without value asks
    for nothing)."""
    specs = {k: v for k, v in group_type.group_specs.items() if v is not None}
    return VolumeType(id=group_type.id, name=group_type.name, extra_specs=specs)


def choose_pool(
    scheduler: FilterScheduler,
    pools: Sequence[PoolState],
    group: Group,
    volume_types: Sequence[VolumeType],
    group_type: GroupType,
) -> PoolState:
    """The pool a new group goes to; NoValidBackend with every pool's reason otherwise."""
    zones = [group.availability_zone] if group.availability_zone else []

    def spec(volume_type: VolumeType) -> RequestSpec:
        return RequestSpec(volume_id=group.id, size=0, volume_type=volume_type,
                           availability_zones=zones, operation="create_group")  # fmt: skip

    rejected: dict[str, str] = {}
    backends = {pool.backend for pool in pools}
    first: dict[str, str | None] = {}
    for volume_type in volume_types:
        verdicts = scheduler.explain(pools, spec(volume_type))
        first = first or verdicts
        for name, reason in verdicts.items():
            if reason is not None:
                rejected.setdefault(name, f"volume type {volume_type.name}: {reason}")
        backends &= {p.backend for p in pools if verdicts[p.name] is None}
    type_verdicts = scheduler.explain(pools, spec(group_spec_as_type(group_type)))
    for name, reason in type_verdicts.items():
        if reason is not None:
            rejected.setdefault(name, f"group type {group_type.name}: {reason}")
    backends &= {p.backend for p in pools if type_verdicts[p.name] is None}
    # The group's host is a pool of the first type (Cinder's); its volumes may use any
    # pool of that backend.
    candidates = [p for p in pools if p.backend in backends and first.get(p.name) is None]
    if not candidates:
        raise NoValidBackend(
            "No valid backend was found. No backend fits every volume type of the group",
            {p.name: rejected.get(p.name, "no pool of its backend fits every type")
             for p in pools},
        )  # fmt: skip
    chosen = scheduler.choose(candidates, spec(volume_types[0]), RetryInfo(num_attempts=1))
    return chosen.pool


class GroupScheduling:
    """Places groups; re-sends group requests that made no progress (the reconciler)."""

    def __init__(
        self,
        db: Database,
        bus: Bus,
        scheduler: FilterScheduler,
        live_backends: LiveBackends,
    ) -> None:
        self.db = db
        self.bus = bus
        self.scheduler = scheduler
        self.live_backends = live_backends

    def create_group(self, payload: dict[str, Any]) -> None:
        group_id = payload["group_id"]
        with self.db.read() as conn:
            group = groups.find(conn, group_id)
            if group is None or group.status != domain.CREATING or group.host is not None:
                return  # deleted meanwhile, or a duplicate delivery of a placed request
            pools = services.pool_states(conn, self.live_backends(conn))
            volume_types = [types.get(conn, t) for t in group.volume_type_ids]
            group_type = group_types.get(conn, group.group_type_id)
        try:
            pool = choose_pool(self.scheduler, pools, group, volume_types, group_type)
        except NoValidBackend as exc:
            self._fail(group, exc)
            return
        with self.db.write() as conn:
            placed = groups.update_group(
                conn, group.id, {"host": pool.name, "availability_zone": pool.availability_zone},
                expected_status=domain.CREATING,
            )  # fmt: skip
        if placed:
            LOG.info("Group %s: placed on %s", group.id, pool.name)
            cast_or_defer(self.bus, volume_topic(pool.backend), "create_group",
                          {"group_id": group.id})  # fmt: skip

    def _fail(self, group: Group, error: NoValidBackend) -> None:
        lines = [error.message] + [f"pool {p}: {why}" for p, why in sorted(error.reasons.items())]
        detail = "\n".join(lines)
        LOG.warning("Group %s: %s", group.id, detail.replace("\n", "; "))
        with self.db.write() as conn:
            if groups.update_group(conn, group.id, {"status": domain.ERROR},
                                   expected_status=domain.CREATING):  # fmt: skip
                messages.add(
                    conn, project_id=group.project_id, event_id=GROUP_NO_VALID_BACKEND,
                    resource_uuid=group.id, resource_type="GROUP", detail=detail,
                )  # fmt: skip

    # Recovery ------------------------------------------------------------------------

    def resume_unscheduled(self) -> None:
        with self.db.read() as conn:
            pending = groups.unplaced(conn)
        for group_id in pending:
            LOG.info("Group %s: scheduling request resumed", group_id)
            cast_or_defer(self.bus, SCHEDULER_TOPIC, "create_group", {"group_id": group_id})

    def reconcile(self, stuck_after: float) -> int:
        """Send again the request of every group and group snapshot stuck in a transition."""
        before = now() - timedelta(seconds=stuck_after)
        transitional = (domain.CREATING, domain.UPDATING, domain.DELETING)
        with self.db.read() as conn:
            stuck_groups = groups.stale(conn, transitional, before)
            stuck_snapshots = group_snapshots.stale(
                conn, (domain.CREATING, domain.DELETING), before
            )
            live = self.live_backends(conn)
        sent = 0
        for group in stuck_groups:
            backend = group.backend
            if backend is not None and backend not in live:
                continue  # its service resumes its own work when it comes back
            with self.db.write() as conn:
                if not groups.update_group(conn, group.id, {}, expected_status=group.status):
                    continue
            LOG.warning("Group %s: no progress in %s; sending its request again",
                        group.id, group.status)  # fmt: skip
            payload = {"group_id": group.id}
            if backend is None:
                cast_or_defer(self.bus, SCHEDULER_TOPIC, "create_group", payload)
            else:
                cast_or_defer(self.bus, volume_topic(backend), _GROUP_METHODS[group.status]
                              if not _from_source(group) else "create_group_from_src",
                              payload)  # fmt: skip
            sent += 1
        for group_snapshot, host in stuck_snapshots:
            backend = host.split("#", 1)[0] if host else None
            if backend is None or backend not in live:
                continue
            with self.db.write() as conn:
                if not group_snapshots.update_group_snapshot(
                    conn, group_snapshot.id, {}, expected_status=group_snapshot.status
                ):
                    continue
            method = "create_group_snapshot" if group_snapshot.status == domain.CREATING \
                else "delete_group_snapshot"  # fmt: skip
            LOG.warning("Group snapshot %s: no progress in %s; sending its request again",
                        group_snapshot.id, group_snapshot.status)  # fmt: skip
            cast_or_defer(self.bus, volume_topic(backend), method,
                          {"group_snapshot_id": group_snapshot.id})  # fmt: skip
            sent += 1
        return sent


_GROUP_METHODS = {
    domain.CREATING: "create_group",
    domain.UPDATING: "update_group",
    domain.DELETING: "delete_group",
}


def _from_source(group: Group) -> bool:
    return group.status == domain.CREATING and bool(group.group_snapshot_id
                                                    or group.source_group_id)  # fmt: skip
