"""The scheduler's part of a migration: check (or choose) the destination, place the copy.

Cinder's ``migrate_volume_to_host`` (``backend_passes_filters``: the requested backend or
pool must pass every filter for the volume's size and type) and ``retype``
(``find_retype_backend``: any other backend that takes the new type). The copy is
recorded as a volume row of its own on the chosen pool, its capacity accounted at once
under the pool's lock, and the destination's volume service is asked to make it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from firebrick.db import migration_state, placement, services, types, volumes
from firebrick.db import volume_migrations as journal
from firebrick.db.engine import Database
from firebrick.db.volume_migrations import Migration
from firebrick.domain import migration, statuses
from firebrick.domain.errors import NoValidBackend
from firebrick.domain.model import PoolState, RequestSpec, RetryInfo, Volume, VolumeType
from firebrick.notifier import Notifier
from firebrick.rpc.bus import SCHEDULER_TOPIC, Bus, cast_or_defer, volume_topic
from firebrick.scheduler.filter_scheduler import FilterScheduler

LOG = logging.getLogger("firebrick.scheduler")

NO_VALID_BACKEND = "VOLUME_VOLUME_001_003"
MAX_PLACEMENT_TRIES = 5


class _Changed(Exception):
    """The volume or its migration changed under the placement: roll it back."""


def explain(error: NoValidBackend) -> str:
    lines = [error.message]
    lines += [f"pool {pool}: {why}" for pool, why in sorted(error.reasons.items())]
    return "\n".join(lines)


class MigrationScheduler:
    def __init__(
        self,
        *,
        host: str,
        db: Database,
        bus: Bus,
        notifier: Notifier,
        scheduler: FilterScheduler,
        live_backends: Callable[[Any], set[str]],
    ) -> None:
        self.host = host
        self.db = db
        self.bus = bus
        self.notifier = notifier
        self.scheduler = scheduler
        self.live_backends = live_backends

    def place(self, volume_id: str) -> None:
        with self.db.read() as conn:
            found = journal.find(conn, volume_id)
            volume = volumes.find(conn, volume_id)
            if found is None or found.phase != migration.SCHEDULING:
                return  # placed already (a duplicate delivery), or ended meanwhile
            new_type = types.get(conn, found.new_type_id) if found.new_type_id else None
            volume_type = new_type or (
                types.get(conn, volume.volume_type_id)
                if volume is not None and volume.volume_type_id
                else None
            )
            live = self.live_backends(conn)
        if volume is None:
            with self.db.write() as conn:
                journal.remove(conn, volume_id)
            return
        spec = RequestSpec(
            volume_id=volume.id, size=volume.size, volume_type=volume_type,
            availability_zones=[volume.availability_zone] if volume.availability_zone else [],
            operation="retype" if new_type else "migrate_volume",
        )  # fmt: skip
        for _ in range(MAX_PLACEMENT_TRIES):
            with self.db.read() as conn:
                pools = self._candidates(found, services.pool_states(conn, live))
            try:
                chosen = self.scheduler.choose(pools, spec, RetryInfo(num_attempts=1)).pool
            except NoValidBackend as exc:
                self._fail(found, volume, exc)
                return
            target_id = self._commit(found, volume, volume_type, chosen, spec)
            if target_id is not None:
                break
        else:
            self._fail(found, volume, NoValidBackend("Pools kept filling up while placing"))
            return
        if target_id == "":
            return  # the volume or its migration changed meanwhile
        LOG.info("Volume %s: migration copy %s placed on %s", volume_id, target_id, chosen.name)
        cast_or_defer(self.bus, volume_topic(chosen.backend), "migrate_volume",
                      {"volume_id": volume_id})  # fmt: skip

    @staticmethod
    def _candidates(found: Migration, pools: list[PoolState]) -> list[PoolState]:
        """The requested backend's (or pool's) pools; for a retype, every other backend's."""
        requested = found.requested_host
        if requested is None:
            source = migration.backend_of(found.source_host)
            return [p for p in pools if p.backend != source]
        if "#" in requested:
            return [p for p in pools if p.name == requested]
        return [p for p in pools if p.backend == requested]

    def _commit(
        self,
        found: Migration,
        volume: Volume,
        volume_type: VolumeType | None,
        chosen: PoolState,
        spec: RequestSpec,
    ) -> str | None:
        """Record the copy on the pool if it still fits; its id, None to choose again, or ""
        when there is nothing to place any more."""
        try:
            return self._record(found, volume, volume_type, chosen, spec)
        except _Changed:
            return ""

    def _record(
        self,
        found: Migration,
        volume: Volume,
        volume_type: VolumeType | None,
        chosen: PoolState,
        spec: RequestSpec,
    ) -> str | None:
        target_id = str(uuid.uuid4())
        with self.db.write() as conn:
            pool = placement.lock_pool(conn, chosen.name)
            if pool is None or self.scheduler.explain([pool], spec)[pool.name] is not None:
                return None
            marked = volumes.update(
                conn, volume.id, {"migration_status": migration.STARTING},
                expected={"status": volume.status, "host": found.source_host,
                          "migration_status": volume.migration_status},
            )  # fmt: skip
            placed = marked and journal.advance(
                conn, volume.id,
                {"phase": migration.PLACED, "target_id": target_id, "dest_host": pool.name},
                phases={migration.SCHEDULING},
            )  # fmt: skip
            if not placed:
                raise _Changed
            stamp = volumes.now()
            volumes.insert_volume(
                conn,
                {
                    "id": target_id, "project_id": volume.project_id, "user_id": volume.user_id,
                    "display_name": volume.name, "display_description": volume.description,
                    "size": volume.size, "status": statuses.CREATING,
                    "attach_status": statuses.DETACHED,
                    "availability_zone": pool.availability_zone,
                    "volume_type_id": volume_type.id if volume_type else None,
                    "host": pool.name, "bootable": volume.bootable,
                    "multiattach": volume.multiattach,
                    "migration_status": migration.target_status(volume.id),
                    "use_quota": False, "created_at": stamp, "scheduled_at": stamp,
                    "scheduling_attempts": 1, "task_state": "scheduled",
                },
                {},
            )  # fmt: skip
            services.add_allocation(conn, pool.name, volume.size)
        return target_id

    def _fail(self, found: Migration, volume: Volume, error: NoValidBackend) -> None:
        detail = explain(error)
        LOG.warning("Volume %s: migration not placed: %s", volume.id, detail.replace("\n", "; "))
        with self.db.write() as conn:
            failed = migration_state.fail(
                conn, volume.id, detail, phases=frozenset({migration.SCHEDULING}),
                event_id=NO_VALID_BACKEND,
            )  # fmt: skip
            after = volumes.find(conn, volume.id)
        if failed is None:
            return
        method = "retype" if found.is_retype else "migrate_volume_to_host"
        state: dict[str, Any] = {"status": after.status if after else volume.status}
        if not found.is_retype:
            state["migration_status"] = migration.ERROR
        self.notifier.emit(
            f"scheduler.{self.host}",
            f"scheduler.{method}",
            {
                "request_spec": {"volume_id": volume.id, "migration_policy": "on-demand"}
                if found.is_retype
                else {"volume_id": volume.id},
                "volume_properties": {"size": volume.size,
                                      "volume_type_id": volume.volume_type_id},
                "volume_id": volume.id,
                "state": state,
                "method": method,
                "reason": error.message,
            },
            priority="ERROR",
        )  # fmt: skip

    def reconcile(self, before: datetime) -> int:
        """Send again the step of every migration that waits on a lost request; how many.

        Steps that run on a volume service (creating, copying) are not sent again: a
        service that died in one rolls it back when it starts.
        """
        waiting = {migration.SCHEDULING, migration.PLACED, migration.EXPORTING,
                   migration.ABORTING}  # fmt: skip
        with self.db.read() as conn:
            pending = journal.stale(conn, waiting, before)
            live = self.live_backends(conn) if pending else set()
        sent = 0
        for found in pending:
            if found.phase == migration.SCHEDULING:
                topic, method = SCHEDULER_TOPIC, "migrate_volume"
            elif found.phase == migration.EXPORTING:
                backend = migration.backend_of(found.source_host)
                topic, method = volume_topic(backend), "migration_export"
            else:
                backend = migration.backend_of(found.dest_host or "")
                topic, method = volume_topic(backend), "migrate_volume"
            if topic != SCHEDULER_TOPIC and backend not in live:
                continue  # that service moves its migrations on when it starts
            with self.db.write() as conn:
                # Touching the row restarts its clock, so a slow consumer is not flooded.
                if not journal.advance(conn, found.volume_id, {}, phases={found.phase}):
                    continue
            LOG.warning("Volume %s: migration waiting in %s; sending its request again",
                        found.volume_id, found.phase)  # fmt: skip
            cast_or_defer(self.bus, topic, method, {"volume_id": found.volume_id})
            sent += 1
        return sent
