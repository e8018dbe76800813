"""Notifications with Cinder's event types and payloads, kept as JSON lines.

Every event goes to ``notifications.jsonl`` under the state path (where tests and operators
read them) and to the ``firebrick.notifications`` log. Failing to emit never fails the
operation, as in Cinder.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from firebrick.domain.groups import Group, GroupSnapshot
from firebrick.domain.model import Snapshot, Volume

LOG = logging.getLogger("firebrick.notifications")


def _iso(value: datetime | None) -> str:
    stamp = value or datetime.now(UTC).replace(tzinfo=None)
    return stamp.replace(tzinfo=UTC).isoformat()


def volume_usage(volume: Volume, **extra: Any) -> dict[str, Any]:
    """Cinder's ``_usage_from_volume`` payload."""
    payload: dict[str, Any] = {
        "tenant_id": volume.project_id,
        "user_id": volume.user_id,
        "host": volume.host,
        "availability_zone": volume.availability_zone,
        "volume_id": volume.id,
        "volume_type": volume.volume_type_id,
        "display_name": volume.name,
        "launched_at": _iso(volume.launched_at),
        "created_at": _iso(volume.created_at),
        "status": "deleting" if volume.status == "error_managing_deleting" else volume.status,
        "snapshot_id": volume.snapshot_id,
        "size": volume.size,
        "replication_status": volume.replication_status,
        "replication_extended_status": None,
        "replication_driver_data": None,
        "metadata": [{"key": k, "value": v} for k, v in volume.metadata.items()],
        "volume_attachment": [],
    }
    payload.update(extra)
    return payload


class Notifier:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115

    def emit(
        self, publisher_id: str, event_type: str, payload: dict[str, Any], priority: str = "INFO"
    ) -> None:
        message = {
            "message_id": str(uuid.uuid4()),
            "publisher_id": publisher_id,
            "event_type": event_type,
            "priority": priority,
            "payload": payload,
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"),
        }
        try:
            line = json.dumps(message, default=str)
            with self._lock:
                self._file.write(line + "\n")
            LOG.info("%s %s %s", event_type, publisher_id, payload.get("volume_id", ""))
        except Exception:
            LOG.exception("Failed to emit notification %s", event_type)

    def close(self) -> None:
        with self._lock:
            self._file.close()


def snapshot_usage(
    snapshot: Snapshot, availability_zone: str | None, **extra: Any
) -> dict[str, Any]:
    """Cinder's ``_usage_from_snapshot`` payload."""
    payload: dict[str, Any] = {
        "tenant_id": snapshot.project_id,
        "user_id": snapshot.user_id,
        "availability_zone": availability_zone,
        "volume_id": snapshot.volume_id,
        "volume_size": snapshot.volume_size,
        "snapshot_id": snapshot.id,
        "display_name": snapshot.name,
        "created_at": _iso(snapshot.created_at),
        "status": snapshot.status,
        "deleted": "",
        "metadata": str(snapshot.metadata),
    }
    payload.update(extra)
    return payload


def group_usage(group: Group, **extra: Any) -> dict[str, Any]:
    """Cinder's ``_usage_from_group`` payload."""
    payload: dict[str, Any] = {
        "tenant_id": group.project_id,
        "user_id": group.user_id,
        "availability_zone": group.availability_zone,
        "group_id": group.id,
        "group_type": group.group_type_id,
        "name": group.name,
        "created_at": _iso(group.created_at),
        "status": group.status,
    }
    payload.update(extra)
    return payload


def group_snapshot_usage(group_snapshot: GroupSnapshot, **extra: Any) -> dict[str, Any]:
    """Cinder's ``_usage_from_group_snapshot`` payload."""
    payload: dict[str, Any] = {
        "tenant_id": group_snapshot.project_id,
        "user_id": group_snapshot.user_id,
        "group_snapshot_id": group_snapshot.id,
        "name": group_snapshot.name,
        "group_id": group_snapshot.group_id,
        "group_type": group_snapshot.group_type_id,
        "created_at": _iso(group_snapshot.created_at),
        "status": group_snapshot.status,
    }
    payload.update(extra)
    return payload
