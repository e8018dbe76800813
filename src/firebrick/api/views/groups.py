"""Group type, group and group snapshot views: Cinder's keys per microversion."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from firebrick.api.microversion import APIVersion
from firebrick.api.views.volumes import timestamp
from firebrick.domain.groups import Group, GroupSnapshot, GroupType

GROUP_SNAPSHOTS: Final = APIVersion(3, 14)
GROUP_VOLUME_LIST: Final = APIVersion(3, 25)
GROUP_REPLICATION: Final = APIVersion(3, 38)
GROUP_PROJECT_ID: Final = APIVersion(3, 58)


def group_type(t: GroupType, *, with_specs: bool) -> dict[str, Any]:
    """``with_specs``: Cinder's ``group:access_group_types_specs`` (admins)."""
    body: dict[str, Any] = {
        "id": t.id,
        "name": t.name,
        "description": t.description,
        "is_public": t.is_public,
    }
    if with_specs:
        body["group_specs"] = dict(t.group_specs)
    return body


def group_summary(g: Group) -> dict[str, Any]:
    return {"id": g.id, "name": g.name}


def group_detail(
    g: Group,
    *,
    version: APIVersion,
    volume_ids: Sequence[str] | None = None,
    show_project: bool = False,
) -> dict[str, Any]:
    """``volume_ids``: the members, shown from 3.25 when the caller asked (``list_volume``);
    ``show_project``: ``group:group_project_attribute`` (admins), from 3.58."""
    body: dict[str, Any] = {
        "id": g.id,
        "status": g.status,
        "availability_zone": g.availability_zone,
        "created_at": timestamp(g.created_at),
        "name": g.name,
        "description": g.description,
        "group_type": g.group_type_id,
        "volume_types": list(g.volume_type_ids),
    }
    if version >= GROUP_SNAPSHOTS:
        body["group_snapshot_id"] = g.group_snapshot_id
        body["source_group_id"] = g.source_group_id
    if version >= GROUP_VOLUME_LIST and volume_ids is not None:
        body["volumes"] = list(volume_ids)
    if version >= GROUP_REPLICATION:
        body["replication_status"] = g.replication_status
    if version >= GROUP_PROJECT_ID and show_project:
        body["project_id"] = g.project_id
    return body


def group_snapshot_summary(s: GroupSnapshot) -> dict[str, Any]:
    """The create answer; lists leave ``group_type_id`` out."""
    return {"id": s.id, "name": s.name, "group_type_id": s.group_type_id}


def group_snapshot_detail(
    s: GroupSnapshot, *, version: APIVersion, show_project: bool = False
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": s.id,
        "group_id": s.group_id,
        "group_type_id": s.group_type_id,
        "status": s.status,
        "created_at": timestamp(s.created_at),
        "name": s.name,
        "description": s.description,
    }
    if version >= GROUP_PROJECT_ID and show_project:
        body["project_id"] = s.project_id
    return body
