"""``POST /volumes/{id}/action``: what each action checks and records, and what it casts.

Extend reserves quota and the pool's capacity in the API's transaction and lets the
volume's backend grow it; retype within a backend and the flags are changes of record
only. An action the backend cannot satisfy leaves the volume as it was and writes a user
message saying why, as Cinder does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from firebrick.api import migration_api, volume_keys
from firebrick.api.group_members import refuse_member_retype
from firebrick.api.microversion import APIVersion
from firebrick.api.validation import DB_MAX_INT
from firebrick.context import RequestContext
from firebrick.db import (
    attachments,
    messages,
    placement,
    qos,
    quotas,
    services,
    snapshots,
    types,
    volumes,
)
from firebrick.db.engine import Database
from firebrick.domain import migration, quota, statuses
from firebrick.domain import qos as qos_rules
from firebrick.domain.errors import Invalid, InvalidInput, InvalidVolume
from firebrick.domain.model import RequestSpec, Volume, VolumeType
from firebrick.notifier import Notifier, volume_usage
from firebrick.rpc.bus import Bus, cast_or_defer, volume_topic
from firebrick.scheduler.filter_scheduler import FilterScheduler

EXTEND_IN_USE = APIVersion(3, 42)
EXTEND_NO_ROOM = "VOLUME_VOLUME_007_003"
RETYPE_NO_BACKEND = "VOLUME_VOLUME_001_003"
RETYPE_NOT_NOW = (
    "Retype needs volume to be in available or in-use state, not be part of an active "
    "migration or a consistency group, requested type has to be different that the one "
    "from the volume, and for in-use volumes front-end qos specs cannot change."
)

_TRUE = {"1", "t", "true", "on", "y", "yes"}
_FALSE = {"0", "f", "false", "off", "n", "no"}

RESET_STATUSES = {
    statuses.AVAILABLE, statuses.ERROR, statuses.IN_USE, statuses.CREATING,
    statuses.ERROR_DELETING, statuses.ERROR_EXTENDING, statuses.RESERVED, statuses.ATTACHING,
    statuses.DETACHING, statuses.MAINTENANCE, statuses.EXTENDING,
}  # fmt: skip
ATTACH_STATUSES = {"attached", "detached"}
MIGRATION_STATUSES = {None, "", "none", "migrating", "error", "success", "completing", "starting"}


def _migration_blocker(conn: Any, volume: Volume, policy: str) -> str | None:
    """Why a retype that needs another backend cannot move the volume; None if it can."""
    if policy != "on-demand":
        return "Retype requires migration but is not allowed."
    if volume.status != statuses.AVAILABLE:
        return migration_api.ATTACHED.format(id=volume.id)
    if snapshots.of_volume(conn, volume.id):
        return "Volume must not have snapshots."
    if volume.replication_status not in migration_api.REPLICATION_OK:
        return "Volume must not be replicated."
    return None


def strict_bool(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise InvalidInput(f"{name} must be a boolean, not {value!r}.")


def _member(value: object, allowed: set[str] | set[str | None]) -> bool:
    """``value in allowed`` for any JSON value (a list or an object is not hashable)."""
    return (value is None or isinstance(value, str)) and value in allowed


def _gigabytes(size: int, type_name: str | None) -> dict[str, int]:
    return {k: v for k, v in quota.volume_deltas(size, type_name).items() if "gigabytes" in k}


@dataclass
class VolumeActions:
    db: Database
    bus: Bus
    notifier: Notifier
    host: str
    scheduler: FilterScheduler
    quota_defaults: Any

    def _volume(self, conn: Any, ctx: RequestContext, volume_id: str) -> Volume:
        return volumes.get(conn, volume_id, None if ctx.is_admin else ctx.project_id)

    def extend(
        self, ctx: RequestContext, volume_id: str, body: object, version: APIVersion
    ) -> None:
        raw = body.get("new_size") if isinstance(body, dict) else None
        text = str(raw) if isinstance(raw, (int, str)) and not isinstance(raw, bool) else ""
        # ASCII digits only ("²" is a digit to str.isdigit), and no bigger than a volume can be.
        if not (text.isascii() and text.isdigit() and len(text) <= 10 and int(text) <= DB_MAX_INT):
            raise InvalidInput(f"New size for extend must be an integer: {raw!r}")
        new_size = int(text)
        allowed = {statuses.AVAILABLE}
        if version >= EXTEND_IN_USE:
            allowed.add(statuses.IN_USE)
        with self.db.write() as conn:
            volume = self._volume(conn, ctx, volume_id)
            if volume.status not in allowed:
                raise InvalidVolume(
                    f"Volume {volume_id} status must be {' or '.join(sorted(allowed))} to "
                    f"extend, currently {volume.status}."
                )
            if new_size <= volume.size:
                raise InvalidInput(
                    f"New size for extend must be greater than current size. (current: "
                    f"{volume.size}, extended: {new_size})."
                )
            delta = new_size - volume.size
            limits = quotas.limits(
                conn, volume.project_id, quota.defaults_dict(self.quota_defaults)
            )
            quota.check_volume_size(new_size, limits)
            usage = quotas.usage(conn, volume.project_id, lock=True)
            quota.check(_gigabytes(delta, volume.volume_type_name), limits, usage)
            assert volume.host is not None
            pool = placement.lock_pool(conn, volume.host)
            volume_type = types.get(conn, volume.volume_type_id) if volume.volume_type_id else None
            spec = RequestSpec(volume_id=volume.id, size=delta, volume_type=volume_type,
                               operation="extend_volume")  # fmt: skip
            reason = (
                "pool is gone" if pool is None else self.scheduler.explain([pool], spec)[pool.name]
            )
            if (
                reason is None
                and pool is not None
                and volume.status == statuses.IN_USE
                and not pool.capabilities.get("online_extend_support", True)
            ):
                # The live export keeps the size it was made with (Cinder's same check).
                reason = "the backend cannot extend an attached volume (online_extend_support)"
            if reason is not None:
                messages.add(
                    conn,
                    project_id=volume.project_id,
                    event_id=EXTEND_NO_ROOM,
                    resource_uuid=volume.id,
                    detail=f"pool {volume.host}: {reason}",
                )
                return
            volumes.update(
                conn, volume_id,
                {"status": statuses.EXTENDING, "previous_status": volume.status},
                expected={"status": volume.status},
            )  # fmt: skip
            quotas.add_usage(conn, volume.project_id, _gigabytes(delta, volume.volume_type_name))
            services.add_allocation(conn, volume.host, delta)
        cast_or_defer(self.bus, volume_topic(volume.host.split("#", 1)[0]), "extend_volume",
                      {"volume_id": volume_id, "new_size": new_size})  # fmt: skip

    def retype(self, ctx: RequestContext, volume_id: str, body: object) -> None:
        if not isinstance(body, dict) or not isinstance(body.get("new_type"), str):
            raise Invalid("New volume type must be specified.")
        policy = body.get("migration_policy", "never") or "never"
        if policy not in ("never", "on-demand"):
            raise InvalidInput(f"Invalid migration policy: {policy}")
        with self.db.write() as conn:
            volume = self._volume(conn, ctx, volume_id)
            if volume.status not in (statuses.AVAILABLE, statuses.IN_USE):
                raise InvalidVolume(
                    f"Volume status must be available or in-use, not {volume.status}."
                )
            refuse_member_retype(volume)
            if migration.is_migrating(volume.migration_status):
                raise InvalidVolume(RETYPE_NOT_NOW)
            new_type = types.get(conn, body["new_type"])
            if new_type.id == volume.volume_type_id:
                raise InvalidInput("Retype requires a different type than the current one.")
            # An in-use volume keeps its front-end QoS specs; every volume keeps its encryption.
            if not qos_rules.retype_keeps_front_end(
                volume.status, qos.of_type(conn, volume.volume_type_id),
                qos.of_type(conn, new_type.id),
            ):  # fmt: skip
                raise InvalidVolume(RETYPE_NOT_NOW)
            recrypted = volume_keys.encryption_differs(conn, volume.volume_type_id, new_type.id)
            pool = placement.lock_pool(conn, volume.host) if volume.host else None
            spec = RequestSpec(
                volume_id=volume.id, size=0, volume_type=new_type, operation="retype"
            )
            reason = (
                "not placed" if pool is None else self.scheduler.explain([pool], spec)[pool.name]
            )
            if recrypted:
                # Firebrick stores what the hypervisor encrypted; moving the data elsewhere
                # would not encrypt it another way: the volume stays.
                messages.add(conn, project_id=volume.project_id, event_id=RETYPE_NO_BACKEND,
                             resource_uuid=volume.id,
                             detail=f"type {new_type.name}: the types encrypt differently "
                                    "and Firebrick cannot re-encrypt a volume's data")  # fmt: skip
                return
            limits = quotas.limits(
                conn, volume.project_id, quota.defaults_dict(self.quota_defaults)
            )
            if reason is None:
                retyped = self._retype_in_place(conn, volume, new_type, limits)
            else:
                # The type needs another backend: the volume moves there, or stays and a
                # user message says why it cannot.
                blocker = _migration_blocker(conn, volume, policy)
                if blocker is not None:
                    detail = f"type {new_type.name} does not fit pool {volume.host}: {reason}"
                    messages.add(conn, project_id=volume.project_id,
                                 event_id=RETYPE_NO_BACKEND, resource_uuid=volume.id,
                                 detail=f"{detail}; {blocker}")  # fmt: skip
                    return
                migration_api.check_retype_quota(conn, volume, new_type, limits)
                migration_api.begin(conn, volume, requested_host=None, lock_volume=False,
                                    new_type=new_type)  # fmt: skip
        if reason is not None:
            migration_api.send_to_scheduler(self.bus, volume_id)
            return
        backend = (retyped.host or self.host).split("#", 1)[0]
        self.notifier.emit(f"volume.{backend}", "volume.retype",
                           volume_usage(retyped, volume_type=new_type.id))  # fmt: skip

    @staticmethod
    def _retype_in_place(
        conn: Any, volume: Volume, new_type: VolumeType, limits: dict[str, int]
    ) -> Volume:
        """A change of record: the volume's pool takes the new type as it is."""
        usage = quotas.usage(conn, volume.project_id, lock=True)
        added = quota.volume_deltas(volume.size, new_type.name)
        per_type_added = {k: v for k, v in added.items() if k.endswith(f"_{new_type.name}")}
        quota.check(per_type_added, limits, usage)
        removed = quota.volume_deltas(volume.size, volume.volume_type_name, count=-1)
        moved = {k: v for k, v in removed.items() if volume.volume_type_name and
                 k.endswith(f"_{volume.volume_type_name}")}  # fmt: skip
        quotas.add_usage(conn, volume.project_id, {**moved, **per_type_added})
        volumes.update(conn, volume.id, {"volume_type_id": new_type.id})
        return volumes.get(conn, volume.id)

    def set_bootable(self, ctx: RequestContext, volume_id: str, body: object) -> None:
        if not isinstance(body, dict) or "bootable" not in body:
            raise Invalid("Must specify bootable in request.")
        bootable = strict_bool("bootable", body["bootable"])
        with self.db.write() as conn:
            self._volume(conn, ctx, volume_id)
            volumes.update(conn, volume_id, {"bootable": bootable})

    def set_readonly(self, ctx: RequestContext, volume_id: str, body: object) -> None:
        if not isinstance(body, dict) or "readonly" not in body:
            raise Invalid("Must specify readonly in request.")
        readonly = strict_bool("readonly", body["readonly"])
        with self.db.write() as conn:
            volume = self._volume(conn, ctx, volume_id)
            if volume.status not in (statuses.AVAILABLE, statuses.IN_USE):
                raise InvalidVolume(
                    f"Volume status must be available or in-use, not {volume.status}."
                )
            volumes.update(conn, volume_id, {"readonly": readonly})
            # Cinder shows the flag among the volume's metadata (tempest checks it there).
            volumes.set_metadata(conn, volume_id, {"readonly": str(readonly)}, replace=False)

    def reset_status(self, ctx: RequestContext, volume_id: str, body: object) -> None:
        if not isinstance(body, dict) or not body:
            raise Invalid(
                "Must specify 'status', 'attach_status' or 'migration_status' for update."
            )
        values: dict[str, Any] = {}
        if "status" in body:
            if not _member(body["status"], RESET_STATUSES):
                raise Invalid(f"Must specify a valid status, not {body['status']!r}.")
            values["status"] = body["status"]
        if "attach_status" in body:
            if not _member(body["attach_status"], ATTACH_STATUSES):
                raise Invalid(f"Must specify a valid attach status, not {body['attach_status']!r}.")
            values["attach_status"] = body["attach_status"]
        if "migration_status" in body:
            if not _member(body["migration_status"], MIGRATION_STATUSES):
                raise Invalid(
                    f"Must specify a valid migration status, not {body['migration_status']!r}."
                )
            values["migration_status"] = body["migration_status"] or None
        if not values:
            raise Invalid(
                "Must specify 'status', 'attach_status' or 'migration_status' for update."
            )
        with self.db.write() as conn:
            volume = self._volume(conn, ctx, volume_id)
            present = attachments.of_volume(conn, volume_id)
            if values.get("status") == statuses.IN_USE and not present:
                raise Invalid("Cannot reset a volume to in-use: it has no attachments.")
            if values.get("attach_status") == statuses.DETACHED:
                for attachment in present:
                    attachments.remove(conn, attachment.id)
            self.notifier.emit(
                f"volume.{self.host}", "volume.reset_status.start", volume_usage(volume)
            )
            volumes.update(conn, volume_id, values)
            after = volumes.get(conn, volume_id)
        self.notifier.emit(f"volume.{self.host}", "volume.reset_status.end", volume_usage(after))
