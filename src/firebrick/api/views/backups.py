"""Backup views: Cinder's summary, detail, restore and export bodies, keys by microversion.

3.43 adds ``metadata`` to the detail, 3.64 ``encryption_key_id`` (only when the backup has
one), 3.18 ``os-backup-project-attr:project_id`` and 3.56 ``user_id`` for callers that
policy ``backup:backup_project_attribute`` allows (admins by default).
"""

from __future__ import annotations

from typing import Any

from firebrick.api.backup_requests import (
    BACKUP_METADATA,
    BACKUP_PROJECT,
    BACKUP_PROJECT_USER_ID,
    ENCRYPTION_KEY_ID_IN_DETAILS,
)
from firebrick.api.deps import Call
from firebrick.api.views.volumes import links, timestamp
from firebrick.domain.backups import Backup


def _links(b: Backup, c: Call) -> list[dict[str, str]]:
    return links(b.id, base_url=c.base_url, project_id=c.url_project_id or c.ctx.project_id,
                 project_in_url=c.project_in_url, collection="backups")  # fmt: skip


def summary(b: Backup, c: Call) -> dict[str, Any]:
    return {"id": b.id, "name": b.name, "links": _links(b, c)}


def detail(b: Backup, c: Call, *, project_attribute: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": b.id, "status": b.status, "size": b.size, "object_count": b.object_count,
        "availability_zone": b.availability_zone, "container": b.container,
        "created_at": timestamp(b.created_at), "updated_at": timestamp(b.updated_at),
        "name": b.name, "description": b.description, "fail_reason": b.fail_reason,
        "volume_id": b.volume_id, "links": _links(b, c),
        "is_incremental": b.is_incremental, "has_dependent_backups": b.has_dependent_backups,
        "snapshot_id": b.snapshot_id, "data_timestamp": timestamp(b.data_timestamp),
    }  # fmt: skip
    if c.version >= BACKUP_METADATA:
        body["metadata"] = dict(b.metadata)
    if c.version >= ENCRYPTION_KEY_ID_IN_DETAILS and b.encryption_key_id:
        body["encryption_key_id"] = b.encryption_key_id
    if project_attribute and c.version >= BACKUP_PROJECT:
        body["os-backup-project-attr:project_id"] = b.project_id
    if project_attribute and c.version >= BACKUP_PROJECT_USER_ID:
        body["user_id"] = b.user_id
    return body


def restore_summary(backup_id: str, volume_id: str, volume_name: str | None) -> dict[str, Any]:
    """Tempest's schema wants a string: an unnamed volume's name is "" (Cinder's None)."""
    return {"restore": {"backup_id": backup_id, "volume_id": volume_id,
                        "volume_name": volume_name or ""}}  # fmt: skip


def list_body(
    items: list[dict[str, Any]], next_url: str | None, count: int | None
) -> dict[str, Any]:
    body: dict[str, Any] = {"backups": items}
    if next_url is not None:
        body["backups_links"] = [{"rel": "next", "href": next_url}]
    if count is not None:
        body["count"] = count
    return body
