"""The api role's side of volumes: validate, record, hand over; never wait for a backend."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from firebrick.api.listing import ListQuery
from firebrick.api.validation import VolumeCreateRequest, VolumeUpdateRequest
from firebrick.config import QuotaDefaults
from firebrick.context import RequestContext
from firebrick.db import quotas, services, types, volumes
from firebrick.db.engine import Database
from firebrick.domain import quota, statuses
from firebrick.domain.errors import (
    InvalidAvailabilityZone,
    InvalidInput,
    InvalidVolume,
    SnapshotNotFound,
    VolumeTypeNotFound,
)
from firebrick.domain.model import Volume, VolumeType
from firebrick.notifier import Notifier, volume_usage
from firebrick.rpc.bus import SCHEDULER_TOPIC, Bus, cast_or_defer, volume_topic

LOG = logging.getLogger("firebrick.api")

AZ_SPEC = "RESKEY:availability_zones"


@dataclass
class VolumeAPI:
    db: Database
    bus: Bus
    notifier: Notifier
    host: str
    default_volume_type: str
    default_availability_zone: str
    quota_defaults: QuotaDefaults

    # Reading -------------------------------------------------------------------------

    def get(self, ctx: RequestContext, volume_id: str) -> Volume:
        with self.db.read() as conn:
            return volumes.get(conn, volume_id, None if ctx.is_admin else ctx.project_id)

    def list_volumes(
        self, ctx: RequestContext, query: ListQuery
    ) -> tuple[list[Volume], int | None]:
        project = None if (ctx.is_admin and query.all_tenants) else ctx.project_id
        filters = dict(query.filters)
        if project is None and "project_id" in filters:
            project = str(filters.pop("project_id"))
        with self.db.read() as conn:
            found = volumes.list_volumes(
                conn, project_id=project, filters=filters, sort=query.sort,
                limit=query.limit, marker=query.marker, offset=query.offset,
            )  # fmt: skip
            total = (
                volumes.count(conn, project_id=project, filters=filters)
                if query.with_count
                else None
            )
        return found, total

    # Creating ------------------------------------------------------------------------

    def _volume_type(self, conn: Any, requested: str | None) -> VolumeType:
        if requested:
            return types.get(conn, requested)
        try:
            return types.get(conn, self.default_volume_type)
        except VolumeTypeNotFound:
            return types.get(conn, types.DEFAULT_TYPE_NAME)

    def _zones(self, conn: Any, requested: str | None, volume_type: VolumeType) -> list[str]:
        valid = {s.availability_zone for s in services.list_services(conn, "cinder-volume")}
        valid.add(self.default_availability_zone)
        type_zones = [z.strip() for z in volume_type.extra_specs.get(AZ_SPEC, "").split(",")]
        candidates = [z for z in type_zones if z] or None
        if candidates is not None:
            candidates = [z for z in candidates if z in valid]
            if not candidates:
                raise InvalidInput(
                    f"The availability zones of volume type {volume_type.name} are not valid."
                )
        if requested:
            if requested not in valid or (candidates is not None and requested not in candidates):
                raise InvalidAvailabilityZone(requested)
            return [requested]
        return candidates or [self.default_availability_zone]

    def create(self, ctx: RequestContext, req: VolumeCreateRequest) -> Volume:
        if req.image_ref:
            raise InvalidInput("Invalid image identifier or unable to access requested image.")
        if req.backup_id:
            raise InvalidInput("Creating a volume from a backup is not supported.")
        volume_id = str(uuid.uuid4())
        stamp = volumes.now()
        with self.db.write() as conn:
            if req.snapshot_id:
                raise SnapshotNotFound(req.snapshot_id)
            if req.source_volid:
                source = volumes.get(
                    conn, req.source_volid, None if ctx.is_admin else ctx.project_id
                )
                raise InvalidVolume(f"Cloning volume {source.id} is not supported yet.")
            if req.size is None:
                raise InvalidInput("Volume size 'None' must be an integer and greater than 0")
            volume_type = self._volume_type(conn, req.volume_type)
            zones = self._zones(conn, req.availability_zone, volume_type)
            limits = quotas.limits(conn, ctx.project_id, quota.defaults_dict(self.quota_defaults))
            usage = quotas.usage(conn, ctx.project_id, lock=True)
            quota.check_volume_create(req.size, limits, usage)
            values = {
                "id": volume_id,
                "project_id": ctx.project_id,
                "user_id": ctx.user_id,
                "display_name": req.name,
                "display_description": req.description,
                "size": req.size,
                "status": statuses.CREATING,
                "attach_status": statuses.DETACHED,
                "availability_zone": zones[0],
                "volume_type_id": volume_type.id,
                "bootable": False,
                "multiattach": volume_type.extra_specs.get("multiattach", "").lower()
                == "<is> true",
                "replication_status": None,
                "created_at": stamp,
                "scheduling_attempts": 0,
            }
            volumes.insert_volume(conn, values, req.metadata)
            quotas.add_usage(conn, ctx.project_id, {"volumes": 1, "gigabytes": req.size})
        cast_or_defer(
            self.bus,
            SCHEDULER_TOPIC,
            "create_volume",
            {"volume_id": volume_id, "request_spec": {"availability_zones": zones}},
        )
        return Volume(
            id=volume_id,
            project_id=ctx.project_id,
            user_id=ctx.user_id,
            size=req.size,
            status=statuses.CREATING,
            created_at=stamp,
            name=req.name,
            description=req.description,
            availability_zone=zones[0],
            volume_type_id=volume_type.id,
            volume_type_name=volume_type.name,
            multiattach=bool(values["multiattach"]),
            metadata=dict(req.metadata),
        )

    # Changing ------------------------------------------------------------------------

    def update(self, ctx: RequestContext, volume_id: str, req: VolumeUpdateRequest) -> Volume:
        with self.db.write() as conn:
            volume = volumes.get(conn, volume_id, None if ctx.is_admin else ctx.project_id)
            if volume.status == statuses.MAINTENANCE:
                raise InvalidVolume("The volume cannot be updated during maintenance.")
            changes = req.changes()
            values: dict[str, Any] = {}
            if "name" in changes:
                values["display_name"] = changes["name"]
            if "description" in changes:
                values["display_description"] = changes["description"]
            if values:
                volumes.update(conn, volume_id, values)
            if "metadata" in changes:
                volumes.set_metadata(conn, volume_id, changes["metadata"] or {}, replace=True)
            updated = volumes.get(conn, volume_id)
        self.notifier.emit(f"volume.{self.host}", "volume.update.end", volume_usage(updated))
        return updated

    def delete(self, ctx: RequestContext, volume_id: str, *, cascade: bool, force: bool) -> None:
        with self.db.write() as conn:
            volume = volumes.get(conn, volume_id, None if ctx.is_admin else ctx.project_id)
            if volume.host is None and volume.status in (statuses.ERROR, statuses.AVAILABLE):
                # Never placed on a backend: nothing to remove but the record.
                volumes.remove(conn, volume_id)
                quotas.add_usage(
                    conn, volume.project_id, {"volumes": -1, "gigabytes": -volume.size}
                )
                self._notify_local_delete(volume)
                return
            allowed = statuses.DELETABLE if not force else statuses.ALL - {statuses.DELETING}
            moved = volumes.update(
                conn, volume_id, {"status": statuses.DELETING, "task_state": "deleting"},
                expected={"status": allowed, "attach_status": statuses.DETACHED},
            )  # fmt: skip
            if not moved:
                raise InvalidVolume(
                    "Volume status must be available or error or error_restoring or "
                    "error_extending or error_managing and must not be migrating, attached, "
                    f"belong to a group, have snapshots or be disassociated from snapshots "
                    f"after volume transfer. (status is {volume.status})"
                )
        assert volume.host is not None
        cast_or_defer(self.bus, volume_topic(volume.host.split("#", 1)[0]), "delete_volume",
                      {"volume_id": volume_id})  # fmt: skip

    def _notify_local_delete(self, volume: Volume) -> None:
        self.notifier.emit(f"volume.{self.host}", "volume.delete.start", volume_usage(volume))
        self.notifier.emit(
            f"volume.{self.host}", "volume.delete.end", volume_usage(volume, status="deleted")
        )
