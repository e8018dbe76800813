"""Backups: the record, its statuses and the rules the API and the backup service share.

A backup is a copy of a volume's data (or of one of its snapshots) kept by the backup
service's store, whole (full) or as the blocks that changed since its parent (incremental).
Statuses and messages are Cinder's (``cinder/objects/fields.py`` BackupStatus).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from firebrick.domain.errors import FirebrickError, Invalid, InvalidInput, NotFound

CREATING: Final = "creating"
AVAILABLE: Final = "available"
DELETING: Final = "deleting"
DELETED: Final = "deleted"
ERROR: Final = "error"
ERROR_DELETING: Final = "error_deleting"
RESTORING: Final = "restoring"
ALL: Final = frozenset({CREATING, AVAILABLE, DELETING, DELETED, ERROR, ERROR_DELETING, RESTORING})
# What os-reset_status may set (Cinder's backup_actions schema).
RESETTABLE: Final = frozenset({AVAILABLE, ERROR})

# Volume and snapshot statuses while a backup reads them or a restore writes them.
VOLUME_BACKING_UP: Final = "backing-up"
VOLUME_RESTORING: Final = "restoring-backup"
SNAPSHOT_BACKING_UP: Final = "backing-up"

# The volume id Cinder gives an imported record until the backup service fills it in.
IMPORT_VOLUME_ID: Final = "00000000-0000-0000-0000-000000000000"

# Cinder's driver class names: what ``service`` holds and export records name.
SERVICES: Final = {
    "posix": "cinder.backup.drivers.posix.PosixBackupDriver",
    "s3": "cinder.backup.drivers.s3.S3BackupDriver",
    "ceph": "cinder.backup.drivers.ceph.CephBackupDriver",
}


class BackupNotFound(NotFound):
    def __init__(self, backup_id: str) -> None:
        super().__init__(f"Backup {backup_id} could not be found.")


class InvalidBackup(Invalid):
    def __init__(self, reason: str) -> None:
        super().__init__(f"Invalid backup: {reason}")


class ServiceUnavailable(FirebrickError):
    """No backup service is up (Cinder answers 503 ``ServiceNotFound``)."""

    code = 503

    def __init__(self, service: str = "cinder-backup") -> None:
        super().__init__(f"Service {service} could not be found.")


@dataclass
class Backup:
    id: str
    project_id: str
    user_id: str
    volume_id: str
    status: str
    size: int
    created_at: datetime
    name: str | None = None
    description: str | None = None
    container: str | None = None
    availability_zone: str | None = None
    host: str | None = None
    service: str | None = None
    service_metadata: str | None = None  # the store's object name prefix
    fail_reason: str | None = None
    object_count: int = 0
    parent_id: str | None = None
    num_dependent_backups: int = 0
    snapshot_id: str | None = None
    restore_volume_id: str | None = None
    temp_snapshot_id: str | None = None
    data_timestamp: datetime | None = None
    encryption_key_id: str | None = None
    updated_at: datetime | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def is_incremental(self) -> bool:
        return self.parent_id is not None

    @property
    def has_dependent_backups(self) -> bool:
        return self.num_dependent_backups > 0


def deltas(size: int, *, count: int = 1) -> dict[str, int]:
    """The quota usage ``count`` backups of ``size`` GiB add (-1: what a delete gives back)."""
    return {"backups": count, "backup_gigabytes": size * count}


def choose_parent(candidates: list[Backup], snapshot_created_at: datetime | None) -> Backup | None:
    """Cinder's parent of an incremental: the available backup with the latest data, and
    for a backup of a snapshot only one whose data is older than the snapshot."""
    usable = [
        b
        for b in candidates
        if b.status == AVAILABLE
        and b.data_timestamp is not None
        and (snapshot_created_at is None or b.data_timestamp < snapshot_created_at)
    ]
    return max(usable, key=lambda b: (b.data_timestamp, b.created_at), default=None)


# Export records ---------------------------------------------------------------------

# The fields an export record carries (Cinder's Backup.encode_record: the object's fields).
RECORD_FIELDS: Final = (
    "id", "user_id", "project_id", "volume_id", "display_name", "display_description",
    "container", "availability_zone", "service", "service_metadata", "size", "object_count",
    "parent_id", "num_dependent_backups", "snapshot_id", "data_timestamp", "created_at",
    "status", "host", "fail_reason", "encryption_key_id", "metadata",
)  # fmt: skip


def encode_record(backup: Backup, driver_info: dict[str, Any] | None = None) -> str:
    """Cinder's ``backup_url``: base64 of the record's JSON."""
    values: dict[str, Any] = {
        "id": backup.id, "user_id": backup.user_id, "project_id": backup.project_id,
        "volume_id": backup.volume_id, "display_name": backup.name,
        "display_description": backup.description, "container": backup.container,
        "availability_zone": backup.availability_zone, "service": backup.service,
        "service_metadata": backup.service_metadata, "size": backup.size,
        "object_count": backup.object_count, "parent_id": backup.parent_id,
        "num_dependent_backups": backup.num_dependent_backups,
        "snapshot_id": backup.snapshot_id,
        "data_timestamp": backup.data_timestamp.isoformat() if backup.data_timestamp else None,
        "created_at": backup.created_at.isoformat(), "status": backup.status,
        "host": backup.host, "fail_reason": backup.fail_reason,
        "encryption_key_id": backup.encryption_key_id, "metadata": dict(backup.metadata),
        "driver_info": driver_info or {},
    }  # fmt: skip
    return base64.b64encode(json.dumps(values).encode("utf-8")).decode("ascii")


def decode_record(backup_url: str) -> dict[str, Any]:
    """The record a ``backup_url`` holds; 400 when it is not one."""
    try:
        record = json.loads(base64.b64decode(backup_url.encode("ascii"), validate=True))
    except (ValueError, binascii.Error, UnicodeError, RecursionError):
        raise InvalidInput("Can't parse backup record.") from None
    if not isinstance(record, dict):
        raise InvalidInput("Can't parse backup record.")
    if "id" not in record:
        raise InvalidInput("Provided backup record is missing an id")
    if "size" not in record:
        raise InvalidInput("Provided backup record is missing size attribute")
    return record


def _iso(value: datetime | None) -> str | None:
    return value.replace(tzinfo=UTC).isoformat() if value else None


def backup_usage(backup: Backup, **extra: Any) -> dict[str, Any]:
    """Cinder's ``_usage_from_backup`` payload."""
    payload: dict[str, Any] = {
        "tenant_id": backup.project_id, "user_id": backup.user_id,
        "availability_zone": backup.availability_zone, "backup_id": backup.id,
        "host": backup.host, "display_name": backup.name,
        "created_at": _iso(backup.created_at), "status": backup.status,
        "volume_id": backup.volume_id, "size": backup.size,
        "service_metadata": backup.service_metadata, "service": backup.service,
        "fail_reason": backup.fail_reason, "parent_id": backup.parent_id,
        "num_dependent_backups": backup.num_dependent_backups,
        "snapshot_id": backup.snapshot_id,
    }  # fmt: skip
    payload.update(extra)
    return payload
