"""The api role's side of generic volume groups: validate, record, hand over.

Creating a group records it (quota ``groups`` in the same transaction) and casts it to
the scheduler, which places it on one backend; updates, deletes and copies go to the
volume service of that backend. Membership checks follow Cinder's group API: a volume
joins a group only with one of the group's volume types, on the group's backend,
available or in-use, and in no other group.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from firebrick.api.group_listing import CollectionQuery
from firebrick.api.group_schemas import parse_bool, validate
from firebrick.api.validation import is_uuid_like
from firebrick.config import QuotaDefaults
from firebrick.context import RequestContext
from firebrick.db import group_types, groups, quotas, services, snapshots, types, volumes
from firebrick.db.engine import Database
from firebrick.domain import groups as domain
from firebrick.domain import quota, statuses
from firebrick.domain.errors import (
    InvalidInput,
    InvalidVolume,
    VolumeNotFound,
    VolumeTypeNotFound,
    VolumeTypeNotFoundByName,
)
from firebrick.domain.groups import Group, GroupType, InvalidGroup, reserved_type_refused
from firebrick.domain.model import Volume, VolumeType
from firebrick.notifier import Notifier
from firebrick.rpc.bus import SCHEDULER_TOPIC, Bus, cast_or_defer, volume_topic

# Members a group delete may take with it: settled, not attached (checked apart).
_DELETABLE_MEMBER = statuses.DELETABLE | {statuses.DELETING, statuses.ERROR_DELETING}


def stripped(value: str | None) -> str | None:
    """Cinder strips a non-empty name or description."""
    return value.strip() if value else value


def group_type_by_name_or_id(conn: Connection, ctx: RequestContext, key: str) -> GroupType:
    """Cinder's lookup: a UUID is an id (or else a name), anything else a name."""
    public_only = not ctx.is_admin
    if not is_uuid_like(key):
        return group_types.get_by_name(conn, key, public_only=public_only)
    try:
        return group_types.get(conn, key, public_only=public_only)
    except domain.GroupTypeNotFound:
        found = group_types.find_by_name(conn, key)
        if found is None or (public_only and not found.is_public):
            raise
        return found


def volume_type_by_name_or_id(conn: Connection, key: str) -> VolumeType:
    try:
        return types.get(conn, key)
    except VolumeTypeNotFound:
        if not is_uuid_like(key):
            raise VolumeTypeNotFoundByName(key) from None
        raise


@dataclass
class GroupAPI:
    db: Database
    bus: Bus
    notifier: Notifier
    host: str
    default_availability_zone: str
    quota_defaults: QuotaDefaults

    def project_scope(self, ctx: RequestContext) -> str | None:
        return None if ctx.is_admin else ctx.project_id

    def _group(
        self, conn: Connection, ctx: RequestContext, group_id: str, *, lock: bool = False
    ) -> Group:
        group = groups.get(conn, group_id, self.project_scope(ctx), lock=lock)
        if group_types.is_reserved(conn, group.group_type_id):
            raise reserved_type_refused(group.group_type_id)
        return group

    # Reading -------------------------------------------------------------------------

    def get(self, ctx: RequestContext, group_id: str) -> tuple[Group, list[str]]:
        """The group and the ids of its volumes."""
        with self.db.read() as conn:
            group = self._group(conn, ctx, group_id)
            return group, groups.member_ids(conn, [group.id])[group.id]

    def list_groups(
        self, ctx: RequestContext, query: CollectionQuery
    ) -> tuple[list[Group], dict[str, list[str]]]:
        project = None if (ctx.is_admin and query.all_tenants) else ctx.project_id
        with self.db.read() as conn:
            reserved = group_types.find_by_name(conn, domain.DEFAULT_CGSNAPSHOT_TYPE)
            found = groups.list_groups(
                conn, project_id=project, filters=query.filters, sort=query.sort,
                limit=query.limit, marker=query.marker, offset=query.offset,
                hidden_type=reserved.id if reserved else None,
            )  # fmt: skip
            return found, groups.member_ids(conn, [g.id for g in found])

    # Creating ------------------------------------------------------------------------

    def _zone(self, conn: Connection, requested: str | None) -> str:
        zone = requested or self.default_availability_zone
        valid = {s.availability_zone for s in services.list_services(conn, "cinder-volume")}
        valid.add(self.default_availability_zone)
        if zone not in valid:
            raise InvalidInput(f"Availability zone '{zone}' is invalid.")
        return zone

    def check_quota(self, conn: Connection, ctx: RequestContext, deltas: dict[str, int]) -> None:
        limits = quotas.limits(conn, ctx.project_id, quota.defaults_dict(self.quota_defaults))
        usage = quotas.usage(conn, ctx.project_id, lock=True)
        quota.check(deltas, limits, usage)

    def create(self, ctx: RequestContext, payload: object) -> Group:
        spec = validate("group_create", payload)["group"]
        group_id = str(uuid.uuid4())
        with self.db.write() as conn:
            requested_type: str = spec["group_type"]
            group_type = None
            if not is_uuid_like(requested_type):
                group_type = group_type_by_name_or_id(conn, ctx, requested_type)
                requested_type = group_type.id
            if group_types.is_reserved(conn, requested_type):
                raise reserved_type_refused(requested_type)
            volume_types = [volume_type_by_name_or_id(conn, t) for t in spec["volume_types"]]
            group_type = group_type or group_type_by_name_or_id(conn, ctx, requested_type)
            zone = self._zone(conn, spec.get("availability_zone"))
            self.check_quota(conn, ctx, {"groups": 1})
            values = {
                "id": group_id, "project_id": ctx.project_id, "user_id": ctx.user_id,
                "name": stripped(spec.get("name")),
                "description": stripped(spec.get("description")),
                "status": domain.CREATING, "availability_zone": zone,
                "group_type_id": group_type.id, "replication_status": "disabled",
                "created_at": volumes.now(),
            }  # fmt: skip
            groups.insert_group(conn, values, [t.id for t in volume_types])
            quotas.add_usage(conn, ctx.project_id, {"groups": 1})
            created = groups.get(conn, group_id)
        cast_or_defer(self.bus, SCHEDULER_TOPIC, "create_group", {"group_id": group_id})
        return created

    # Updating ------------------------------------------------------------------------

    def update(self, ctx: RequestContext, group_id: str, payload: object) -> None:
        spec = validate("group_update", payload)["group"]
        name, description = stripped(spec.get("name")), stripped(spec.get("description"))
        add = _id_list(spec.get("add_volumes"))
        remove = _id_list(spec.get("remove_volumes"))
        both = [volume_id for volume_id in add if volume_id in remove]
        if both:
            raise InvalidVolume(f"UUIDs {both} are in both add and remove volume list.")
        with self.db.write() as conn:
            group = self._group(conn, ctx, group_id, lock=True)
            name = None if name == group.name else name
            description = None if description == group.description else description
            current = groups.members(conn, group.id)
            adding = self._check_add(conn, ctx, group, current, add) if add else []
            removing = _check_remove(group, current, remove) if remove else []
            if name is None and description is None and not adding and not removing:
                raise InvalidGroup(
                    f"Cannot update group {group.id} because no valid name, description, "
                    "add_volumes, or remove_volumes were provided."
                )
            values: dict[str, Any] = {}
            if name is not None:
                values["name"] = name
            if description is not None:
                values["description"] = description
            if adding or removing:
                values["status"] = domain.UPDATING
                if not groups.update_group(conn, group.id, values,
                                           expected_status=domain.AVAILABLE):  # fmt: skip
                    raise InvalidGroup("Group status must be available.")
                groups.set_group_of(conn, adding, group.id)
                groups.set_group_of(conn, removing, None)
            else:
                groups.update_group(conn, group.id, values)
        if (adding or removing) and group.backend:
            cast_or_defer(self.bus, volume_topic(group.backend), "update_group",
                          {"group_id": group.id})  # fmt: skip

    def _check_add(self, conn: Connection, ctx: RequestContext, group: Group,
                   current: list[Volume], wanted: list[str]) -> list[str]:  # fmt: skip
        """Cinder's ``_validate_add_volumes``: the ids that really join."""
        members = {v.id for v in current}
        joining = []
        for volume_id in (v for v in wanted if v not in members):
            what = f"Cannot add volume {volume_id} to group {group.id}"
            try:
                volume = volumes.get(conn, volume_id, self.project_scope(ctx))
            except VolumeNotFound:
                raise InvalidVolume(f"{what} because volume cannot be found.") from None
            if volume.group_id:
                raise InvalidVolume(f"{what} because it is already in group {volume.group_id}.")
            if volume.project_id != group.project_id:
                raise InvalidVolume(f"{what} as they belong to different projects.")
            if not volume.volume_type_id:
                raise InvalidVolume(f"{what} because it has no volume type.")
            if volume.volume_type_id not in group.volume_type_ids:
                raise InvalidVolume(
                    f"{what} because volume type {volume.volume_type_id} is not supported by "
                    "the group."
                )
            if volume.status not in domain.VALID_ADD_VOL_TO_GROUP_STATUS:
                raise InvalidVolume(
                    f"{what} because volume is in an invalid state: {volume.status}. Valid "
                    f"states are: {domain.VALID_ADD_VOL_TO_GROUP_STATUS}."
                )
            backend = volume.host.split("#", 1)[0] if volume.host else None
            if backend is None or backend != group.backend:
                raise InvalidVolume("Volume is not local to this node.")
            joining.append(volume.id)
        return joining

    # Deleting ------------------------------------------------------------------------

    def delete(self, ctx: RequestContext, group_id: str, payload: object) -> None:
        spec = validate("group_delete", payload)["delete"]
        delete_volumes = parse_bool(spec.get("delete-volumes", False))
        with self.db.write() as conn:
            group = self._group(conn, ctx, group_id, lock=True)
            current = groups.members(conn, group.id)
            if current and not delete_volumes:
                if group.host is not None and group.status not in (domain.AVAILABLE,
                                                                   domain.ERROR):  # fmt: skip
                    raise _status_refused(group)
                raise InvalidGroup(
                    f"Group {group.id} still contains volumes. The delete-volumes flag is "
                    "required to delete it."
                )
            if group.host is None:
                _remove_unplaced(conn, group, current)
                return
            if not delete_volumes and group.status not in (domain.AVAILABLE, domain.ERROR):
                raise _status_refused(group)
            if groups.has_group_snapshots(conn, group.id):
                raise InvalidGroup("Group has existing snapshots.")
            if groups.creating_from(conn, source_group_id=group.id):
                raise InvalidGroup(
                    f"Cannot delete group {group.id}. Group must not have attached volumes, "
                    "volumes with snapshots, or dependent group snapshots, and it cannot be "
                    "the source for an ongoing group or group snapshot creation."
                )
            for volume in current:
                _check_member_deletable(conn, group, volume)
            for volume in current:
                volumes.update(conn, volume.id, {"status": statuses.DELETING,
                                                 "task_state": "deleting"})  # fmt: skip
            groups.update_group(conn, group.id, {"status": domain.DELETING})
        assert group.backend is not None
        cast_or_defer(self.bus, volume_topic(group.backend), "delete_group",
                      {"group_id": group.id})  # fmt: skip

    def reset_status(self, ctx: RequestContext, group_id: str, payload: object) -> None:
        status = validate("group_reset_status", payload)["reset_status"]["status"].lower()
        publisher = f"groupStatusUpdate.{self.host}"
        self.notifier.emit(publisher, "groups.reset_status.start",
                           {"id": group_id, "update": status})  # fmt: skip
        with self.db.write() as conn:
            group = self._group(conn, ctx, group_id)
            groups.update_group(conn, group.id, {"status": status})
        self.notifier.emit(publisher, "groups.reset_status.end",
                           {"id": group_id, "update": status})  # fmt: skip


def _id_list(raw: str | None) -> list[str]:
    """Cinder's comma-separated ids (``"a,b,"``); empty items dropped."""
    if not raw:
        return []
    return [item for item in raw.strip(",").split(",") if item]


def _check_remove(group: Group, current: list[Volume], wanted: list[str]) -> list[str]:
    """Cinder's ``_validate_remove_volumes``: the ids that really leave."""
    leaving = []
    for volume in current:
        if volume.id in wanted:
            if volume.status not in domain.VALID_REMOVE_VOL_FROM_GROUP_STATUS:
                raise InvalidVolume(
                    f"Cannot remove volume {volume.id} from group {group.id} because volume "
                    f"is in an invalid state: {volume.status}. Valid states are: "
                    f"{domain.VALID_REMOVE_VOL_FROM_GROUP_STATUS}."
                )
            leaving.append(volume.id)
    for volume_id in wanted:
        if volume_id not in leaving:
            raise InvalidVolume(
                f"Cannot remove volume {volume_id} from group {group.id} because it is not "
                "in the group."
            )
    return leaving


def _status_refused(group: Group) -> InvalidGroup:
    return InvalidGroup(
        f"Group status must be available or error, but current status is: {group.status}"
    )


def _check_member_deletable(conn: Connection, group: Group, volume: Volume) -> None:
    if volume.attach_status == statuses.ATTACHED:
        raise InvalidGroup(f"Volume in group {group.id} is attached. Need to detach first.")
    if snapshots.of_volume(conn, volume.id):
        raise InvalidGroup("Volume in group still has dependent snapshots.")
    if volume.status not in _DELETABLE_MEMBER or volumes.being_created_from(conn, volume.id):
        raise InvalidGroup(
            f"Volume {volume.id} in group {group.id} is busy ({volume.status}); it can be "
            "deleted once its operation is over."
        )


def _remove_unplaced(conn: Connection, group: Group, members: list[Volume]) -> None:
    """A group no scheduler placed has nothing on a backend: only records go."""
    for volume in members:
        volumes.remove(conn, volume.id)
        quotas.add_usage(
            conn,
            volume.project_id,
            quota.volume_deltas(volume.size, volume.volume_type_name, count=-1),
        )
    groups.remove(conn, group.id)
    quotas.add_usage(conn, group.project_id, {"groups": -1})
