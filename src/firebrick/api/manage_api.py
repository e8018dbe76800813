"""The api role's side of managing existing storage and letting it go.

Managing asks the backend's volume service first (``backend_call``) whether the storage
the reference names may be taken and how big it is: a reference the backend refuses (a
path, a symlink, a directory, storage that is already a volume's, ...) is a 400 and
nothing is recorded. Then, in one transaction, the volume (or snapshot) is recorded
``managing`` (shown ``creating``) with its quota and the pool's allocated capacity charged
exactly as a create charges them (413 when over quota), and the volume service is asked
to take the storage (``volume/manage.py``). This is stricter than Cinder, which answers
202 first and lets a bad reference end in ``error_managing``; it keeps Cinder's routes,
bodies, statuses and messages.

Unmanaging is a delete that keeps the storage: the same checks as a delete (no snapshots,
not attached, not busy), status ``unmanaging``, and the volume service removes the record.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from firebrick.api import backend_call
from firebrick.api.backend_call import ServiceUnavailable
from firebrick.api.manage_requests import (
    ManageableQuery,
    ManageSnapshotRequest,
    ManageVolumeRequest,
)
from firebrick.config import QuotaDefaults
from firebrick.context import RequestContext
from firebrick.db import attachments, manageable, quotas, services, snapshots, types, volumes
from firebrick.db.engine import Database
from firebrick.domain import quota, statuses
from firebrick.domain.errors import Invalid, InvalidSnapshot, InvalidVolume, NotFound
from firebrick.domain.model import PoolState, RequestSpec, Snapshot, Volume, VolumeType
from firebrick.notifier import Notifier, volume_usage
from firebrick.rpc.bus import Bus, cast_or_defer, volume_topic
from firebrick.scheduler.filter_scheduler import FilterScheduler

MANAGING = manageable.MANAGING
UNMANAGING = manageable.UNMANAGING
VOLUME_BINARY = "cinder-volume"
# Cinder's volume_name_template: a source-name of this form is a volume's own storage.
_VOLUME_NAME = re.compile(r"^volume-([0-9a-fA-F-]{36})$")
_UNMANAGEABLE = frozenset(
    {statuses.AVAILABLE, statuses.ERROR, statuses.ERROR_RESTORING, statuses.ERROR_EXTENDING,
     statuses.ERROR_MANAGING}
)  # fmt: skip
_MIGRATION_DONE = (None, "deleting", "error", "success")
_NOT_UNMANAGEABLE = (
    "Volume status must be available or error or error_restoring or error_extending or "
    "error_managing and must not be migrating, attached, belong to a group, have snapshots, "
    "awaiting a transfer, or be disassociated from snapshots after volume transfer."
)


@dataclass
class ManageAPI:
    db: Database
    bus: Bus
    notifier: Notifier
    host: str
    quota_defaults: QuotaDefaults
    scheduler: FilterScheduler
    service_down_time: float
    default_volume_type: str

    # Where the storage is -------------------------------------------------------------

    def _service(self, conn: Any, host: str, missing: Exception) -> services.ServiceRecord:
        """The volume service of ``host`` (``h@b`` or ``h@b#pool``), up and enabled."""
        backend = host.split("#", 1)[0]
        found = [s for s in services.list_services(conn, VOLUME_BINARY) if s.host == backend]
        if not found:
            raise missing
        if found[0].disabled or not found[0].is_up(self.service_down_time):
            raise ServiceUnavailable()
        return found[0]

    def _pool(self, conn: Any, host: str) -> PoolState:
        backend = host.split("#", 1)[0]
        pools = [p for p in services.pool_states(conn) if p.backend == backend]
        if "#" in host:
            pools = [p for p in pools if p.name == host]
        if len(pools) != 1:
            raise Invalid(
                f"Host '{host}' does not name one pool of its backend: give host@backend#pool."
            )
        return pools[0]

    def _type(self, conn: Any, requested: str | None) -> VolumeType:
        if requested:
            try:
                return types.get(conn, requested)
            except NotFound:
                raise Invalid(
                    f"Invalid volume type: Cannot find requested '{requested}' volume type"
                ) from None
        try:
            return types.get(conn, self.default_volume_type)
        except NotFound:
            return types.get(conn, types.DEFAULT_TYPE_NAME)

    def _limits_and_usage(self, conn: Any, project_id: str) -> tuple[Any, Any]:
        limits = quotas.limits(conn, project_id, quota.defaults_dict(self.quota_defaults))
        return limits, quotas.usage(conn, project_id, lock=True)

    @staticmethod
    def _already_managed(conn: Any, name: str) -> None:
        """Cinder's check_already_managed_volume on a ``volume-<id>`` source name."""
        found = _VOLUME_NAME.match(name)
        if found and volumes.find(conn, found.group(1).lower()) is not None:
            raise InvalidVolume("Unable to manage existing volume. The volume is already managed")

    # Volumes --------------------------------------------------------------------------

    async def manage_volume(self, ctx: RequestContext, req: ManageVolumeRequest) -> Volume:
        if req.cluster or not req.host:
            raise ServiceUnavailable(f"Cluster '{req.cluster}' not found")
        with self.db.read() as conn:
            service = self._service(
                conn, req.host, ServiceUnavailable(f"Host '{req.host}' not found")
            )
            volume_type = self._type(conn, req.volume_type)
            pool = self._pool(conn, req.host)
            zone = req.availability_zone or service.availability_zone
            spec = RequestSpec(volume_id="", size=0, volume_type=volume_type,
                               availability_zones=[zone], operation="manage_existing")  # fmt: skip
            reason = self.scheduler.explain([pool], spec)[pool.name]
            if reason is not None:
                raise Invalid(f"Pool {pool.name} cannot take this volume: {reason}")
            if isinstance(req.ref, dict) and isinstance(req.ref.get("source-name"), str):
                self._already_managed(conn, req.ref["source-name"])
        found = await backend_call.call(
            self.db, self.bus, service.host, "manage_existing_get_size",
            {"ref": req.ref, "kind": "volume"},
        )  # fmt: skip
        size, name = int(found["size"]), str(found["name"])
        volume_id = str(uuid.uuid4())
        with self.db.write() as conn:
            self._already_managed(conn, name)
            taken = manageable.being_managed(conn, service.host, name)
            if taken is not None:
                raise InvalidVolume(f"{name} is being managed already ({taken}).")
            limits, usage = self._limits_and_usage(conn, ctx.project_id)
            quota.check_volume_create(size, limits, usage, volume_type.name)
            values = {
                "id": volume_id, "project_id": ctx.project_id, "user_id": ctx.user_id,
                "display_name": req.name, "display_description": req.description,
                "size": size, "status": MANAGING, "attach_status": statuses.DETACHED,
                "availability_zone": zone, "volume_type_id": volume_type.id, "host": pool.name,
                "bootable": req.bootable, "provider_location": name,
                "multiattach": volume_type.extra_specs.get("multiattach", "").lower()
                == "<is> true",
                "created_at": volumes.now(), "scheduling_attempts": 0,
            }  # fmt: skip
            volumes.insert_volume(conn, values, req.metadata)
            quotas.add_usage(conn, ctx.project_id, quota.volume_deltas(size, volume_type.name))
            services.add_allocation(conn, pool.name, size)
            volume = volumes.get(conn, volume_id)
        cast_or_defer(self.bus, volume_topic(service.host), "manage_existing",
                      {"volume_id": volume_id})  # fmt: skip
        return volume

    def unmanage_volume(self, ctx: RequestContext, volume_id: str) -> None:
        with self.db.write() as conn:
            volume = volumes.get(conn, volume_id, None if ctx.is_admin else ctx.project_id)
            if volumes.being_created_from(conn, volume_id):
                raise InvalidVolume(f"Volume {volume_id} is busy: a copy of it is being made.")
            if (
                snapshots.of_volume(conn, volume_id)
                or attachments.of_volume(conn, volume_id)
                or volume.migration_status not in _MIGRATION_DONE
            ):
                raise InvalidVolume(_NOT_UNMANAGEABLE)
            if volume.host is None and volume.status in (statuses.ERROR, statuses.AVAILABLE):
                # Never placed: there is no storage, only the record (Cinder's delete path).
                volumes.remove(conn, volume_id)
                refund = quota.volume_deltas(volume.size, volume.volume_type_name, count=-1)
                quotas.add_usage(conn, volume.project_id, refund)
                self._notify_local_delete(volume)
                return
            moved = volumes.update(
                conn, volume_id, {"status": UNMANAGING, "task_state": None},
                expected={"status": _UNMANAGEABLE, "attach_status": statuses.DETACHED},
            )  # fmt: skip
            if not moved or volume.host is None:
                raise InvalidVolume(_NOT_UNMANAGEABLE)
        cast_or_defer(self.bus, volume_topic(volume.host.split("#", 1)[0]), "unmanage_volume",
                      {"volume_id": volume_id})  # fmt: skip

    def _notify_local_delete(self, volume: Volume) -> None:
        publisher = f"volume.{self.host}"
        self.notifier.emit(publisher, "volume.delete.start", volume_usage(volume))
        self.notifier.emit(publisher, "volume.delete.end", volume_usage(volume, status="deleted"))

    # Snapshots ------------------------------------------------------------------------

    async def manage_snapshot(self, ctx: RequestContext, req: ManageSnapshotRequest) -> Snapshot:
        project = None if ctx.is_admin else ctx.project_id
        with self.db.read() as conn:
            volume = volumes.get(conn, req.volume_id, project)
            if volume.host is None:
                raise InvalidVolume(f"Volume {volume.id} is not placed on a backend.")
            service = self._service(conn, volume.host, ServiceUnavailable())
            self._snapshot_source(volume)
        found = await backend_call.call(
            self.db, self.bus, service.host, "manage_existing_get_size",
            {"ref": req.ref, "kind": "snapshot"},
        )  # fmt: skip
        size, name = int(found["size"]), str(found["name"])
        snapshot_id = str(uuid.uuid4())
        with self.db.write() as conn:
            volume = volumes.get(conn, req.volume_id, project)
            self._snapshot_source(volume)
            assert volume.host is not None
            taken = manageable.being_managed(conn, service.host, name)
            if taken is not None:
                raise InvalidSnapshot(f"{name} is being managed already ({taken}).")
            limits, usage = self._limits_and_usage(conn, ctx.project_id)
            deltas = quota.snapshot_deltas(size, volume.volume_type_name)
            quota.check(deltas, limits, usage)
            values = {
                "id": snapshot_id, "volume_id": volume.id, "project_id": ctx.project_id,
                "user_id": ctx.user_id, "display_name": req.name,
                "display_description": req.description, "volume_size": size,
                "status": MANAGING, "progress": "0%", "provider_location": name,
                "created_at": volumes.now(),
            }  # fmt: skip
            snapshots.insert_snapshot(conn, values, req.metadata)
            quotas.add_usage(conn, ctx.project_id, deltas)
            services.add_allocation(conn, volume.host, size)
            snapshot = snapshots.get(conn, snapshot_id)
        cast_or_defer(self.bus, volume_topic(service.host), "manage_existing_snapshot",
                      {"snapshot_id": snapshot_id})  # fmt: skip
        return snapshot

    @staticmethod
    def _snapshot_source(volume: Volume) -> None:
        # Cinder's create_snapshot_in_db with force: the volume is available or in-use.
        if volume.status not in (statuses.AVAILABLE, statuses.IN_USE):
            raise InvalidVolume(
                f"Volume {volume.id} status must be available, in-use, but current status "
                f"is: {volume.status}."
            )

    def unmanage_snapshot(self, ctx: RequestContext, snapshot_id: str) -> None:
        with self.db.write() as conn:
            snapshot = snapshots.get(conn, snapshot_id, None if ctx.is_admin else ctx.project_id)
            if volumes.being_created_from(conn, snapshot_id):
                raise InvalidSnapshot(
                    f"Snapshot {snapshot_id} is busy: a volume is being created from it."
                )
            allowed = (statuses.AVAILABLE, statuses.ERROR)
            if not snapshots.update(
                conn, snapshot_id, {"status": UNMANAGING}, expected_status=allowed
            ):
                raise InvalidSnapshot(
                    "Snapshot status must be available or error and must not be part of a group."
                )
            volume = volumes.get(conn, snapshot.volume_id)
        assert volume.host is not None
        cast_or_defer(self.bus, volume_topic(volume.host.split("#", 1)[0]), "unmanage_snapshot",
                      {"snapshot_id": snapshot_id})  # fmt: skip

    # Listing --------------------------------------------------------------------------

    async def manageable(self, kind: str, query: ManageableQuery) -> list[dict[str, Any]]:
        """Cinder's ``get_manageable_volumes``/``_snapshots`` of the backend of ``host``."""
        if query.cluster or not query.host:
            raise NotFound(
                f"Service {VOLUME_BINARY} could not be found in cluster {query.cluster}."
            )
        with self.db.read() as conn:
            missing = NotFound(f"Service {VOLUME_BINARY} could not be found on host {query.host}.")
            service = self._service(conn, query.host, missing)
        found = await backend_call.call(
            self.db, self.bus, service.host, "get_manageable",
            {"kind": kind, "marker": query.marker, "limit": query.limit, "offset": query.offset,
             "sort_keys": query.sort_keys, "sort_dirs": query.sort_dirs},
        )  # fmt: skip
        return list(found)
