"""The scheduler role: places each new volume on a pool and hands it to that backend."""

from __future__ import annotations

import logging
import threading
from typing import Any

from firebrick.db import messages, services, types, volumes
from firebrick.db.engine import Database
from firebrick.domain import statuses
from firebrick.domain.errors import NotFound, NoValidBackend
from firebrick.domain.model import RequestSpec, RetryInfo, Volume
from firebrick.notifier import Notifier
from firebrick.rpc.bus import SCHEDULER_TOPIC, Bus, volume_topic
from firebrick.scheduler.filter_scheduler import FilterScheduler

LOG = logging.getLogger("firebrick.scheduler")

BINARY = "cinder-scheduler"
NO_VALID_BACKEND = "VOLUME_VOLUME_001_003"
UNKNOWN_ERROR = "VOLUME_VOLUME_001_001"


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
    ) -> None:
        self.host = host
        self.availability_zone = availability_zone
        self.db = db
        self.bus = bus
        self.notifier = notifier
        self.scheduler = scheduler
        self.service_down_time = service_down_time
        self.report_interval = report_interval
        self._stop = threading.Event()

    def start(self) -> None:
        self._heartbeat()
        # One consumer: placements are decided one at a time, so capacity stays exact.
        self.bus.consume(SCHEDULER_TOPIC, self.handle, workers=1)
        self._resume_unscheduled()
        threading.Thread(target=self._heartbeat_loop, name="scheduler-report", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _heartbeat(self) -> None:
        with self.db.write() as conn:
            services.heartbeat(conn, self.host, BINARY, SCHEDULER_TOPIC, self.availability_zone)

    def _heartbeat_loop(self) -> None:
        while not self._stop.wait(self.report_interval):
            try:
                self._heartbeat()
            except Exception:
                LOG.exception("Scheduler heartbeat failed")

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
                self.bus.cast(SCHEDULER_TOPIC, "create_volume", {"volume_id": volume.id})

    def handle(self, method: str, payload: dict[str, Any]) -> None:
        if method != "create_volume":
            LOG.error("Scheduler: unknown request %s", method)
            return
        try:
            self.create_volume(payload)
        except Exception as exc:
            # Never leave the volume in `creating` because of a bug or a broken report.
            LOG.exception("Volume %s: scheduling failed", payload.get("volume_id"))
            self._fail_unexpected(payload["volume_id"], payload.get("request_spec") or {}, exc)

    def _request_spec(self, volume: Volume, raw: dict[str, Any]) -> RequestSpec:
        with self.db.read() as conn:
            volume_type = types.get(conn, volume.volume_type_id) if volume.volume_type_id else None
        zones = raw.get("availability_zones") or (
            [volume.availability_zone] if volume.availability_zone else []
        )
        return RequestSpec(
            volume_id=volume.id,
            size=volume.size,
            volume_type=volume_type,
            availability_zones=list(zones),
            resource_backend=raw.get("resource_backend"),
        )

    def create_volume(self, payload: dict[str, Any]) -> None:
        volume_id = payload["volume_id"]
        raw_spec = payload.get("request_spec") or {}
        raw_retry = payload.get("retry") or {}
        with self.db.read() as conn:
            try:
                volume = volumes.get(conn, volume_id)
            except NotFound:
                return
            live = {
                s.host
                for s in services.list_services(conn, "cinder-volume")
                if not s.disabled and s.is_up(self.service_down_time)
            }
            pools = services.pool_states(conn, live)
        if volume.status != statuses.CREATING or volume.host is not None:
            return  # deleted meanwhile, or a duplicate delivery of a placed request
        spec = self._request_spec(volume, raw_spec)
        retry = RetryInfo(
            num_attempts=int(raw_retry.get("num_attempts", 0)) + 1,
            backends=list(raw_retry.get("backends", [])),
            last_error=raw_retry.get("last_error"),
        )
        try:
            placement = self.scheduler.choose(pools, spec, retry)
        except NoValidBackend as exc:
            self._fail(volume, raw_spec, exc)
            return
        pool = placement.pool
        with self.db.write() as conn:
            placed = volumes.update(
                conn,
                volume_id,
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
        if not placed:
            return
        LOG.info(
            "Volume %s: placed on %s (attempt %d, weight %.3f)",
            volume_id, pool.name, retry.num_attempts, placement.weight,
        )  # fmt: skip
        retry.backends.append(pool.backend)
        self.bus.cast(
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
