"""Notifications with Cinder's event types, payloads, publisher ids and priorities.

Every role calls ``Notifier.emit(publisher_id, event_type, payload, priority)``; where the
events go is configuration (Cinder's ``[oslo_messaging_notifications] driver``): the message
bus through oslo.messaging (``messagingv2``, ``messaging``), a log (``log``), nowhere
(``noop``), or, when ``driver`` is not set, ``notifications.jsonl`` under the state path
(``file``). Emitting never waits for the broker and never fails the operation, as in
Cinder.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from firebrick.config import NotificationOptions
from firebrick.context import current_request_id
from firebrick.domain.groups import Group, GroupSnapshot
from firebrick.domain.model import Snapshot, Volume
from firebrick.notifications.sinks import JsonLinesSink, LogSink, Sink

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
    """Sends each event to the sinks the configuration names (``Notifier(path)``: the
    JSON-lines file alone)."""

    def __init__(self, path: Path | None = None, *, sinks: Sequence[Sink] = ()) -> None:
        self._sinks: list[Sink] = [JsonLinesSink(path)] if path is not None else []
        self._sinks += sinks

    @classmethod
    def from_options(cls, options: NotificationOptions, path: Path) -> Notifier:
        """The sinks of ``[oslo_messaging_notifications] driver`` (``file``: ``path``)."""
        sinks: list[Sink] = []
        if "file" in options.drivers:
            sinks.append(JsonLinesSink(path))
        if "log" in options.drivers:
            sinks.append(LogSink())
        if options.to_bus:
            from firebrick.notifications.bus import BusSink

            sinks.append(BusSink(options))
        return cls(sinks=sinks)

    @property
    def sinks(self) -> tuple[Sink, ...]:
        return tuple(self._sinks)

    def emit(
        self, publisher_id: str, event_type: str, payload: dict[str, Any], priority: str = "INFO"
    ) -> None:
        if not self._sinks:
            return
        message = {
            "message_id": str(uuid.uuid4()),
            "publisher_id": publisher_id,
            "event_type": event_type,
            "priority": priority.upper(),
            "payload": payload,
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"),
        }
        request_id = current_request_id()
        for sink in self._sinks:
            try:
                sink.send(message, request_id)
            except Exception:
                LOG.exception("Failed to emit notification %s", event_type)
        LOG.info("%s %s %s", event_type, publisher_id, payload.get("volume_id", ""))

    def close(self) -> None:
        """Close every sink (the bus sink sends what it holds first); later events go
        nowhere."""
        sinks, self._sinks = self._sinks, []
        for sink in sinks:
            try:
                sink.close()
            except Exception:
                LOG.exception("Failed to close a notification sink")


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
