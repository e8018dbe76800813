"""Transfer request bodies and list queries, read with Cinder's schemas and messages.

Cinder validates the bodies with ``cinder/api/schemas/volume_transfer.py`` (``create``,
``create_v355`` from 3.55 on ``/volume-transfers`` only, ``accept``); the messages below
are the ones its JSON-schema validator gives.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from firebrick.api.listing import parse_limit, parse_offset
from firebrick.api.microversion import APIVersion
from firebrick.api.validation import MAX_STRING, is_uuid_like
from firebrick.db.transfers import BOOLEAN_COLUMNS, COLUMNS, TIME_COLUMNS
from firebrick.domain.errors import Invalid, InvalidInput

TRANSFER_WITH_SNAPSHOTS: Final = APIVersion(3, 55)
TRANSFER_WITH_HISTORY: Final = APIVersion(3, 57)
SUPPORT_TRANSFER_PAGINATION: Final = APIVersion(3, 59)

# Cinder's parameter_types.boolean.
_BOOLEANS: Final = {
    **dict.fromkeys(["True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes", "y",
                     "t"], True),
    **dict.fromkeys(["False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no", "n",
                     "f"], False),
}  # fmt: skip
_PAGING: Final = ("limit", "marker", "offset")
_SORTING: Final = ("sort", "sort_key", "sort_dir")
# Before 3.59 (and always on /os-volume-transfer) the list is oldest first.
LEGACY_SORT: Final = [("created_at", "asc"), ("id", "asc")]
_DEFAULT_DIR: Final = "desc"
_TRUE: Final = frozenset({"1", "t", "true", "on", "y", "yes"})
_FALSE: Final = frozenset({"0", "f", "false", "off", "n", "no"})


@dataclass(frozen=True)
class TransferCreateRequest:
    volume_id: str
    name: str | None
    no_snapshots: bool = False


@dataclass(frozen=True)
class TransferListQuery:
    """``filters`` None: a filter no transfer has, so nothing matches (Cinder's answer)."""

    limit: int
    marker: str | None = None
    offset: int = 0
    sort: list[tuple[str, str]] = field(default_factory=lambda: list(LEGACY_SORT))
    filters: dict[str, Any] | None = field(default_factory=dict)
    all_tenants: bool = False
    project_id: str | None = None  # an admin's project filter, with all_tenants


def _field_error(name: str, value: object, problem: str) -> Invalid:
    return Invalid(f"Invalid input for field/attribute {name}. Value: {value}. {problem}")


def _object(
    body: object, key: str, allowed: frozenset[str], *, echo: bool = True
) -> dict[str, Any]:
    """``body[key]``, an object with no keys beside ``allowed``, in a body of that one key.

    ``echo`` False: messages never repeat what was sent (it may hold a secret).
    """
    if not isinstance(body, dict):
        raise Invalid(f"{body!r} is not of type 'object'" if echo else "Body is not an object")
    if key not in body:
        raise Invalid(f"'{key}' is a required property")
    _no_extra(None, body, frozenset({key}), echo=echo)
    inner = body[key]
    if not isinstance(inner, dict):
        shown = repr(inner) if echo else type(inner).__name__
        raise _field_error(key, inner if echo else "...", f"{shown} is not of type 'object'")
    _no_extra(key, inner, allowed, echo=echo)
    return inner


def _no_extra(
    name: str | None, obj: Mapping[str, Any], allowed: frozenset[str], *, echo: bool
) -> None:
    extra = sorted(k for k in obj if k not in allowed)
    if not extra:
        return
    names = ", ".join(repr(k) for k in extra)
    verb = "was" if len(extra) == 1 else "were"
    problem = f"Additional properties are not allowed ({names} {verb} unexpected)"
    if name is None:
        raise Invalid(problem)
    raise _field_error(name, dict(obj) if echo else "...", problem)


def parse_create(body: object, version: APIVersion, *, legacy: bool) -> TransferCreateRequest:
    """``{"transfer": {"volume_id", "name"[, "no_snapshots"]}}``.

    ``no_snapshots`` is a key of ``/volume-transfers`` from 3.55; ``/os-volume-transfer``
    never takes it.
    """
    allowed = {"volume_id", "name"}
    if not legacy and version >= TRANSFER_WITH_SNAPSHOTS:
        allowed.add("no_snapshots")
    transfer = _object(body, "transfer", frozenset(allowed))
    if "volume_id" not in transfer:
        raise _field_error("transfer", transfer, "'volume_id' is a required property")
    volume_id = transfer["volume_id"]
    if not isinstance(volume_id, str):
        raise _field_error("volume_id", volume_id, f"{volume_id!r} is not of type 'string'")
    if not is_uuid_like(volume_id):
        raise _field_error("volume_id", volume_id, f"{volume_id!r} is not a 'uuid'")
    name = transfer.get("name")
    if name is not None and not (isinstance(name, str) and 0 < len(name.strip()) <= MAX_STRING):
        raise _field_error("name", name, f"{name!r} is not valid under any of the given schemas")
    no_snapshots = transfer.get("no_snapshots", False)
    if isinstance(no_snapshots, bool):
        pass
    elif isinstance(no_snapshots, str) and no_snapshots in _BOOLEANS:
        no_snapshots = _BOOLEANS[no_snapshots]
    else:
        raise _field_error(
            "no_snapshots", no_snapshots, f"{no_snapshots!r} is not one of the boolean values"
        )
    return TransferCreateRequest(
        volume_id=volume_id,
        name=name.strip() if isinstance(name, str) else None,
        no_snapshots=no_snapshots,
    )


def parse_accept(body: object) -> str:
    """The ``auth_key`` of ``{"accept": {"auth_key": <string or integer>}}``."""
    accept = _object(body, "accept", frozenset({"auth_key"}), echo=False)
    if "auth_key" not in accept:
        raise _field_error("accept", "...", "'auth_key' is a required property")
    key = accept["auth_key"]
    if isinstance(key, bool) or not isinstance(key, str | int):
        # Never echo what was sent: it may be a mistyped key.
        raise Invalid("Invalid input for field/attribute auth_key: not of type 'string', 'integer'")
    return str(key)


def parse_list(
    params: Mapping[str, str],
    version: APIVersion,
    *,
    legacy: bool,
    is_admin: bool,
    max_limit: int,
) -> TransferListQuery:
    """A list request as Cinder's controllers read it.

    From 3.59 ``/volume-transfers`` pages in the database (``marker``, ``limit``,
    ``offset``, ``sort``; newest first by default). Otherwise the list is oldest first
    and ``limit``/``offset`` cut it (``marker`` continues after a transfer, so that next
    links work). Whatever is left is a filter; one Cinder's transfers do not have matches
    nothing.
    """
    remaining = dict(params)
    limit = parse_limit(remaining.pop("limit", None), max_limit)
    marker = remaining.pop("marker", None)
    offset = parse_offset(remaining.pop("offset", "0"))
    if not legacy and version >= SUPPORT_TRANSFER_PAGINATION:
        sort = _sort(remaining)
    else:
        sort = list(LEGACY_SORT)
    for key in _SORTING:
        remaining.pop(key, None)
    # Cinder reads it leniently (oslo's bool_from_string): anything else is false.
    all_tenants = remaining.pop("all_tenants", "false").strip().lower() in _TRUE
    all_tenants = all_tenants and is_admin
    project_id = remaining.pop("project_id", None) if all_tenants else None
    remaining.pop("project_id", None)
    if "name" in remaining:
        remaining["display_name"] = remaining.pop("name")
    return TransferListQuery(
        limit=limit,
        marker=marker,
        offset=offset,
        sort=sort,
        filters=_filters(remaining),
        all_tenants=all_tenants,
        project_id=project_id,
    )


def _sort(params: Mapping[str, str]) -> list[tuple[str, str]]:
    """Cinder's get_sort_params and process_sort_params: keys name transfer attributes,
    each without a direction is newest first, and ``created_at``, ``id`` follow."""
    if "sort" in params:
        if "sort_key" in params or "sort_dir" in params:
            raise Invalid(
                "The 'sort_key' and 'sort_dir' parameters are deprecated and cannot be "
                "used with the 'sort' parameter."
            )
        chosen = []
        for item in params["sort"].strip().split(","):
            key, _, direction = item.partition(":")
            chosen.append((key.strip(), direction.strip() or _DEFAULT_DIR))
    else:
        chosen = [(params.get("sort_key", "created_at").strip(),
                   params.get("sort_dir", _DEFAULT_DIR).strip())]  # fmt: skip
    for key, direction in chosen:
        if direction not in ("asc", "desc"):
            raise InvalidInput("Unknown sort direction, must be 'desc' or 'asc'.")
        if key not in COLUMNS:
            raise InvalidInput("Invalid sort key")
    keys = {key for key, _ in chosen}
    chosen += [(key, chosen[0][1]) for key in ("created_at", "id") if key not in keys]
    return chosen


def _filters(params: Mapping[str, str]) -> dict[str, Any] | None:
    filters: dict[str, Any] = {}
    for key, value in params.items():
        if key not in COLUMNS:
            return None
        if key in BOOLEAN_COLUMNS:
            lowered = value.strip().lower()
            if lowered not in _TRUE | _FALSE:
                raise InvalidInput(f"'{key} = {value}'")
            filters[key] = lowered in _TRUE
        elif key in TIME_COLUMNS:
            filters[key] = _timestamp(key, value)
        else:
            filters[key] = value
    return filters


def _timestamp(key: str, value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"'{key} = {value}'") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed
