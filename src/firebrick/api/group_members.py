"""The group checks the volume, snapshot and action APIs make (Cinder's rules about
volumes in groups), kept beside the group code so that those APIs only call them."""

from __future__ import annotations

from sqlalchemy import Connection

from firebrick.context import RequestContext
from firebrick.db import groups
from firebrick.domain.errors import InvalidInput, InvalidSnapshot, InvalidVolume
from firebrick.domain.groups import GROUP_PROCEED_STATUS, Group, InvalidGroup
from firebrick.domain.model import Snapshot, Volume, VolumeType

IN_GROUP_NOT_DELETABLE = (
    "Volume status must be available or error or error_restoring or error_extending or "
    "error_managing and must not be migrating, attached, belong to a group, have snapshots, "
    "awaiting a transfer, or be disassociated from snapshots after volume transfer."
)
IN_GROUP_NOT_RETYPABLE = (
    "Retype needs volume to be in available or in-use state, not be part of an active "
    "migration or a consistency group, requested type has to be different that the one from "
    "the volume, and for in-use volumes front-end qos specs cannot change."
)


def group_of_new_volume(
    conn: Connection,
    ctx: RequestContext,
    group_id: str,
    *,
    type_requested: bool,
    volume_type: VolumeType,
    origin: Volume | None,
) -> Group:
    """The group a volume is created into, once Cinder's checks pass."""
    group = groups.get(conn, group_id, None if ctx.is_admin else ctx.project_id, lock=True)
    if not type_requested:
        raise InvalidInput("volume_type must be provided when creating a volume in a group.")
    if volume_type.id not in group.volume_type_ids:
        raise InvalidInput(
            f"Invalid volume_type provided: {volume_type.name} (requested type must be "
            "supported by this group)."
        )
    if group.status not in GROUP_PROCEED_STATUS:
        raise InvalidGroup(
            f"Originating group status must be one of '{', '.join(GROUP_PROCEED_STATUS)}' values"
        )
    source_backend = origin.host.split("#", 1)[0] if origin is not None and origin.host else None
    if source_backend is not None and group.backend and source_backend != group.backend:
        raise InvalidInput(f"The source of the volume is on another backend than group {group.id}.")
    return group


def refuse_member_delete(volume: Volume) -> None:
    """A volume in a group is deleted with its group (delete-volumes), never alone."""
    if volume.group_id is not None:
        raise InvalidVolume(IN_GROUP_NOT_DELETABLE)


def refuse_member_retype(volume: Volume) -> None:
    if volume.group_id is not None:
        raise InvalidVolume(IN_GROUP_NOT_RETYPABLE)


def refuse_group_snapshot_member_delete(snapshot: Snapshot, *, force: bool) -> None:
    """A group snapshot's member goes with its group snapshot, never alone."""
    if snapshot.group_snapshot_id is not None:
        status = "" if force else "status must be available or error and "
        raise InvalidSnapshot(f"Snapshot {status}must not be part of a group.")
