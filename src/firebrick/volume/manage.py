"""What a volume service does to manage and unmanage storage, and its answers to the API.

The API has already recorded the request (a volume or snapshot ``managing`` with its quota
and the pool's capacity charged, or one ``unmanaging``); this side changes the storage
through the driver (``ExistingStorage``) and finishes the record, each step conditional on
the status, so a request delivered twice does its work once. While a volume or snapshot is
``managing``, its ``provider_location`` names the storage it takes: a service that stops in
the middle repeats the manage from there when it starts again.

Cinder's notifications: ``volume.manage_existing.start/.end``,
``volume.unmanage.start/.end``, ``snapshot.manage_existing_snapshot.start/.end``, and
``snapshot.delete.start/.end`` for an unmanaged snapshot.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from firebrick.db import backend_calls, manageable, messages, quotas, services, snapshots, volumes
from firebrick.db.engine import Database
from firebrick.domain import quota, statuses
from firebrick.domain.errors import FirebrickError, Invalid
from firebrick.domain.manageable import paginate
from firebrick.notifier import Notifier, snapshot_usage, volume_usage
from firebrick.volume.drivers import existing_storage
from firebrick.volume.drivers.base import ExistingStorage, VolumeDriver

LOG = logging.getLogger("firebrick.volume")

MANAGING = manageable.MANAGING
UNMANAGING = manageable.UNMANAGING
ERROR_UNMANAGING = "error_unmanaging"
MANAGE_FAILED = "VOLUME_VOLUME_008_001"
UNMANAGE_FAILED = "VOLUME_VOLUME_006_001"
SNAPSHOT_MANAGE_FAILED = "VOLUME_SNAPSHOT_009_013"

# The requests this worker takes (VolumeManager.handle); the API calls with CALL.
CALL = backend_calls.CALL
REQUESTS = frozenset(
    {CALL, "manage_existing", "manage_existing_snapshot", "unmanage_volume", "unmanage_snapshot"}
)


@dataclass
class ManageWorker:
    db: Database
    driver: VolumeDriver
    notifier: Notifier
    backend: str
    _running: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def storage(self) -> ExistingStorage:
        return existing_storage(self.driver)

    def handle(self, method: str, payload: dict[str, Any]) -> None:
        if method == CALL:
            self.answer(payload)
            return
        object_id = str(payload.get("volume_id") or payload.get("snapshot_id"))
        with self._only_once(object_id) as first:
            if not first:
                LOG.info("%s %s: already running here; request sent again ignored",
                         method, object_id)  # fmt: skip
            elif method == "manage_existing":
                self.manage_volume(object_id)
            elif method == "manage_existing_snapshot":
                self.manage_snapshot(object_id)
            elif method == "unmanage_volume":
                self.unmanage_volume(object_id)
            else:
                self.unmanage_snapshot(object_id)

    @contextmanager
    def _only_once(self, object_id: str) -> Iterator[bool]:
        with self._lock:
            first = object_id not in self._running
            self._running.add(object_id)
        try:
            yield first
        finally:
            if first:
                with self._lock:
                    self._running.discard(object_id)

    def pending(self) -> list[tuple[str, dict[str, str]]]:
        """The requests this backend left unfinished (sent again at start)."""
        found: list[tuple[str, dict[str, str]]] = []
        with self.db.read() as conn:
            for status, method in ((MANAGING, "manage_existing"), (UNMANAGING, "unmanage_volume")):
                for volume_id in manageable.volumes_in(conn, self.backend, [status]):
                    found.append((method, {"volume_id": volume_id}))
            for status, method in (
                (MANAGING, "manage_existing_snapshot"),
                (UNMANAGING, "unmanage_snapshot"),
            ):
                for snapshot_id in manageable.snapshots_in(conn, self.backend, [status]):
                    found.append((method, {"snapshot_id": snapshot_id}))
        return found

    def claimed_by(self, name: str) -> str | None:
        """The volume or snapshot (on any backend) whose storage ``name`` is, if any."""
        owner = self.storage.storage_owner(name)
        if owner is None:
            return None
        kind, object_id = owner
        with self.db.read() as conn:
            if kind == "volume":
                exists = bool(manageable.volume_sizes(conn, [object_id]))
            else:
                exists = bool(manageable.snapshot_facts(conn, [object_id]))
        return f"{kind} {object_id}" if exists else None

    # Answers to the API ---------------------------------------------------------------

    def answer(self, payload: dict[str, Any]) -> None:
        """Run the API's question and record the answer (or the error) in its call row."""
        call_id, method = str(payload.get("call_id")), payload.get("method")
        args = payload.get("args") or {}
        result: Any = None
        code: int | None = None
        error: str | None = None
        try:
            if method == "manage_existing_get_size":
                ref, kind = args.get("ref"), str(args.get("kind"))
                name = self.storage.source_name(ref)
                size = self.storage.get_size(ref, kind, self.claimed_by(name))
                result = {"size": size, "name": name}
            elif method == "get_manageable":
                result = self.manageable(args)
            else:
                raise Invalid(f"Unknown backend call {method!r}.")
        except FirebrickError as exc:
            code, error = (exc.code if exc.code < 500 else 500), exc.message
        except Exception:
            LOG.exception("Backend %s: %s failed", self.backend, method)
            code, error = 500, f"The volume service {self.backend} failed to answer."
        with self.db.write() as conn:
            answered = backend_calls.finish(conn, call_id, result=result, error_code=code,
                                            error=error)  # fmt: skip
        if not answered:
            LOG.info("Backend %s: nobody waits for the answer to %s any more", self.backend,
                     method)  # fmt: skip

    def manageable(self, args: dict[str, Any]) -> list[Any]:
        """Cinder's ``get_manageable_volumes``/``_snapshots``: the driver's entries, marked
        with what the records know, sorted and paged."""
        kind = str(args.get("kind"))
        entries = self.storage.manageable(kind)
        owners = {}
        for entry in entries:
            name = str(entry["reference"]["source-name"])
            owner = self.storage.storage_owner(name)
            if owner is not None and owner[0] == kind:
                owners[owner[1]] = entry
        known: dict[str, tuple[int, str | None]] = {}
        with self.db.read() as conn:
            if kind == "volume":
                for object_id, size in manageable.volume_sizes(conn, owners).items():
                    known[object_id] = (size, None)
            else:
                for object_id, (size, vid) in manageable.snapshot_facts(conn, owners).items():
                    known[object_id] = (size, self.storage.storage_name("volume", vid))
        for object_id, (size, origin) in known.items():
            entry = owners[object_id]
            entry.update(size=size, safe_to_manage=False, reason_not_safe="already managed",
                         cinder_id=object_id)  # fmt: skip
            if kind == "snapshot":
                entry["source_reference"] = {"source-name": origin}
        return paginate(
            entries, marker=args.get("marker"), limit=int(args.get("limit", 1000)),
            offset=int(args.get("offset", 0)), sort_keys=list(args.get("sort_keys") or []),
            sort_dirs=list(args.get("sort_dirs") or []),
        )  # fmt: skip

    # Volumes --------------------------------------------------------------------------

    def manage_volume(self, volume_id: str) -> None:
        with self.db.read() as conn:
            volume = volumes.find(conn, volume_id)
        if volume is None or volume.status != MANAGING or not volume.provider_location:
            return  # done, deleted meanwhile, or a duplicate delivery
        ref = {"source-name": volume.provider_location}
        publisher = f"volume.{self.backend}"
        self.notifier.emit(publisher, "volume.manage_existing.start", volume_usage(volume))
        try:
            claimed = self.claimed_by(volume.provider_location)
            update = self.storage.manage_existing(volume, ref, claimed) or {}
        except Exception as exc:
            LOG.error("Volume %s: managing %s failed on %s: %s", volume_id,
                      volume.provider_location, self.backend, exc)  # fmt: skip
            with self.db.write() as conn:
                if volumes.update(conn, volume_id, {"status": statuses.ERROR_MANAGING},
                                  expected={"status": MANAGING}):  # fmt: skip
                    messages.add(
                        conn, project_id=volume.project_id, event_id=MANAGE_FAILED,
                        resource_uuid=volume_id, detail=f"{self.backend}: {exc}",
                    )  # fmt: skip
            return
        launched = volumes.now()
        values = {"status": statuses.AVAILABLE, "launched_at": launched,
                  "provider_location": update.get("provider_location")}  # fmt: skip
        with self.db.write() as conn:
            done = volumes.update(conn, volume_id, values, expected={"status": MANAGING})
        if not done:
            LOG.warning("Volume %s: changed while being managed; its storage stays on %s",
                        volume_id, self.backend)  # fmt: skip
            return
        LOG.info("Volume %s: managed %s on %s", volume_id, ref["source-name"], self.backend)
        managed = replace(volume, status=statuses.AVAILABLE, launched_at=launched)
        self.notifier.emit(publisher, "volume.manage_existing.end", volume_usage(managed))

    def unmanage_volume(self, volume_id: str) -> None:
        with self.db.read() as conn:
            volume = volumes.find(conn, volume_id)
        if volume is None or volume.status != UNMANAGING:
            return
        publisher = f"volume.{self.backend}"
        self.notifier.emit(publisher, "volume.unmanage.start", volume_usage(volume))
        try:
            kept = self.storage.unmanage("volume", volume_id)
        except Exception as exc:
            LOG.error("Volume %s: unmanage failed on %s: %s", volume_id, self.backend, exc)
            with self.db.write() as conn:
                if volumes.update(conn, volume_id, {"status": ERROR_UNMANAGING},
                                  expected={"status": UNMANAGING}):  # fmt: skip
                    messages.add(
                        conn, project_id=volume.project_id, event_id=UNMANAGE_FAILED,
                        resource_uuid=volume_id, detail=f"{self.backend}: {exc}",
                    )  # fmt: skip
            return
        with self.db.write() as conn:
            # The conditional update locks the row: of two deliveries, one goes on.
            if not volumes.update(conn, volume_id, {}, expected={"status": UNMANAGING}):
                return
            volumes.remove(conn, volume_id)
            refund = quota.volume_deltas(volume.size, volume.volume_type_name, count=-1)
            quotas.add_usage(conn, volume.project_id, refund)
            if volume.host:
                services.add_allocation(conn, volume.host, -volume.size)
        LOG.info("Volume %s: unmanaged; its storage %s stays on %s", volume_id,
                 kept or "(none)", self.backend)  # fmt: skip
        self.notifier.emit(publisher, "volume.unmanage.end",
                           volume_usage(volume, status="deleted"))  # fmt: skip

    # Snapshots ------------------------------------------------------------------------

    def _snapshot_and_zone(self, snapshot_id: str) -> tuple[Any, Any]:
        with self.db.read() as conn:
            snapshot = snapshots.find(conn, snapshot_id)
            volume = volumes.find(conn, snapshot.volume_id) if snapshot else None
        return snapshot, volume

    def manage_snapshot(self, snapshot_id: str) -> None:
        snapshot, volume = self._snapshot_and_zone(snapshot_id)
        if snapshot is None or snapshot.status != MANAGING or not snapshot.provider_location:
            return
        zone = volume.availability_zone if volume else None
        publisher = f"snapshot.{self.backend}"
        self.notifier.emit(publisher, "snapshot.manage_existing_snapshot.start",
                           snapshot_usage(snapshot, zone))  # fmt: skip
        ref = {"source-name": snapshot.provider_location}
        try:
            claimed = self.claimed_by(snapshot.provider_location)
            update = self.storage.manage_existing_snapshot(snapshot, ref, claimed) or {}
        except Exception as exc:
            LOG.error("Snapshot %s: managing %s failed on %s: %s", snapshot_id,
                      snapshot.provider_location, self.backend, exc)  # fmt: skip
            with self.db.write() as conn:
                if snapshots.update(conn, snapshot_id, {"status": statuses.ERROR},
                                    expected_status=MANAGING):  # fmt: skip
                    messages.add(
                        conn, project_id=snapshot.project_id, event_id=SNAPSHOT_MANAGE_FAILED,
                        resource_uuid=snapshot_id, resource_type="VOLUME_SNAPSHOT",
                        detail=f"{self.backend}: {exc}",
                    )  # fmt: skip
            return
        values = {"status": statuses.AVAILABLE, "progress": "100%",
                  "provider_location": update.get("provider_location")}  # fmt: skip
        with self.db.write() as conn:
            done = snapshots.update(conn, snapshot_id, values, expected_status=MANAGING)
        if not done:
            LOG.warning("Snapshot %s: changed while being managed; its storage stays on %s",
                        snapshot_id, self.backend)  # fmt: skip
            return
        LOG.info("Snapshot %s: managed %s on %s", snapshot_id, ref["source-name"], self.backend)
        managed = replace(snapshot, status=statuses.AVAILABLE, progress="100%")
        self.notifier.emit(publisher, "snapshot.manage_existing_snapshot.end",
                           snapshot_usage(managed, zone))  # fmt: skip

    def unmanage_snapshot(self, snapshot_id: str) -> None:
        snapshot, volume = self._snapshot_and_zone(snapshot_id)
        if snapshot is None or snapshot.status != UNMANAGING:
            return
        zone = volume.availability_zone if volume else None
        publisher = f"snapshot.{self.backend}"
        self.notifier.emit(publisher, "snapshot.delete.start", snapshot_usage(snapshot, zone))
        try:
            kept = self.storage.unmanage("snapshot", snapshot_id)
        except Exception as exc:
            LOG.error("Snapshot %s: unmanage failed on %s: %s", snapshot_id, self.backend, exc)
            with self.db.write() as conn:
                snapshots.update(conn, snapshot_id, {"status": statuses.ERROR_DELETING},
                                 expected_status=UNMANAGING)  # fmt: skip
            return
        with self.db.write() as conn:
            if not snapshots.update(conn, snapshot_id, {}, expected_status=UNMANAGING):
                return
            snapshots.remove(conn, snapshot_id)
            type_name = volume.volume_type_name if volume else None
            refund = quota.snapshot_deltas(snapshot.volume_size, type_name, count=-1)
            quotas.add_usage(conn, snapshot.project_id, refund)
            if volume is not None and volume.host:
                services.add_allocation(conn, volume.host, -snapshot.volume_size)
        LOG.info("Snapshot %s: unmanaged; its storage %s stays on %s", snapshot_id,
                 kept or "(none)", self.backend)  # fmt: skip
        gone = replace(snapshot, status="deleted")
        self.notifier.emit(publisher, "snapshot.delete.end",
                           snapshot_usage(gone, zone, deleted="True"))  # fmt: skip
