"""The volume service of one backend: runs the create flow, deletes, reports capacity."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from firebrick.db import groups, quotas, recovery, services, snapshots, volumes
from firebrick.db.engine import Database
from firebrick.db.outage import is_outage
from firebrick.domain import quota, statuses
from firebrick.domain.errors import VolumeNotFound
from firebrick.domain.model import Volume
from firebrick.image.access import GlanceAccess
from firebrick.notifier import Notifier, volume_usage
from firebrick.rpc.bus import SCHEDULER_TOPIC, Bus, cast_or_defer, volume_topic
from firebrick.targets.base import Target
from firebrick.volume import backups as backup_devices
from firebrick.volume import flow_timeline, orphans
from firebrick.volume import report as capacity_report
from firebrick.volume.attach import AttachWorker
from firebrick.volume.drivers.base import VolumeDriver
from firebrick.volume.extend import ExtendWorker
from firebrick.volume.flow_log import FlowLogger
from firebrick.volume.flows import create_volume
from firebrick.volume.flows.storage import CompiledFlow
from firebrick.volume.group_snapshots import GroupSnapshotWorker
from firebrick.volume.groups import GroupWorker
from firebrick.volume.images import ImageWorker
from firebrick.volume.manage import REQUESTS as MANAGE_REQUESTS
from firebrick.volume.manage import ManageWorker
from firebrick.volume.migration import MigrationExporter, MigrationWorker
from firebrick.volume.revert import RevertWorker
from firebrick.volume.snapshots import SnapshotWorker

LOG = logging.getLogger("firebrick.volume")

BINARY = "cinder-volume"


class VolumeManager:
    def __init__(
        self,
        *,
        backend: str,
        availability_zone: str,
        driver: VolumeDriver,
        db: Database,
        bus: Bus,
        notifier: Notifier,
        max_attempts: int,
        report_interval: float,
        target: Target | None = None,
        peers: Mapping[str, VolumeDriver] | None = None,
        glance: GlanceAccess | None = None,
        record_timelines: bool = True,
    ) -> None:
        self.backend = backend  # host@backend
        self.record_timelines = record_timelines  # the dashboard's per-volume flow runs
        self.availability_zone = availability_zone
        self.driver = driver
        self.db = db
        self.bus = bus
        self.notifier = notifier
        self.report_interval = report_interval
        self.images = ImageWorker(db, driver, backend, glance)
        self.ports = create_volume.Ports(
            db=db,
            driver=driver,
            notifier=notifier,
            backend=backend,
            reschedule=self._reschedule,
            max_attempts=max_attempts,
            images=self.images,
        )
        # Tasks are stateless, so one flow serves every run; the engine holds the state.
        self._create_flow = CompiledFlow(create_volume.get_flow(self.ports))
        self._running: set[str] = set()
        self._running_lock = threading.Lock()
        self.snapshots = SnapshotWorker(db, driver, notifier, backend)
        self.extender = ExtendWorker(db, driver, notifier, backend)
        self.target = target
        self.attacher = AttachWorker(db, driver, target, notifier, backend) if target else None
        self.manage = ManageWorker(db, driver, notifier, backend)
        self.backups = backup_devices.BackupDeviceWorker(db, bus, driver, self.attacher, backend)
        self.ports.backups = self.backups
        self.groups = GroupWorker(
            db=db, bus=bus, driver=driver, notifier=notifier, backend=backend,
            delete_volume=self.delete_volume, only_once=self._only_once,
            group_snapshots=GroupSnapshotWorker(db, driver, notifier, backend, self.snapshots),
        )  # fmt: skip
        self.migrations = MigrationWorker(
            db, bus, driver, notifier, backend, peers if peers is not None else {backend: driver}
        )
        self.exporter = MigrationExporter(db, bus, driver, self.attacher, backend)
        self.reverter = RevertWorker(db, driver, notifier, backend)
        self._stop = threading.Event()
        self._reporter: threading.Thread | None = None

    @property
    def topic(self) -> str:
        return volume_topic(self.backend)

    # Lifecycle ------------------------------------------------------------------------

    def start(self, workers: int = 4) -> None:
        """Set up the driver, report, resume unfinished work, then take requests.

        A backend that cannot be set up (its directory missing, unmounted, read-only)
        does not stop the service: its pools are reported down with the reason, so the
        scheduler places nothing there, and setup is tried again at every report.
        """
        ready = self._set_up()
        self.report(reset_allocations=True)
        if ready:
            self._recover()
        self.bus.consume(self.topic, self.handle, workers=workers)
        if ready:
            self._resume()
        self._reporter = threading.Thread(
            target=self._report_loop, name=f"report-{self.backend}", daemon=True
        )
        self._reporter.start()

    def _set_up(self) -> bool:
        with self.db.read() as conn:
            expect_data = bool(recovery.on_backend(conn, self.backend))
        try:
            self.driver.do_setup(expect_data=expect_data)
        except Exception as exc:
            LOG.error("Backend %s is down: %s", self.backend, exc)
            return False
        return True

    def _recover(self) -> None:
        """What a start finds left over: orphans, cache entries, exports, migrations."""
        orphans.remove(self.db, self.driver, self.backend)
        self.images.reconcile()
        if self.attacher is not None:
            # Hosts that were attached before a restart find their targets again.
            self.attacher.restore()
        self.exporter.remove_leftovers()
        self.migrations.recover()

    def _resume(self) -> None:
        self._resume_unfinished()
        self.groups.resume()

    def stop(self) -> None:
        self._stop.set()

    def _report_loop(self) -> None:
        while not self._stop.wait(self.report_interval):
            try:
                if not self.driver.initialized and self._set_up():
                    LOG.warning("Backend %s is up again", self.backend)
                    self._recover()
                    self._resume()
                self.report()
            except Exception:
                LOG.exception("Backend %s: capacity report failed", self.backend)

    def report(self, *, reset_allocations: bool = False) -> None:
        """Heartbeat and publish the pools' capabilities and capacity (see report.py)."""
        capacity_report.publish(
            self.db, self.driver, self.target, self.backend, self.availability_zone,
            BINARY, reset_allocations=reset_allocations,
        )  # fmt: skip

    def _resume_unfinished(self) -> None:
        """Move on every volume this backend left in a transitional status."""
        with self.db.read() as conn:
            creating = volumes.in_status(conn, [statuses.CREATING], self.backend)
            deleting = volumes.in_status(conn, [statuses.DELETING], self.backend)
            # A group's own create or delete handles its volumes (groups.resume).
            owned = groups.owned_by_group_work(conn, self.backend)
        for volume_id in (v for v in creating if v not in owned):
            LOG.info("Volume %s: resuming interrupted create", volume_id)
            cast_or_defer(self.bus, self.topic, "create_volume", {"volume_id": volume_id})
        for volume_id in (v for v in deleting if v not in owned):
            LOG.info("Volume %s: resuming interrupted delete", volume_id)
            cast_or_defer(self.bus, self.topic, "delete_volume", {"volume_id": volume_id})
        for method, payload in self.manage.pending():
            LOG.info("Resuming interrupted %s of %s", method, next(iter(payload.values())))
            cast_or_defer(self.bus, self.topic, method, payload)
        for volume_id, snapshot_id in self.reverter.unfinished():
            LOG.info("Volume %s: resuming interrupted revert", volume_id)
            cast_or_defer(self.bus, self.topic, "revert_to_snapshot",
                          {"volume_id": volume_id, "snapshot_id": snapshot_id})  # fmt: skip

    # Requests -------------------------------------------------------------------------

    def handle(self, method: str, payload: dict[str, Any]) -> None:
        if method == "create_volume":
            self.create_volume(payload)
        elif method == "delete_volume":
            self.delete_volume(payload["volume_id"])
        elif method == "create_snapshot":
            self.snapshots.create(payload["snapshot_id"])
        elif method == "delete_snapshot":
            self.snapshots.delete(payload["snapshot_id"])
        elif method == "extend_volume":
            self.extender.extend(payload["volume_id"], int(payload["new_size"]))
        elif method == "attachment_update" and self.attacher is not None:
            self.attacher.update(payload["attachment_id"])
        elif method == "attachment_delete" and self.attacher is not None:
            self.attacher.delete(
                payload["attachment_id"], keep_record=bool(payload.get("keep_record"))
            )
        # [qos]

        # [transfers]

        # [groups]
        elif self.groups.handle(method, payload):
            pass

        # [manage]
        elif method in MANAGE_REQUESTS:
            self.manage.handle(method, payload)

        # [migration]
        elif method == "migrate_volume":
            with self._only_once(f"migration-{payload['volume_id']}") as first:
                if first:
                    self.migrations.step(payload["volume_id"])
        elif method == "migration_export":
            self.exporter.export(payload["volume_id"])
        elif method == "migration_unexport":
            self.exporter.unexport(payload["volume_id"], payload["target_id"])
        elif method == "revert_to_snapshot":
            with self._only_once(f"revert-{payload['volume_id']}") as first:
                if first:
                    self.reverter.revert(payload["volume_id"], payload["snapshot_id"])

        # [images]
        elif method == "copy_volume_to_image":
            self.images.copy_volume_to_image(
                payload["volume_id"], payload["image_id"], payload["disk_format"]
            )

        # [backups]
        elif method in backup_devices.REQUESTS:
            self.backups.handle(method, payload)

        # [rbd]

        # [notifications]

        # [metrics]

        # [core]
        else:
            LOG.error("Backend %s: unknown request %s", self.backend, method)

    @contextmanager
    def _only_once(self, volume_id: str) -> Iterator[bool]:
        """Whether this process is not already working on the volume (then claims it).

        A request sent again (the reconciler, a broker redelivery) while the first is
        still running here must not start a second flow on the same volume.
        """
        with self._running_lock:
            first = volume_id not in self._running
            self._running.add(volume_id)
        try:
            yield first
        finally:
            if first:
                with self._running_lock:
                    self._running.discard(volume_id)

    def create_volume(self, payload: dict[str, Any]) -> None:
        with self.ports.gate.held(), self._only_once(payload["volume_id"]) as first:
            if first:
                self._create_volume(payload)
            else:
                LOG.info("Volume %s: already being created here; request sent again ignored",
                         payload["volume_id"])  # fmt: skip

    def _create_volume(self, payload: dict[str, Any]) -> None:
        volume_id = payload["volume_id"]
        store = {
            "volume_id": volume_id,
            "request_spec": payload.get("request_spec") or {},
            "retry": payload.get("retry") or {"num_attempts": 1, "backends": [self.backend]},
        }
        engine = self._create_flow.engine(store)
        flow_log = FlowLogger(volume_id)
        flow_log.attach(engine)
        try:
            with flow_timeline.recorded(flow_log, store, self.backend, self.record_timelines):
                engine.run()
        except VolumeNotFound:
            with self.db.read() as conn:
                now = volumes.find(conn, volume_id)
            if now is None:
                LOG.info("Volume %s: gone before it was created; nothing to do", volume_id)
            else:  # a request sent again after the first one finished
                LOG.info("Volume %s: already %s; nothing to do", volume_id, now.status)
        except Exception as exc:
            LOG.warning("Volume %s: flow %s failed: %s", volume_id, create_volume.FLOW_NAME, exc)
            if is_outage(exc):
                raise  # nothing was decided: the request is taken again after the outage

    def _reschedule(
        self, volume: Volume, request_spec: dict[str, Any], retry: dict[str, Any], reason: str
    ) -> None:
        with self.db.write() as conn:
            moved = volumes.update(
                conn, volume.id, {"host": None, "task_state": "rescheduling"},
                expected={"status": statuses.CREATING, "host": volume.host},
            )  # fmt: skip
            if moved and volume.host:
                services.add_allocation(conn, volume.host, -volume.size)
            if moved:
                flow_timeline.save_run(conn, outcome="rescheduled", host=volume.host, reason=reason)
        if moved:
            retry = dict(retry, last_error=reason)
            cast_or_defer(
                self.bus,
                SCHEDULER_TOPIC,
                "create_volume",
                {"volume_id": volume.id, "request_spec": request_spec, "retry": retry},
            )

    def delete_volume(self, volume_id: str) -> None:
        with self._only_once(volume_id) as first:
            if first:
                self._delete_volume(volume_id)

    def _delete_volume(self, volume_id: str) -> None:
        with self.db.read() as conn:
            volume = volumes.find(conn, volume_id)
        if volume is None or volume.status != statuses.DELETING:
            return
        with self.db.read() as conn:
            cascade = [s.id for s in snapshots.of_volume(conn, volume_id)]
        if not all(self.snapshots.delete(snapshot_id) for snapshot_id in cascade):
            with self.db.write() as conn:
                volumes.update(conn, volume_id, {"status": statuses.ERROR_DELETING})
            return
        # A migration's copy counts against no quota and is not announced (as in Cinder).
        if volume.use_quota:
            self.notifier.emit(
                f"volume.{self.backend}", "volume.delete.start", volume_usage(volume)
            )
        else:
            self.exporter.release(volume.id)
        try:
            self.driver.delete_volume(volume)
        except Exception as exc:
            LOG.error("Volume %s: delete failed on %s: %s", volume_id, self.backend, exc)
            with self.db.write() as conn:
                volumes.update(conn, volume_id, {"status": statuses.ERROR_DELETING})
            return
        with self.db.write() as conn:
            if not volumes.remove(conn, volume_id):
                # Another process serving this backend deleted it first and gave the
                # quota and the allocation back already.
                LOG.info("Volume %s: already deleted by another service", volume_id)
                return
            if volume.use_quota:
                quotas.add_usage(
                    conn,
                    volume.project_id,
                    quota.volume_deltas(volume.size, volume.volume_type_name, count=-1),
                )
            if volume.host:
                services.add_allocation(conn, volume.host, -volume.size)
        LOG.info("Volume %s: deleted from %s", volume_id, self.backend)
        if volume.use_quota:
            self.notifier.emit(
                f"volume.{self.backend}",
                "volume.delete.end",
                volume_usage(volume, status="deleted"),
            )
