"""Query-string parsing for volume lists: pagination, sort, filters, count (api-v3.md §4.3)."""

from __future__ import annotations

import ast
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final
from urllib.parse import urlencode

from firebrick.api.microversion import APIVersion
from firebrick.domain.errors import Invalid, InvalidInput

VOLUME_LIST_BOOTABLE: Final = APIVersion(3, 2)
VOLUME_LIST_GROUP: Final = APIVersion(3, 10)
VOLUME_LIST_GLANCE_METADATA: Final = APIVersion(3, 4)
RESOURCE_FILTER: Final = APIVersion(3, 31)
SUPPORT_COUNT_INFO: Final = APIVersion(3, 45)
LIKE_FILTER: Final = APIVersion(3, 34)
TIME_COMPARISON_FILTER: Final = APIVersion(3, 60)

DB_MAX_INT: Final = 2**31 - 1
DEFAULT_SORT: Final = ("created_at", "desc")

SORT_KEYS: Final = frozenset(
    {"id", "name", "display_name", "status", "size", "availability_zone", "created_at",
     "updated_at", "bootable", "volume_type"}
)  # fmt: skip
USER_FILTERS: Final = frozenset(
    {"name", "status", "metadata", "bootable", "availability_zone", "size", "created_at",
     "updated_at", "group_id", "migration_status", "consumes_quota"}
)  # fmt: skip
# glance_metadata (3.4): admins always; others only before 3.31 (Cinder's default
# resource_filters.json does not list it).
ADMIN_FILTERS: Final = USER_FILTERS | {
    "host",
    "project_id",
    "user_id",
    "volume_type_id",
    "glance_metadata",
}
# What Cinder accepted from a non-admin before generic filtering (3.31).
LEGACY_USER_FILTERS: Final = frozenset(
    {"name", "status", "metadata", "availability_zone", "bootable", "group_id", "glance_metadata"}
)
# Filters that also take the "key~=value" (contains) form from 3.34.
LIKE_FILTERS: Final = frozenset({"name", "status", "availability_zone"})
BOOLEAN_FILTERS: Final = frozenset({"bootable", "consumes_quota"})
TIME_FILTERS: Final = frozenset({"created_at", "updated_at"})
TIME_OPERATORS: Final = frozenset({"gt", "gte", "eq", "neq", "lt", "lte"})

_TRUE: Final = frozenset({"1", "t", "true", "on", "y", "yes"})
_FALSE: Final = frozenset({"0", "f", "false", "off", "n", "no"})
_NOT_FILTERS: Final = frozenset({"limit", "marker", "offset", "sort", "sort_key", "sort_dir"})


@dataclass(frozen=True)
class ListQuery:
    """A parsed list request.

    ``limit`` is always set: the request's limit capped at the maximum, or the maximum.
    ``filters`` values are typed: ``metadata`` a ``dict[str, str]``, ``bootable`` and
    ``consumes_quota`` ``bool``, ``size`` ``int``, ``created_at``/``updated_at`` at 3.60+ a
    ``dict[operator, datetime]`` (naive UTC; operators gt/gte/eq/neq/lt/lte), the rest
    ``str``. ``project_id`` is only present for an admin listing all tenants.
    """

    limit: int
    marker: str | None = None
    offset: int = 0
    sort: list[tuple[str, str]] = field(default_factory=lambda: [DEFAULT_SORT])
    filters: dict[str, object] = field(default_factory=dict)
    with_count: bool = False
    all_tenants: bool = False


def parse_list_query(
    params: Mapping[str, str],
    version: APIVersion,
    is_admin: bool,
    max_limit: int = 1000,
) -> ListQuery:
    remaining = dict(params)
    limit = parse_limit(remaining.get("limit"), max_limit)
    marker = remaining.get("marker")
    offset = parse_offset(remaining.get("offset", "0"))
    sort = parse_sort(remaining)
    for key in _NOT_FILTERS:
        remaining.pop(key, None)

    with_count = False
    if version >= SUPPORT_COUNT_INFO and "with_count" in remaining:
        with_count = strict_bool("with_count", remaining.pop("with_count"))

    all_tenants = False
    if "all_tenants" in remaining:
        raw = remaining.pop("all_tenants")
        # Non-admins get it silently ignored (cinderclient always sends it).
        all_tenants = is_admin and strict_bool("all_tenants", raw)

    filters = _filters(remaining, version, is_admin)
    if not all_tenants:
        filters.pop("project_id", None)
    return ListQuery(
        limit=limit,
        marker=marker,
        offset=offset,
        sort=sort,
        filters=filters,
        with_count=with_count,
        all_tenants=all_tenants,
    )


def needs_next_link(limit: int, returned: int, total: int | None = None) -> bool:
    """Cinder's rule: a non-empty page that is full (against the total, if counted)."""
    return returned > 0 and limit <= (total or returned)


def next_link(url_without_query: str, params: Mapping[str, str], last_id: str) -> str:
    """The same request with ``marker`` set to ``last_id`` (other parameters kept in order)."""
    query = dict(params)
    query["marker"] = last_id
    return f"{url_without_query}?{urlencode(query)}"


def strict_bool(name: str, value: str) -> bool:
    """oslo's strict boolean strings, else 400."""
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise Invalid(f"Value '{value}' for '{name}' is not a boolean.")


def parse_limit(value: str | None, max_limit: int) -> int:
    if value is None:
        return max_limit
    try:
        limit = int(value)
    except ValueError:
        raise Invalid("limit param must be an integer") from None
    if limit < 0:
        raise Invalid("limit param must be positive")
    return min(limit, max_limit)


def parse_offset(value: str) -> int:
    try:
        offset = int(value)
    except ValueError:
        raise Invalid("offset must be an integer") from None
    if offset < 0:
        raise Invalid("offset must be >= 0")
    if offset > DB_MAX_INT:
        raise Invalid(f"offset must be <= {DB_MAX_INT}")
    return offset


def parse_sort(
    params: Mapping[str, str], allowed: Collection[str] = SORT_KEYS
) -> list[tuple[str, str]]:
    """Cinder's ``sort`` (``key:dir,…``) or ``sort_key``/``sort_dir``, checked."""
    keys: list[str] = []
    dirs: list[str] = []
    if params.get("sort"):
        if "sort_key" in params or "sort_dir" in params:
            raise Invalid(
                "The 'sort_key' and 'sort_dir' parameters are deprecated and cannot be "
                "used with the 'sort' parameter."
            )
        for item in params["sort"].strip().split(","):
            key, _, direction = item.partition(":")
            keys.append(key.strip())
            dirs.append(direction.strip() or DEFAULT_SORT[1])
    else:
        if "sort_key" in params:
            keys.append(params["sort_key"].strip())
        if "sort_dir" in params:
            dirs.append(params["sort_dir"].strip())
    if not keys:
        keys = [DEFAULT_SORT[0]]
    if len(dirs) > len(keys):
        raise InvalidInput("Sort direction array size exceeds sort key array size.")
    for key in keys:
        if key not in allowed:
            raise InvalidInput("Invalid sort key")
    for direction in dirs:
        if direction not in ("asc", "desc"):
            raise InvalidInput("Unknown sort direction, must be 'desc' or 'asc'.")
    default_dir = dirs[0] if dirs else DEFAULT_SORT[1]
    dirs += [default_dir] * (len(keys) - len(dirs))
    return list(zip(keys, dirs, strict=True))


def _filters(params: dict[str, str], version: APIVersion, is_admin: bool) -> dict[str, object]:
    if any(not key.isascii() for key in params):
        raise Invalid("Filter keys can only contain ASCII characters.")
    allowed = ADMIN_FILTERS if is_admin else USER_FILTERS
    if version < VOLUME_LIST_GROUP:
        params.pop("group_id", None)
    if version < VOLUME_LIST_GLANCE_METADATA:
        params.pop("glance_metadata", None)
    if version >= LIKE_FILTER:
        allowed = allowed | {f"{key}~" for key in LIKE_FILTERS}
    if version >= RESOURCE_FILTER:
        unknown = [key for key in params if key not in allowed]
        if unknown:
            raise Invalid(f"Invalid filters {','.join(unknown)} are found in query options.")
    else:
        legacy = ADMIN_FILTERS if is_admin else LEGACY_USER_FILTERS
        params = {k: v for k, v in params.items() if k in legacy}
    return {key: _filter_value(key, value, version) for key, value in params.items()}


def _filter_value(key: str, value: str, version: APIVersion) -> object:
    if key in ("metadata", "glance_metadata"):
        return _metadata_filter(value, key)
    if key in BOOLEAN_FILTERS:
        return _bool_filter(key, value, strict=version >= VOLUME_LIST_BOOTABLE)
    if key == "size":
        try:
            size = int(value)
        except ValueError:
            raise InvalidInput(f"'{key} = {value}'") from None
        if abs(size) > DB_MAX_INT:  # no volume is that big, and the database cannot say so
            raise InvalidInput(f"'{key} = {value}'")
        return size
    if key in TIME_FILTERS and version >= TIME_COMPARISON_FILTER:
        return _time_filter(key, value)
    return value


def _metadata_filter(value: str, key: str = "metadata") -> dict[str, str]:
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        parsed = None
    if not isinstance(parsed, dict):
        raise InvalidInput(f"'{key} = {value}'")
    return {str(k): str(v) for k, v in parsed.items()}


def _bool_filter(key: str, value: str, *, strict: bool) -> bool:
    if strict:
        lowered = value.strip().lower()
        if lowered in _TRUE | _FALSE:
            return lowered in _TRUE
        raise InvalidInput(f"'{key} = {value}'")
    # Before 3.2 anything but a false spelling (and the empty string) meant True.
    return value not in ("False", "false", "FALSE") and bool(value)


def _time_filter(key: str, value: str) -> dict[str, datetime]:
    """``gte:2024-01-01T00:00:00,lt:2024-02-01T00:00:00`` -> {op: naive UTC datetime}."""
    result: dict[str, datetime] = {}
    for unit in value.split(","):
        operator, sep, when = unit.partition(":")
        if not sep:
            raise Invalid(f"Invalid {key} value")
        if operator not in TIME_OPERATORS:
            raise Invalid(f"Invalid {operator} operator")
        try:
            parsed = datetime.fromisoformat(when)
        except ValueError:
            raise Invalid(f"Invalid {when} value") from None
        if parsed.tzinfo is not None:
            try:
                parsed = parsed.astimezone(UTC).replace(tzinfo=None)
            except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
                raise Invalid(f"Invalid {when} value") from None
        result[operator] = parsed
    return result
