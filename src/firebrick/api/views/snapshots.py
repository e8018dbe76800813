"""The snapshot object of each microversion (api-v3.md §7)."""

from __future__ import annotations

from typing import Any

from firebrick.api.microversion import APIVersion
from firebrick.api.views.volumes import timestamp
from firebrick.domain import statuses
from firebrick.domain.model import Snapshot

GROUP_SNAPSHOT = APIVersion(3, 14)
SNAPSHOT_USER_ID = APIVersion(3, 41)
CONSUMES_QUOTA = APIVersion(3, 65)


def snapshot(s: Snapshot, *, version: APIVersion, extended: bool) -> dict[str, Any]:
    """``extended`` (show and detail list) adds the os-extended-snapshot-attributes keys."""
    body: dict[str, Any] = {
        "id": s.id,
        "created_at": timestamp(s.created_at),
        "updated_at": timestamp(s.updated_at),
        "name": s.name,
        "description": s.description,
        "volume_id": s.volume_id,
        "status": statuses.shown(s.status),
        "size": s.volume_size,
        "metadata": dict(s.metadata),
    }
    if version >= GROUP_SNAPSHOT:
        body["group_snapshot_id"] = s.group_snapshot_id
    if version >= SNAPSHOT_USER_ID:
        body["user_id"] = s.user_id
    if version >= CONSUMES_QUOTA:
        body["consumes_quota"] = True
    if extended:
        body["os-extended-snapshot-attributes:project_id"] = s.project_id
        body["os-extended-snapshot-attributes:progress"] = s.progress
    return body
