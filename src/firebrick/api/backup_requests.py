"""Backup request bodies and list queries, read with Cinder's schemas and messages
(``cinder/api/schemas/backups.py``, ``backup_actions``; parameter types as Cinder's)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from firebrick.api.listing import (
    DB_MAX_INT,
    DEFAULT_SORT,
    SUPPORT_COUNT_INFO,
    TIME_COMPARISON_FILTER,
    parse_limit,
    parse_offset,
    parse_sort,
    strict_bool,
)
from firebrick.api.listing import _time_filter as time_filter
from firebrick.api.microversion import APIVersion
from firebrick.api.validation import MAX_STRING, is_uuid_like
from firebrick.db.backups import COLUMNS, INTEGER_COLUMNS, TIME_COLUMNS
from firebrick.domain.backups import RESETTABLE
from firebrick.domain.errors import Invalid, InvalidInput

BACKUP_UPDATE: Final = APIVersion(3, 9)
BACKUP_PROJECT: Final = APIVersion(3, 18)
RESOURCE_FILTER: Final = APIVersion(3, 31)
BACKUP_SORT_NAME: Final = APIVersion(3, 37)
BACKUP_METADATA: Final = APIVersion(3, 43)
BACKUP_AZ: Final = APIVersion(3, 51)
BACKUP_PROJECT_USER_ID: Final = APIVersion(3, 56)
ENCRYPTION_KEY_ID_IN_DETAILS: Final = APIVersion(3, 64)

# Cinder's parameter_types.boolean.
_BOOLEANS: Final = {
    **dict.fromkeys(["True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes", "y",
                     "t"], True),
    **dict.fromkeys(["False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no", "n",
                     "f"], False),
}  # fmt: skip
_SPEC_KEY: Final = re.compile(r"^[a-zA-Z0-9-_:. /]{1,255}$")
# Cinder's default resource_filters.json: what a non-admin may filter backups by.
USER_FILTERS: Final = frozenset({"name", "status", "volume_id"})
_NOT_FILTERS: Final = frozenset({"limit", "marker", "offset", "sort", "sort_key", "sort_dir"})
SORT_KEYS: Final = frozenset(COLUMNS) | {"name"}


@dataclass(frozen=True)
class BackupCreateRequest:
    volume_id: str
    container: str | None = None
    name: str | None = None
    description: str | None = None
    incremental: bool = False
    force: bool = False
    snapshot_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    availability_zone: str | None = None


@dataclass(frozen=True)
class BackupListQuery:
    limit: int
    marker: str | None = None
    offset: int = 0
    sort: list[tuple[str, str]] = field(default_factory=lambda: [DEFAULT_SORT])
    filters: dict[str, Any] = field(default_factory=dict)
    with_count: bool = False
    all_tenants: bool = False


def _field_error(name: str, value: object, problem: str) -> Invalid:
    return Invalid(f"Invalid input for field/attribute {name}. Value: {value}. {problem}")


def _wrapped(body: object, key: str, allowed: frozenset[str], *, nullable: bool = False
             ) -> dict[str, Any]:  # fmt: skip
    if not isinstance(body, dict):
        raise Invalid(f"{body!r} is not of type 'object'")
    if key not in body:
        raise Invalid(f"'{key}' is a required property")
    extra = sorted(k for k in body if k != key)
    if extra:
        raise Invalid(_unexpected(extra))
    inner = body[key]
    if inner is None and nullable:
        return {}
    if not isinstance(inner, dict):
        raise _field_error(key, inner, f"{inner!r} is not of type 'object'")
    extra = sorted(k for k in inner if k not in allowed)
    if extra:
        raise _field_error(key, inner, _unexpected(extra))
    return inner


def _unexpected(keys: list[str]) -> str:
    names = ", ".join(repr(k) for k in keys)
    verb = "was" if len(keys) == 1 else "were"
    return f"Additional properties are not allowed ({names} {verb} unexpected)"


def _string(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _field_error(key, value, f"{value!r} is not of type 'string', 'null'")
    if len(value) > MAX_STRING:
        raise _field_error(key, value, f"{value!r} is too long")
    if "\0" in value:
        raise _field_error(key, value, "NUL characters are not allowed")
    return value


def _boolean(obj: Mapping[str, Any], key: str) -> bool:
    value = obj.get(key, False)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in _BOOLEANS:
        return _BOOLEANS[value]
    raise _field_error(key, value, f"{value!r} is not one of the boolean values")


def _uuid(obj: Mapping[str, Any], key: str, *, nullable: bool) -> str | None:
    value = obj.get(key)
    if value is None and nullable:
        return None
    if not isinstance(value, str) or not is_uuid_like(value):
        raise _field_error(key, value, f"{value!r} is not a 'uuid'")
    return value


def _metadata(obj: Mapping[str, Any], key: str, *, nullable: bool) -> dict[str, str]:
    value = obj.get(key)
    if value is None and nullable:
        return {}
    if not isinstance(value, dict):
        raise _field_error(key, value, f"{value!r} is not of type 'object'")
    for k, v in value.items():
        if not _SPEC_KEY.match(k):
            raise _field_error(key, value, f"Additional properties are not allowed ({k!r} was "
                                           "unexpected)")  # fmt: skip
        if not isinstance(v, str) or len(v) > MAX_STRING:
            raise _field_error(k, v, f"{v!r} is not a string of at most 255 characters")
    return dict(value)


def _clean(value: str | None) -> str | None:
    """Cinder's clean_name_and_description: surrounding blanks go."""
    return value.strip() if isinstance(value, str) else value


def parse_create(body: object, version: APIVersion) -> BackupCreateRequest:
    allowed = {"volume_id", "container", "description", "incremental", "force", "name",
               "snapshot_id"}  # fmt: skip
    if version >= BACKUP_METADATA:
        allowed.add("metadata")
    if version >= BACKUP_AZ:
        allowed.add("availability_zone")
    backup = _wrapped(body, "backup", frozenset(allowed))
    if "volume_id" not in backup:
        raise _field_error("backup", backup, "'volume_id' is a required property")
    volume_id = _uuid(backup, "volume_id", nullable=False)
    assert volume_id is not None
    container = _string(backup, "container")
    if container is not None and (
        container.startswith("/") or ".." in container.split("/") or not container.strip()
    ):
        raise InvalidInput(f"Invalid container name {container!r}.")
    return BackupCreateRequest(
        volume_id=volume_id,
        container=container,
        name=_clean(_string(backup, "name")),
        description=_clean(_string(backup, "description")),
        incremental=_boolean(backup, "incremental"),
        force=_boolean(backup, "force"),
        snapshot_id=_uuid(backup, "snapshot_id", nullable=True),
        metadata=_metadata(backup, "metadata", nullable=True) if "metadata" in allowed else {},
        availability_zone=_string(backup, "availability_zone"),
    )


def parse_update(body: object, version: APIVersion) -> dict[str, Any]:
    """The changes: ``display_name``, ``display_description``, ``metadata`` (3.43)."""
    allowed = {"name", "description"} | ({"metadata"} if version >= BACKUP_METADATA else set())
    backup = _wrapped(body, "backup", frozenset(allowed), nullable=True)
    changes: dict[str, Any] = {}
    if "name" in backup:
        changes["display_name"] = _clean(_string(backup, "name"))
    if "description" in backup:
        changes["display_description"] = _clean(_string(backup, "description"))
    if "metadata" in backup:
        changes["metadata"] = _metadata(backup, "metadata", nullable=False)
    return changes


def parse_restore(body: object) -> tuple[str | None, str | None]:
    """(volume_id, name) of ``{"restore": {...}}`` (or ``{"restore": null}``)."""
    restore = _wrapped(body, "restore", frozenset({"name", "volume_id"}), nullable=True)
    return _uuid(restore, "volume_id", nullable=True), _string(restore, "name")


def parse_import(body: object) -> tuple[str, str]:
    record = _wrapped(body, "backup-record", frozenset({"backup_service", "backup_url"}))
    for key in ("backup_service", "backup_url"):
        if key not in record:
            raise _field_error("backup-record", "...", f"'{key}' is a required property")
    service, url = record["backup_service"], record["backup_url"]
    if not isinstance(service, str) or len(service) > MAX_STRING:
        raise _field_error("backup_service", service, "not a string of at most 255 characters")
    if not isinstance(url, str) or not url:
        raise _field_error("backup_url", "...", "not a non-empty base64 string")
    return service, url


def parse_reset_status(body: object) -> str:
    if not isinstance(body, dict) or "status" not in body:
        raise Invalid("'status' is a required property")
    extra = sorted(k for k in body if k != "status")
    if extra:
        raise Invalid(_unexpected(extra))
    status = body["status"]
    if not isinstance(status, str) or status.lower() not in RESETTABLE:
        raise _field_error("status", status, f"{status!r} is not one of ['available', 'error']")
    return status.lower()


def parse_list(
    params: Mapping[str, str], version: APIVersion, *, is_admin: bool, max_limit: int
) -> BackupListQuery:
    remaining = dict(params)
    limit = parse_limit(remaining.get("limit"), max_limit)
    marker = remaining.get("marker")
    offset = parse_offset(remaining.get("offset", "0"))
    sort = parse_sort(remaining, SORT_KEYS)
    # Cinder reads "name" as display_name (BACKUP_SORT_NAME, 3.37); earlier it was no key.
    sort = [("display_name" if k == "name" else k, d) for k, d in sort]
    for key in _NOT_FILTERS:
        remaining.pop(key, None)
    with_count = False
    if version >= SUPPORT_COUNT_INFO and "with_count" in remaining:
        with_count = strict_bool("with_count", remaining.pop("with_count"))
    all_tenants = False
    if "all_tenants" in remaining:
        raw = remaining.pop("all_tenants")
        if raw.strip().lower() not in {"1", "0", "t", "f", "true", "false", "on", "off", "y",
                                       "n", "yes", "no"}:  # fmt: skip
            raise InvalidInput(f"all_tenants must be a boolean, got '{raw}'.")
        all_tenants = is_admin and strict_bool("all_tenants", raw)
    if not all_tenants:
        remaining.pop("project_id", None)
    return BackupListQuery(limit=limit, marker=marker, offset=offset, sort=sort,
                           filters=_filters(remaining, version, is_admin),
                           with_count=with_count, all_tenants=all_tenants)  # fmt: skip


def _filters(params: dict[str, str], version: APIVersion, is_admin: bool) -> dict[str, Any]:
    if any(not key.isascii() for key in params):
        raise Invalid("Filter keys can only contain ASCII characters.")
    known = frozenset(COLUMNS) | {"name"}
    allowed = known if is_admin else USER_FILTERS
    unknown = [k for k in params if k not in allowed]
    if unknown:
        if version >= RESOURCE_FILTER:
            raise Invalid(f"Invalid filters {','.join(unknown)} are found in query options.")
        params = {k: v for k, v in params.items() if k in allowed}
    out: dict[str, Any] = {}
    for key, value in params.items():
        column = "display_name" if key == "name" else key
        if column in INTEGER_COLUMNS:
            try:
                out[column] = int(value)
            except ValueError:
                raise InvalidInput(f"'{key} = {value}'") from None
            if abs(out[column]) > DB_MAX_INT:
                raise InvalidInput(f"'{key} = {value}'")
        elif column in TIME_COLUMNS:
            if version < TIME_COMPARISON_FILTER:
                raise InvalidInput(f"'{key} = {value}'")
            out[column] = time_filter(key, value)
        else:
            out[column] = value
    return out
