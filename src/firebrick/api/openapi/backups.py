"""What the OpenAPI document says about ``/backups`` (``api/routes/backups.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, TypeVar

from firebrick.api.backup_requests import SORT_KEYS
from firebrick.api.openapi.schemas import (
    BOOLEAN,
    LINKS,
    METADATA_VIEW,
    NAME,
    NULLABLE_UUID,
    STRING,
    TIMESTAMP,
    UUID,
    Schema,
    obj,
    param,
    wrapped,
)
from firebrick.api.validation import DB_MAX_INT, MAX_STRING

T = TypeVar("T")

_META: Final[Schema] = {
    "type": ["object", "null"],
    "propertyNames": {"pattern": "^[a-zA-Z0-9\\-_:. /]{1,255}$"},
    "additionalProperties": {"type": "string", "maxLength": MAX_STRING},
}
_CONTAINER: Final[Schema] = {
    "type": ["string", "null"], "maxLength": MAX_STRING, "pattern": "^[^/\\x00]",
    "description": "posix: a relative path without '..'; s3: a bucket name.",
}  # fmt: skip
BACKUP_CREATE: Final = wrapped("backup", obj(
    {"volume_id": UUID, "container": _CONTAINER, "description": NAME, "name": NAME,
     "incremental": BOOLEAN, "force": BOOLEAN, "snapshot_id": NULLABLE_UUID,
     "metadata": {**_META, "description": "From microversion 3.43."},
     "availability_zone": {**NAME, "description": "From microversion 3.51."}},
    ("volume_id",), additional=False,
))  # fmt: skip
BACKUP_UPDATE: Final = obj(
    {"backup": {"type": ["object", "null"], "additionalProperties": False, "properties": {
        "name": NAME, "description": NAME,
        "metadata": {**_META, "type": "object", "description": "From microversion 3.43."}}}},
    ("backup",), additional=False,
)  # fmt: skip
BACKUP_RESTORE: Final = obj(
    {"restore": {"type": ["object", "null"], "additionalProperties": False,
                 "properties": {"name": NAME, "volume_id": NULLABLE_UUID}}},
    ("restore",), additional=False,
)  # fmt: skip
BACKUP_IMPORT: Final = wrapped("backup-record", obj(
    {"backup_service": {"type": "string", "maxLength": MAX_STRING},
     "backup_url": {"type": "string", "minLength": 1}},
    ("backup_service", "backup_url"), additional=False,
))  # fmt: skip
BACKUP_ACTIONS: Final = {
    "anyOf": [
        obj({"os-reset_status": obj({"status": {"enum": ["available", "error"]}}, ("status",),
                                    additional=False)}, ("os-reset_status",), additional=False),
        obj({"os-force_delete": {"type": ["object", "null"], "maxProperties": 0}},
            ("os-force_delete",), additional=False),
    ],
    "description": "Exactly one of: os-reset_status, os-force_delete (admin).",
}  # fmt: skip

BACKUP_SUMMARY: Final = obj({"id": UUID, "name": NAME, "links": LINKS}, ("id", "name", "links"))
BACKUP_VIEW: Final = obj(
    {"id": UUID, "status": STRING, "size": {"type": "integer"},
     "object_count": {"type": "integer"}, "availability_zone": NAME, "container": NAME,
     "created_at": TIMESTAMP, "updated_at": TIMESTAMP, "name": NAME, "description": NAME,
     "fail_reason": {"type": ["string", "null"]}, "volume_id": UUID, "links": LINKS,
     "is_incremental": {"type": "boolean"}, "has_dependent_backups": {"type": "boolean"},
     "snapshot_id": {"type": ["string", "null"]}, "data_timestamp": TIMESTAMP,
     "metadata": METADATA_VIEW},
    ("id", "status", "size", "object_count", "created_at", "name", "volume_id", "links"),
)  # fmt: skip
RESTORE_VIEW: Final = wrapped("restore", obj(
    {"backup_id": UUID, "volume_id": UUID, "volume_name": NAME},
    ("backup_id", "volume_id", "volume_name"),
))  # fmt: skip
EXPORT_VIEW: Final = wrapped(
    "backup-record",
    obj({"backup_service": STRING, "backup_url": STRING}, ("backup_service", "backup_url")),
)


def _list(item: Schema) -> Schema:
    return obj({"backups": {"type": "array", "items": item}, "backups_links": LINKS,
                "count": {"type": "integer", "minimum": 0}}, ("backups",))  # fmt: skip


_SORT_ITEM = "(" + "|".join(sorted(SORT_KEYS)) + ")(:(asc|desc))?"
BACKUP_QUERY: Final = (
    param("limit", {"type": "integer", "minimum": 0}),
    param("marker", STRING, "The id of the last backup of the previous page."),
    param("offset", {"type": "integer", "minimum": 0, "maximum": DB_MAX_INT}),
    param("sort", {"type": "string", "pattern": f"^{_SORT_ITEM}(,{_SORT_ITEM})*$"}),
    param("sort_key", {"enum": sorted(SORT_KEYS)}),
    param("sort_dir", {"enum": ["asc", "desc"]}),
    param("with_count", {"type": "boolean"}, "From microversion 3.45."),
    param("all_tenants", {"type": "boolean"}, "Admin only."),
    param("name", STRING),
    param("status", STRING),
    param("volume_id", STRING),
)  # fmt: skip


def operations(Op: Callable[..., T]) -> dict[tuple[str, str], T]:
    """The operations, keyed as ``operations.OPERATIONS``, built with its ``Op``."""
    item = "/backups/{backup_id}"
    return {
        ("GET", "/backups"): Op({200: _list(BACKUP_SUMMARY)}, query=BACKUP_QUERY),
        ("GET", "/backups/detail"): Op({200: _list(BACKUP_VIEW)}, query=BACKUP_QUERY),
        ("POST", "/backups"): Op({202: wrapped("backup", BACKUP_SUMMARY)}, BACKUP_CREATE,
                                 description="In-use volumes need force; 413 over the "
                                             "backups or backup_gigabytes quota."),
        ("POST", "/backups/import_record"): Op({201: wrapped("backup", BACKUP_SUMMARY)},
                                               BACKUP_IMPORT, faults=(503,)),
        ("GET", item): Op({200: wrapped("backup", BACKUP_VIEW)}),
        ("PUT", item): Op({200: wrapped("backup", BACKUP_SUMMARY)}, BACKUP_UPDATE,
                          description="From microversion 3.9."),
        ("DELETE", item): Op({202: None}, faults=(503,)),
        ("POST", item + "/restore"): Op({202: RESTORE_VIEW}, BACKUP_RESTORE, faults=(503,),
                                        description="Onto volume_id, or into a new volume."),
        ("GET", item + "/export_record"): Op({200: EXPORT_VIEW}),
        ("POST", item + "/action"): Op({202: None}, BACKUP_ACTIONS, faults=(503,)),
    }  # fmt: skip
