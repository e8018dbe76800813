"""Request-body validation for volume create/update, with Cinder's rules and messages.

Cinder validates these bodies with JSON schemas chosen by microversion (base, +group_id at
3.13, +backup_id at 3.47, no unknown keys from 3.53); the checks here follow those schemas
and the controller code behind them, and raise domain errors the fault layer maps to 400.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from firebrick.api.microversion import APIVersion
from firebrick.domain.errors import Invalid, InvalidInput

GROUP_VOLUME: Final = APIVersion(3, 13)
VOLUME_CREATE_FROM_BACKUP: Final = APIVersion(3, 47)
SCHEMA_CHANGES: Final = APIVersion(3, 53)

DB_MAX_INT: Final = 2**31 - 1
MAX_STRING: Final = 255
SCHEDULER_HINTS_KEY: Final = "OS-SCH-HNT:scheduler_hints"

_CREATE_KEYS: Final = frozenset(
    {
        "name", "description", "display_name", "display_description", "volume_type",
        "metadata", "snapshot_id", "source_volid", "consistencygroup_id", "size",
        "availability_zone", "multiattach", "image_id", "imageRef", "scheduler_hints",
    }
)  # fmt: skip
_UPDATE_KEYS: Final = frozenset(
    {"name", "description", "display_name", "display_description", "metadata"}
)
_TRUE_STRINGS: Final = frozenset({"1", "t", "true", "on", "y", "yes"})
_FALSE_STRINGS: Final = frozenset({"0", "f", "false", "off", "n", "no"})

MULTIATTACH_REMOVED: Final = (
    "multiattach parameter has been removed. The default behavior is to use multiattach "
    "enabled volume types. Contact your administrator to create a multiattach enabled "
    "volume type and use it to create multiattach volumes."
)


@dataclass(frozen=True)
class VolumeCreateRequest:
    """A validated ``POST /volumes`` body; names are already stripped and de-aliased."""

    size: int | None = None
    name: str | None = None
    description: str | None = None
    volume_type: str | None = None  # name or id, not yet looked up; None = default type
    availability_zone: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    snapshot_id: str | None = None
    source_volid: str | None = None
    image_ref: str | None = None
    scheduler_hints: dict[str, Any] = field(default_factory=dict)
    consistencygroup_id: str | None = None
    group_id: str | None = None
    backup_id: str | None = None
    multiattach: bool = False


@dataclass(frozen=True)
class VolumeUpdateRequest:
    """A validated ``PUT /volumes/{id}`` body; only fields in ``provided`` were sent."""

    name: str | None = None
    description: str | None = None
    metadata: dict[str, str] | None = None
    provided: frozenset[str] = frozenset()

    def changes(self) -> dict[str, Any]:
        """The fields to write, keyed ``name``/``description``/``metadata``."""
        values: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "metadata": self.metadata,
        }
        return {k: v for k, v in values.items() if k in self.provided}


NUL_REJECTED: Final = "Invalid input received: NUL characters are not allowed."


def parse_json(raw: bytes) -> object:
    """Decode a request body; anything that is not UTF-8 JSON is a 400.

    So is a NUL character in any string (``\\u0000``): PostgreSQL cannot store one.
    """
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # [[[[... nested too deep
        raise Invalid("Malformed request body") from None
    if b"\\u0000" in raw and _has_nul(body):
        raise Invalid(NUL_REJECTED)
    return body


def _has_nul(value: object) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def parse_volume_create(body: object, version: APIVersion) -> VolumeCreateRequest:
    outer, volume = _resource(body, "volume")
    allowed = set(_CREATE_KEYS)
    if version >= GROUP_VOLUME:
        allowed.add("group_id")
    if version >= VOLUME_CREATE_FROM_BACKUP:
        allowed.add("backup_id")
    if version >= SCHEMA_CHANGES:
        _reject_unexpected(volume, allowed)

    if _bool_value(volume, "multiattach"):
        raise Invalid(MULTIATTACH_REMOVED)

    image_ref = _optional_string(volume, "imageRef")
    if image_ref is None:
        image_ref = _optional_string(volume, "image_id")
    snapshot_id = _optional_uuid(volume, "snapshot_id")
    source_volid = _optional_uuid(volume, "source_volid")
    backup_id = _optional_uuid(volume, "backup_id") if "backup_id" in allowed else None
    _check_exclusive(
        backup=backup_id, imageRef=image_ref, snapshot=snapshot_id, source_volume=source_volid
    )

    hints = outer.get(SCHEDULER_HINTS_KEY, volume.get("scheduler_hints"))
    if hints is not None and not isinstance(hints, dict):
        raise _type_error(SCHEDULER_HINTS_KEY, hints, "object", "null")

    return VolumeCreateRequest(
        size=_size(volume.get("size")),
        name=_name(volume, "name", "display_name"),
        description=_name(volume, "description", "display_description"),
        volume_type=_optional_string(volume, "volume_type") or None,
        availability_zone=_optional_string(volume, "availability_zone", MAX_STRING),
        metadata=_metadata(volume.get("metadata")),
        snapshot_id=snapshot_id,
        source_volid=source_volid,
        image_ref=image_ref,
        scheduler_hints=dict(hints or {}),
        consistencygroup_id=_optional_uuid(volume, "consistencygroup_id"),
        group_id=_optional_uuid(volume, "group_id") if "group_id" in allowed else None,
        backup_id=backup_id,
        multiattach=False,
    )


def parse_volume_update(body: object, version: APIVersion) -> VolumeUpdateRequest:
    _, volume = _resource(body, "volume")
    if version >= SCHEMA_CHANGES:
        if not volume:
            raise Invalid(
                f"Invalid input for field/attribute volume. Value: {volume}. "
                f"{volume} does not have enough properties"
            )
        _reject_unexpected(volume, _UPDATE_KEYS)
    provided: set[str] = set()
    if "name" in volume or "display_name" in volume:
        provided.add("name")
    if "description" in volume or "display_description" in volume:
        provided.add("description")
    metadata: dict[str, str] | None = None
    if "metadata" in volume:
        provided.add("metadata")
        # A null metadata replaces everything with nothing.
        metadata = _metadata(volume["metadata"])
    return VolumeUpdateRequest(
        name=_name(volume, "name", "display_name"),
        description=_name(volume, "description", "display_description"),
        metadata=metadata,
        provided=frozenset(provided),
    )


def _resource(body: object, key: str) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """The body and its one resource object, e.g. ``{"volume": {...}}``."""
    if not isinstance(body, dict) or key not in body:
        raise Invalid(f"Missing required element '{key}' in request body.")
    inner = body[key]
    if not isinstance(inner, dict):
        raise _type_error(key, inner, "object")
    return body, inner


def _reject_unexpected(obj: Mapping[str, Any], allowed: Iterable[str]) -> None:
    extra = sorted(set(obj) - set(allowed))
    if not extra:
        return
    names = ", ".join(repr(k) for k in extra)
    verb = "was" if len(extra) == 1 else "were"
    raise Invalid(f"Additional properties are not allowed ({names} {verb} unexpected)")


def _type_error(name: str, value: object, *types: str) -> Invalid:
    expected = ", ".join(repr(t) for t in types)
    return Invalid(
        f"Invalid input for field/attribute {name}. Value: {value!r}. "
        f"{value!r} is not of type {expected}"
    )


def _optional_string(obj: Mapping[str, Any], key: str, max_length: int | None = None) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _type_error(key, value, "string", "null")
    if max_length is not None and len(value) > max_length:
        raise InvalidInput(f"{key} has {len(value)} characters, more than {max_length}.")
    return value


def _optional_uuid(obj: Mapping[str, Any], key: str) -> str | None:
    value = _optional_string(obj, key)
    if value is not None and not is_uuid_like(value):
        raise Invalid(
            f"Invalid input for field/attribute {key}. Value: {value}. '{value}' is not a 'uuid'"
        )
    return value


def is_uuid_like(value: str) -> bool:
    """oslo's rule: parses as a UUID and is nothing but its hex (hyphens optional)."""
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        return False
    return parsed.hex == value.replace("-", "").lower()


def _name(obj: Mapping[str, Any], key: str, alias: str) -> str | None:
    """``key`` wins over its legacy ``display_*`` alias; surrounding blanks are dropped."""
    chosen = key if key in obj else alias
    value = _optional_string(obj, chosen, MAX_STRING)
    return value.strip() if value is not None else None


def _size(value: object) -> int | None:
    if value is None:
        return None
    size: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    elif isinstance(value, str) and value.isascii() and value.isdigit():
        size = int(value)
    if size is None or not 0 < size <= DB_MAX_INT:
        raise InvalidInput(f"Volume size '{value}' must be an integer and greater than 0")
    return size


def _metadata(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _type_error("metadata", value, "object", "null")
    result: dict[str, str] = {}
    for k, v in value.items():
        if not isinstance(v, str):
            raise _type_error(k, v, "string")
        if not k:
            raise Invalid("Invalid metadata: Metadata key:  has 0 characters, less than 1.")
        if len(k) > MAX_STRING:
            raise Invalid(
                f"Invalid metadata size: Metadata property key {k} greater than 255 characters."
            )
        if len(v) > MAX_STRING:
            raise Invalid(
                f"Invalid metadata size: Metadata property key {k} value greater than "
                "255 characters."
            )
        result[k] = v
    return result


def _bool_value(obj: Mapping[str, Any], key: str) -> bool:
    """A JSON boolean or one of oslo's boolean strings; absent or null is False."""
    value = obj.get(key)
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE_STRINGS | _FALSE_STRINGS:
        return value.strip().lower() in _TRUE_STRINGS
    raise _type_error(key, value, "boolean", "string", "null")


def _check_exclusive(**options: object) -> None:
    given = [k for k, v in options.items() if v is not None]
    if len(given) > 1:
        names = ", ".join(sorted(k.replace("_", " ") for k in options))
        raise InvalidInput(f"May specify only one of {names}")


_SNAPSHOT_CREATE_KEYS = frozenset(
    {"volume_id", "name", "display_name", "description", "display_description", "force",
     "metadata"}
)  # fmt: skip


@dataclass(frozen=True)
class SnapshotCreateRequest:
    volume_id: str | None
    name: str | None
    description: str | None
    force: bool | None
    metadata: dict[str, str]


def parse_snapshot_create(body: object, version: APIVersion) -> SnapshotCreateRequest:
    _, snapshot = _resource(body, "snapshot")
    _reject_unexpected(snapshot, _SNAPSHOT_CREATE_KEYS)
    force: bool | None = None
    if "force" in snapshot and snapshot["force"] is not None:
        force = _bool_value(snapshot, "force")
    volume_id = snapshot.get("volume_id")
    if volume_id is not None and not isinstance(volume_id, str):
        raise _type_error("volume_id", volume_id, "string")
    return SnapshotCreateRequest(
        volume_id=volume_id,
        name=_name(snapshot, "name", "display_name"),
        description=_name(snapshot, "description", "display_description"),
        force=force,
        metadata=_metadata(snapshot.get("metadata")),
    )


def parse_snapshot_update(body: object) -> VolumeUpdateRequest:
    """Name and description of a snapshot (the volume update's shape, key ``snapshot``)."""
    _, snapshot = _resource(body, "snapshot")
    if not snapshot:
        raise Invalid("Invalid input: at least one of name and description must be given.")
    _reject_unexpected(snapshot, {"name", "description", "display_name", "display_description"})
    provided = {
        field
        for field, keys in (("name", ("name", "display_name")),
                            ("description", ("description", "display_description")))
        if any(k in snapshot for k in keys)
    }  # fmt: skip
    return VolumeUpdateRequest(
        name=_name(snapshot, "name", "display_name"),
        description=_name(snapshot, "description", "display_description"),
        metadata=None,
        provided=frozenset(provided),
    )


def parse_metadata(body: object) -> dict[str, str]:
    """``{"metadata": {k: v}}`` of the metadata endpoints."""
    if not isinstance(body, dict) or "metadata" not in body:
        raise Invalid("Malformed request body")
    return _metadata(body["metadata"])


def parse_meta_item(body: object, key: str) -> dict[str, str]:
    """``{"meta": {key: value}}``: exactly one item, whose key is the one in the URL."""
    if not isinstance(body, dict) or "meta" not in body:
        raise Invalid("Malformed request body")
    item = _metadata(body["meta"])
    if len(item) != 1:
        raise Invalid("Request body contains too many items")
    if key not in item:
        raise Invalid("Request body and URI mismatch")
    return item
