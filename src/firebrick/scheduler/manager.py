"""The scheduler role: places each new volume on a pool and hands it to that backend."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection

from firebrick.db import groups, messages, placement, recovery, services, snapshots, types, volumes
from firebrick.db.engine import Database
from firebrick.db.outage import is_outage
from firebrick.domain import statuses
from firebrick.domain.errors import NotFound, NoValidBackend
from firebrick.domain.model import RequestSpec, RetryInfo, Volume
from firebrick.metrics.instruments import count_resent
from firebrick.notifier import Notifier
from firebrick.rpc.bus import SCHEDULER_TOPIC, Bus, cast_or_defer, volume_topic
from firebrick.scheduler.filter_scheduler import FilterScheduler
from firebrick.scheduler.groups import GroupScheduling
from firebrick.scheduler.migration import MigrationScheduler

LOG = logging.getLogger("firebrick.scheduler")

BINARY = "cinder-scheduler"
NO_VALID_BACKEND = "VOLUME_VOLUME_001_003"
MAX_PLACEMENT_TRIES = 5
UNKNOWN_ERROR = "VOLUME_VOLUME_001_001"
# The request sent again for a volume stuck in each status (managing: volume/manage.py).
RESENT = {
    statuses.CREATING: "create_volume", statuses.DELETING: "delete_volume",
    "managing": "manage_existing", "unmanaging": "unmanage_volume",
    statuses.REVERTING: "revert_to_snapshot",  # with the snapshot being restored
}  # fmt: skip


def explain(error: NoValidBackend) -> str:
    """One line per pool saying why it was rejected."""
    lines = [error.message]
    lines += [f"pool {pool}: {why}" for pool, why in sorted(error.reasons.items())]
    return "\n".join(lines)


class SchedulerManager:
    def __init__(
        self,
        *,
        host: str,
        availability_zone: str,
        db: Database,
        bus: Bus,
        notifier: Notifier,
        scheduler: FilterScheduler,
        service_down_time: float,
        report_interval: float,
        stuck_after: float = 120.0,
        reconcile_interval: float = 30.0,
    ) -> None:
        self.host = host
        self.availability_zone = availability_zone
        self.db = db
        self.bus = bus
        self.notifier = notifier
        self.scheduler = scheduler
        self.service_down_time = service_down_time
        self.report_interval = report_interval
        self.stuck_after = stuck_after
        self.reconcile_interval = reconcile_interval
        self._stop = threading.Event()
        # When this scheduler last met a database outage (monotonic seconds): services
        # could not heartbeat either, so for service_down_time after it a stale heartbeat
        # does not mean a dead service.
        self._outage_seen = float("-inf")
        self.groups = GroupScheduling(db, bus, scheduler, self._live_backends)
        self.migrations = MigrationScheduler(
            host=host, db=db, bus=bus, notifier=notifier, scheduler=scheduler,
            live_backends=self._live_backends,
        )  # fmt: skip

    def start(self) -> None:
        self._heartbeat()
        # One consumer: placements are decided one at a time, so capacity stays exact.
        self.bus.consume(SCHEDULER_TOPIC, self.handle, workers=1)
        self._resume_unscheduled()
        self.migrations.reconcile(volumes.now())  # migrations sent but never placed
        threading.Thread(target=self._heartbeat_loop, name="scheduler-report", daemon=True).start()
        threading.Thread(
            target=self._reconcile_loop, name="scheduler-reconcile", daemon=True
        ).start()

    def stop(self) -> None:
        self._stop.set()

    def _heartbeat(self) -> None:
        with self.db.write() as conn:
            services.heartbeat(conn, self.host, BINARY, SCHEDULER_TOPIC, self.availability_zone)

    def _heartbeat_loop(self) -> None:
        while not self._stop.wait(self.report_interval):
            try:
                self._heartbeat()
            except Exception as exc:
                if self._met_outage(exc):
                    LOG.warning("Scheduler heartbeat failed: %s", exc)
                else:
                    LOG.exception("Scheduler heartbeat failed")

    def _met_outage(self, exc: BaseException) -> bool:
        if is_outage(exc):
            self._outage_seen = time.monotonic()
            return True
        return False

    def _reconcile_loop(self) -> None:
        while not self._stop.wait(self.reconcile_interval):
            try:
                self.reconcile()
                self.migrations.reconcile(volumes.now() - timedelta(seconds=self.stuck_after))
            except Exception:
                LOG.exception("Reconciling stuck volumes failed")

    def reconcile(self) -> int:
        """Send again the request of every volume stuck in a transitional status; how many.

        A request can be lost between a commit and its cast (a process killed between
        the two, a broker that refused the message); every handler is idempotent, so
        sending it again is safe. A volume on a backend whose service is down waits for
        that service (it resumes its own work at start) or for an admin's cleanup.
        """
        before = volumes.now() - timedelta(seconds=self.stuck_after)
        with self.db.read() as conn:
            pending = recovery.stale(conn, [*RESENT], before)
            live = self._live_backends(conn) if pending else set()
            # Volumes a group's create or delete handles are re-sent with the group.
            owned = groups.owned_by_group_work(conn) if pending else set()
        pending = [item for item in pending if item.volume_id not in owned]
        sent = self.groups.reconcile(self.stuck_after)
        for item in pending:
            backend = item.host.split("#", 1)[0] if item.host else None
            if (backend is not None and backend not in live) or (
                backend is None and item.status != statuses.CREATING
            ):
                continue
            with self.db.write() as conn:
                # Touching the row restarts its clock, so a slow consumer is not flooded.
                if not volumes.update(conn, item.volume_id, {}, expected={"status": item.status}):
                    continue
            LOG.warning("Volume %s: no progress in %s; sending its request again",
                        item.volume_id, item.status)  # fmt: skip
            payload = {"volume_id": item.volume_id}
            if backend is None:
                self._cast(SCHEDULER_TOPIC, "create_volume", payload)
            elif item.status == statuses.REVERTING:
                with self.db.read() as conn:
                    restoring = [s.id for s in snapshots.of_volume(conn, item.volume_id)
                                 if s.status == statuses.RESTORING]  # fmt: skip
                if restoring:
                    payload["snapshot_id"] = restoring[0]
                    self._cast(volume_topic(backend), "revert_to_snapshot", payload)
            else:
                self._cast(volume_topic(backend), RESENT[item.status], payload)
            count_resent(item.status)
            sent += 1
        return sent

    def _live_backends(self, conn: Any, *, placing: bool = False) -> set[str]:
        """Volume services that are up and enabled; ``placing``: that take new volumes
        (a frozen service finishes what it has but gets nothing new)."""
        after_outage = time.monotonic() - self._outage_seen < self.service_down_time
        return {
            s.host
            for s in services.list_services(conn, "cinder-volume")
            if not s.disabled
            and (after_outage or s.is_up(self.service_down_time))
            and not (placing and s.frozen)
        }

    def _cast(self, topic: str, method: str, payload: dict[str, Any]) -> None:
        cast_or_defer(self.bus, topic, method, payload)

    def _resume_unscheduled(self) -> None:
        """Volumes accepted by the API but never placed (the process stopped first)."""
        with self.db.read() as conn:
            pending = volumes.list_volumes(
                conn, project_id=None, filters={"status": statuses.CREATING},
                sort=[("created_at", "asc")], limit=None, marker=None,
            )  # fmt: skip
        for volume in pending:
            if volume.host is None:
                LOG.info("Volume %s: scheduling request resumed", volume.id)
                self._cast(SCHEDULER_TOPIC, "create_volume", {"volume_id": volume.id})
        self.groups.resume_unscheduled()

    def handle(self, method: str, payload: dict[str, Any]) -> None:
        # An outage of the database or the broker is not the request's failure: it goes
        # back to the bus, to be taken again once the outage is over.
        if method == "create_group":
            try:
                self.groups.create_group(payload)
            except Exception as exc:
                if self._met_outage(exc):
                    raise
                LOG.exception("Group %s: scheduling failed", payload.get("group_id"))
            return
        if method == "migrate_volume":
            try:
                self.migrations.place(payload["volume_id"])
            except Exception as exc:
                if self._met_outage(exc):
                    raise
                LOG.exception("Volume %s: placing its migration failed", payload.get("volume_id"))
            return
        if method != "create_volume":
            LOG.error("Scheduler: unknown request %s", method)
            return
        try:
            self.create_volume(payload)
        except Exception as exc:
            if self._met_outage(exc):
                raise
            # Never leave the volume in `creating` because of a bug or a broken report.
            LOG.exception("Volume %s: scheduling failed", payload.get("volume_id"))
            self._fail_unexpected(payload["volume_id"], payload.get("request_spec") or {}, exc)

    @staticmethod
    def _request_spec(conn: Connection, volume: Volume, raw: dict[str, Any]) -> RequestSpec:
        resource_backend = raw.get("resource_backend")
        volume_type = types.get(conn, volume.volume_type_id) if volume.volume_type_id else None
        if volume.group_id is not None:
            # A group's volumes live on the group's backend (Cinder's resource_backend).
            group = groups.find(conn, volume.group_id)
            backend = group.backend if group is not None else None
            resource_backend = backend or f"group {volume.group_id}, not placed yet"
        zones = raw.get("availability_zones") or (
            [volume.availability_zone] if volume.availability_zone else []
        )
        return RequestSpec(
            volume_id=volume.id,
            size=volume.size,
            volume_type=volume_type,
            availability_zones=list(zones),
            resource_backend=resource_backend,
        )

    def create_volume(self, payload: dict[str, Any]) -> None:
        volume_id = payload["volume_id"]
        raw_spec = payload.get("request_spec") or {}
        raw_retry = payload.get("retry") or {}
        with self.db.read() as conn:  # one transaction: what placing the volume reads
            try:
                volume = volumes.get(conn, volume_id)
            except NotFound:
                return
            if volume.status != statuses.CREATING or volume.host is not None:
                return  # deleted meanwhile, or a duplicate delivery of a placed request
            live = self._live_backends(conn, placing=True)
            pools = services.pool_states(conn, live)
            spec = self._request_spec(conn, volume, raw_spec)
        retry = RetryInfo(
            num_attempts=int(raw_retry.get("num_attempts", 0)) + 1,
            backends=list(raw_retry.get("backends", [])),
            last_error=raw_retry.get("last_error"),
        )
        for _ in range(MAX_PLACEMENT_TRIES):
            try:
                chosen = self.scheduler.choose(pools, spec, retry)
            except NoValidBackend as exc:
                self._fail(volume, raw_spec, exc)
                return
            outcome = self._commit_placement(volume, spec, retry, chosen.pool.name)
            if outcome is not None:
                break
            # Another scheduler took the space meanwhile: choose again on fresh figures.
            with self.db.read() as conn:
                pools = services.pool_states(conn, live)
        else:
            self._fail(volume, raw_spec, NoValidBackend("Pools kept filling up while placing"))
            return
        if outcome is False:
            return  # deleted meanwhile, or placed by a duplicate delivery
        pool = chosen.pool
        LOG.info(
            "Volume %s: placed on %s (attempt %d, weight %.3f)",
            volume_id, pool.name, retry.num_attempts, chosen.weight,
        )  # fmt: skip
        retry.backends.append(pool.backend)
        self._cast(
            volume_topic(pool.backend),
            "create_volume",
            {
                "volume_id": volume_id,
                "request_spec": raw_spec,
                "retry": {
                    "num_attempts": retry.num_attempts,
                    "backends": retry.backends,
                    "last_error": retry.last_error,
                },
            },
        )

    def _commit_placement(
        self, volume: Volume, spec: RequestSpec, retry: RetryInfo, pool_name: str
    ) -> bool | None:
        """Record the placement if the pool, locked and re-read, still takes the volume.

        True: placed. False: nothing to place (the volume changed). None: the pool no
        longer fits (another scheduler placed on it since this one read it).
        """
        with self.db.write() as conn:
            pool = placement.lock_pool(conn, pool_name)
            if pool is None or self.scheduler.explain([pool], spec)[pool.name] is not None:
                return None
            placed = volumes.update(
                conn,
                volume.id,
                {
                    "host": pool.name,
                    "availability_zone": pool.availability_zone,
                    "scheduled_at": volumes.now(),
                    "scheduling_attempts": retry.num_attempts,
                    "task_state": "scheduled",
                },
                expected={"status": statuses.CREATING, "host": None},
            )
            if placed:
                services.add_allocation(conn, pool.name, volume.size)
        return placed

    def _fail_unexpected(self, volume_id: str, raw_spec: dict[str, Any], exc: Exception) -> None:
        with self.db.read() as conn:
            volume = volumes.find(conn, volume_id)
        if volume is not None and volume.host is None:
            self._fail(volume, raw_spec, NoValidBackend(f"Scheduling failed: {type(exc).__name__}"),
                       event_id=UNKNOWN_ERROR)  # fmt: skip

    def _fail(
        self,
        volume: Volume,
        raw_spec: dict[str, Any],
        error: NoValidBackend,
        event_id: str = NO_VALID_BACKEND,
    ) -> None:
        detail = explain(error)
        LOG.warning("Volume %s: %s", volume.id, detail.replace("\n", "; "))
        with self.db.write() as conn:
            changed = volumes.update(
                conn, volume.id, {"status": statuses.ERROR, "task_state": None},
                expected={"status": statuses.CREATING},
            )  # fmt: skip
            if changed:
                messages.add(
                    conn,
                    project_id=volume.project_id,
                    event_id=event_id,
                    resource_uuid=volume.id,
                    detail=detail,
                )
        self.notifier.emit(
            f"scheduler.{self.host}",
            "scheduler.create_volume",
            {
                "request_spec": raw_spec,
                "volume_properties": {"size": volume.size, "volume_type_id": volume.volume_type_id},
                "volume_id": volume.id,
                "state": "error",
                "method": "create_volume",
                "reason": error.message,
            },
            priority="ERROR",
        )
