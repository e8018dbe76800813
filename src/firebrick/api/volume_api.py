"""The api role's side of volumes: validate, record, hand over; never wait for a backend."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from firebrick.api import volume_keys
from firebrick.api.backup_api import claim_for_restore, restore_source
from firebrick.api.group_members import group_of_new_volume, refuse_member_delete
from firebrick.api.listing import ListQuery
from firebrick.api.validation import VolumeCreateRequest, VolumeUpdateRequest
from firebrick.config import QuotaDefaults
from firebrick.context import RequestContext
from firebrick.db import idempotency, images, quotas, services, snapshots, types, volumes
from firebrick.db.engine import Database
from firebrick.domain import migration, quota, statuses
from firebrick.domain.errors import (
    InvalidAvailabilityZone,
    InvalidInput,
    InvalidSnapshot,
    InvalidVolume,
    VolumeTypeNotFound,
)
from firebrick.domain.model import Snapshot, Volume, VolumeType
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
    service_down_time: float = 60.0

    # Reading -------------------------------------------------------------------------

    def get(self, ctx: RequestContext, volume_id: str) -> Volume:
        with self.db.read() as conn:
            return self.get_in(conn, ctx, volume_id)

    @staticmethod
    def get_in(conn: Connection, ctx: RequestContext, volume_id: str) -> Volume:
        """The volume as ``ctx`` may see it, read in ``conn`` (with what the caller adds)."""
        return volumes.get(conn, volume_id, None if ctx.is_admin else ctx.project_id)

    @staticmethod
    def list_in(
        conn: Connection, ctx: RequestContext, query: ListQuery
    ) -> tuple[list[Volume], int | None]:
        """The page ``query`` asks for, and the count when it asks for one, read in ``conn``."""
        project = None if (ctx.is_admin and query.all_tenants) else ctx.project_id
        filters = dict(query.filters)
        if not ctx.is_admin:
            # Cinder hides a migration's temporary copy from everyone but admins.
            filters["no_migration_targets"] = True
        if project is None and "project_id" in filters:
            project = str(filters.pop("project_id"))
        found = volumes.list_volumes(
            conn, project_id=project, filters=filters, sort=query.sort,
            limit=query.limit, marker=query.marker, offset=query.offset,
        )  # fmt: skip
        total = (
            volumes.count(conn, project_id=project, filters=filters) if query.with_count else None
        )
        return found, total

    # Creating ------------------------------------------------------------------------

    def _volume_type(
        self, conn: Any, ctx: RequestContext, requested: str | None, origin: Volume | None = None
    ) -> VolumeType:
        if requested:
            # A private type the caller's project was not given does not exist for it.
            chosen = types.get(conn, requested, None if ctx.is_admin else ctx.project_id)
            if origin is not None and origin.volume_type_id not in (None, chosen.id):
                inherited = types.get(conn, origin.volume_type_id)
                backend = "volume_backend_name"
                same_backend = chosen.extra_specs.get(backend) == inherited.extra_specs.get(backend)
                # A copy keeps its source's data, so it cannot change how it is encrypted.
                recrypted = volume_keys.encryption_differs(conn, inherited.id, chosen.id)
                if not same_backend or recrypted:
                    raise InvalidInput(
                        f"Invalid volume_type provided: {chosen.name} (requested type is not "
                        "compatible; recommend omitting the type argument)."
                    )
            return chosen
        if origin is not None and origin.volume_type_id:
            return types.get(conn, origin.volume_type_id)
        try:
            return types.get(conn, self.default_volume_type)
        except VolumeTypeNotFound:
            return types.get(conn, types.DEFAULT_TYPE_NAME)

    def _zones(
        self,
        conn: Any,
        requested: str | None,
        volume_type: VolumeType,
        origin: Volume | None = None,
    ) -> list[str]:
        if origin is not None and origin.availability_zone:
            # Cinder's cloned_volume_same_az: a copy stays in its source's zone.
            if requested and requested != origin.availability_zone:
                raise InvalidInput(
                    "Volume must be in the same availability zone as the source or snapshot"
                )
            return [origin.availability_zone]
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

    def create(
        self,
        ctx: RequestContext,
        req: VolumeCreateRequest,
        idempotency_key: str | None = None,
        image: Mapping[str, str] | None = None,
        image_spec: Mapping[str, Any] | None = None,
    ) -> Volume:
        """Record the volume as ``creating`` (quota in the same transaction) and cast it.

        With an ``idempotency_key`` a retried request returns the volume its first attempt
        made, in whatever state it now is, instead of creating another. ``image``: the
        image metadata of a create from an image (``ImageAPI.for_create`` checked it);
        ``image_spec``: what the volume service needs to know of that image.
        """
        if req.image_ref and image is None:
            raise InvalidInput("Invalid image identifier or unable to access requested image.")
        try:
            return self._create(ctx, req, idempotency_key, image, image_spec)
        except IntegrityError:
            # A concurrent twin with the same key committed first: answer with its volume.
            found = (
                idempotency.twin(self.db, ctx.project_id, "volume", idempotency_key, volumes.get)
                if idempotency_key
                else None
            )
            if found is None:
                raise
            return found

    def _origin(
        self, conn: Any, ctx: RequestContext, req: VolumeCreateRequest
    ) -> tuple[Volume | None, Snapshot | None]:
        """The volume the new one copies (source, or the snapshot's volume) and the snapshot."""
        project = None if ctx.is_admin else ctx.project_id
        if req.snapshot_id:
            snapshot = snapshots.get(conn, req.snapshot_id, project)
            if snapshot.status != statuses.AVAILABLE:
                raise InvalidSnapshot(
                    f"Originating snapshot status must be one of 'available' values "
                    f"(status is {snapshot.status})"
                )
            return volumes.get(conn, snapshot.volume_id), snapshot
        if req.source_volid:
            source = volumes.get(conn, req.source_volid, project)
            if source.status not in (statuses.AVAILABLE, statuses.IN_USE):
                raise InvalidVolume(
                    "Unable to create a volume from an originating source volume when its "
                    f"status is not one of 'available', 'in-use' (status is {source.status})"
                )
            return source, None
        return None, None

    def _create(
        self,
        ctx: RequestContext,
        req: VolumeCreateRequest,
        idempotency_key: str | None,
        image: Mapping[str, str] | None = None,
        image_spec: Mapping[str, Any] | None = None,
    ) -> Volume:
        volume_id = str(uuid.uuid4())
        stamp = volumes.now()
        with self.db.write() as conn:
            digest = idempotency.fingerprint(req) if idempotency_key else None
            if idempotency_key:
                earlier = idempotency.replay(
                    conn, ctx.project_id, "volume", idempotency_key, digest, volumes.find
                )
                if earlier is not None:
                    return earlier
            origin, snapshot = self._origin(conn, ctx, req)
            backup = restore_source(conn, ctx, req.backup_id) if req.backup_id else None
            minimum = (snapshot.volume_size if snapshot else origin.size if origin
                       else backup.size if backup else 1)  # fmt: skip
            size = req.size if req.size is not None else (minimum if origin or backup else None)
            if size is None:
                raise InvalidInput("Volume size 'None' must be an integer and greater than 0")
            if size < minimum and backup:
                raise InvalidInput(f"Volume size '{size}'GB cannot be smaller than the backup "
                                   f"size {minimum}GB. It must be >= backup size.")  # fmt: skip
            if size < minimum:
                what = "snapshot" if snapshot else "source volume"
                raise InvalidInput(
                    f"Volume size '{size}'GB cannot be smaller than the {what} size {minimum}GB. "
                    "They must be >= original size."
                )
            volume_type = self._volume_type(conn, ctx, req.volume_type, origin)
            group = (
                group_of_new_volume(conn, ctx, req.group_id, type_requested=bool(req.volume_type),
                                    volume_type=volume_type, origin=origin)
                if req.group_id else None
            )  # fmt: skip
            # A volume in a group is placed in the group's zone, on its backend.
            zone = group.availability_zone if group else req.availability_zone
            zones = self._zones(conn, zone, volume_type, origin)
            multiattach = volume_type.extra_specs.get("multiattach", "").lower() == "<is> true"
            key = volume_keys.plan(conn, volume_type, origin, multiattach)
            limits = quotas.limits(conn, ctx.project_id, quota.defaults_dict(self.quota_defaults))
            usage = quotas.usage(conn, ctx.project_id, lock=True)
            quota.check_volume_create(size, limits, usage, volume_type.name)
            values = {
                "id": volume_id,
                "project_id": ctx.project_id,
                "user_id": ctx.user_id,
                "display_name": req.name,
                "display_description": req.description,
                "size": size,
                "status": statuses.CREATING,
                "attach_status": statuses.DETACHED,
                "availability_zone": zones[0],
                "volume_type_id": volume_type.id,
                "snapshot_id": snapshot.id if snapshot else None,
                "source_volid": origin.id if origin and not snapshot else None,
                "bootable": False,
                "multiattach": multiattach,
                "encryption_key_id": key.key_id if key else None,
                "replication_status": None,
                "created_at": stamp,
                "scheduling_attempts": 0,
                "group_id": group.id if group else None,
            }
            volumes.insert_volume(conn, values, req.metadata)
            if backup is not None:  # the 3.47 path: the backup service fills the volume
                claim_for_restore(conn, backup, volume_id, self.service_down_time)
            if key is not None:
                volume_keys.store(conn, key, volume_id)
            # A volume keeps what it knows of its image; a copy inherits it (as in Cinder).
            kept = dict(image) if image else images.of_volume(conn, origin.id) if origin else {}
            if kept:
                images.replace_metadata(conn, volume_id, kept)
            quotas.add_usage(conn, ctx.project_id, quota.volume_deltas(size, volume_type.name))
            if idempotency_key:
                idempotency.remember(
                    conn, ctx.project_id, "volume", idempotency_key, volume_id, digest
                )
        request_spec: dict[str, Any] = {"availability_zones": zones}
        if backup is not None:
            request_spec["backup_id"] = backup.id
        if image:
            request_spec["image_id"] = image["image_id"]
            if image_spec:
                request_spec["image"] = dict(image_spec)
        if origin is not None and origin.host:
            # A copy is made where its source lives (Cinder's snapshot_same_host).
            request_spec["resource_backend"] = origin.host.split("#", 1)[0]
        cast_or_defer(
            self.bus,
            SCHEDULER_TOPIC,
            "create_volume",
            {"volume_id": volume_id, "request_spec": request_spec},
        )
        return Volume(
            id=volume_id,
            project_id=ctx.project_id,
            user_id=ctx.user_id,
            size=size,
            status=statuses.CREATING,
            created_at=stamp,
            name=req.name,
            description=req.description,
            availability_zone=zones[0],
            volume_type_id=volume_type.id,
            volume_type_name=volume_type.name,
            snapshot_id=values["snapshot_id"],  # type: ignore[arg-type]
            source_volid=values["source_volid"],  # type: ignore[arg-type]
            multiattach=multiattach,
            metadata=dict(req.metadata),
            encryption_key_id=key.key_id if key else None,
            group_id=group.id if group else None,
        )

    # Changing ------------------------------------------------------------------------

    def update(self, ctx: RequestContext, volume_id: str, req: VolumeUpdateRequest) -> Volume:
        with self.db.write() as conn:
            volume = volumes.get(conn, volume_id, None if ctx.is_admin else ctx.project_id)
            if volume.status == statuses.MAINTENANCE:
                raise InvalidVolume("The volume cannot be updated during maintenance.")
            self.notifier.emit(f"volume.{self.host}", "volume.update.start", volume_usage(volume))
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
        """Mark the volume ``deleting`` and cast; its snapshots go too only with ``cascade``.

        A volume that copies are being made from is busy (Cinder's per-source lock), and one
        with snapshots keeps them safe unless the caller asks for the cascade.
        """
        with self.db.write() as conn:
            volume = volumes.get(conn, volume_id, None if ctx.is_admin else ctx.project_id)
            services.assert_not_frozen(conn, volume.host)
            refuse_member_delete(volume)
            if volumes.being_created_from(conn, volume_id):
                raise InvalidVolume(f"Volume {volume_id} is busy: a copy of it is being made.")
            own_snapshots = snapshots.of_volume(conn, volume_id)
            if own_snapshots and not cascade:
                raise InvalidVolume(
                    "Volume status must be available or error or error_restoring or "
                    "error_extending or error_managing and must not be migrating, attached, "
                    "belong to a group, have snapshots or be disassociated from snapshots "
                    f"after volume transfer. (volume {volume_id} has snapshots)"
                )
            deletable_snapshots = {statuses.AVAILABLE, statuses.ERROR}
            if any(s.group_snapshot_id for s in own_snapshots):
                raise InvalidVolume("Snapshot(s) of the volume are part of a group snapshot.")
            if any(s.status not in deletable_snapshots for s in own_snapshots):
                raise InvalidVolume("Snapshot(s) of the volume must be available or error.")
            if any(volumes.being_created_from(conn, s.id) for s in own_snapshots):
                raise InvalidVolume(f"A volume is being created from a snapshot of {volume_id}.")
            if volume.host is None and volume.status in (statuses.ERROR, statuses.AVAILABLE):
                # Never placed on a backend: nothing to remove but the record.
                volumes.remove(conn, volume_id)
                quotas.add_usage(
                    conn,
                    volume.project_id,
                    quota.volume_deltas(volume.size, volume.volume_type_name, count=-1),
                )
                self._notify_local_delete(volume)
                return
            allowed = statuses.DELETABLE if not force else statuses.ALL - {statuses.DELETING}
            moved = volumes.update(
                conn, volume_id, {"status": statuses.DELETING, "task_state": "deleting"},
                expected={"status": allowed, "attach_status": statuses.DETACHED,
                          "migration_status": migration.NOT_MIGRATING},
            )  # fmt: skip
            if not moved:
                raise InvalidVolume(
                    "Volume status must be available or error or error_restoring or "
                    "error_extending or error_managing and must not be migrating, attached, "
                    f"belong to a group, have snapshots or be disassociated from snapshots "
                    f"after volume transfer. (status is {volume.status})"
                )
            for snapshot in own_snapshots:
                snapshots.update(conn, snapshot.id, {"status": statuses.DELETING})
        assert volume.host is not None
        cast_or_defer(self.bus, volume_topic(volume.host.split("#", 1)[0]), "delete_volume",
                      {"volume_id": volume_id})  # fmt: skip

    def _notify_local_delete(self, volume: Volume) -> None:
        self.notifier.emit(f"volume.{self.host}", "volume.delete.start", volume_usage(volume))
        self.notifier.emit(
            f"volume.{self.host}", "volume.delete.end", volume_usage(volume, status="deleted")
        )
