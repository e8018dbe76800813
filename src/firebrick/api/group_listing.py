"""Query strings of the group lists: paging, sort and filters as Cinder reads them there.

Cinder's group, group snapshot and group type lists take any column of the resource as a
sort key and (for admins) as an exact filter; a filter on something that is no column
finds nothing. Users may only use the filters of ``resource_filters.json`` from 3.31.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Final

from firebrick.api import listing
from firebrick.api.microversion import APIVersion
from firebrick.domain.errors import Invalid

RESOURCE_FILTER: Final = APIVersion(3, 31)
DEFAULT_SORT: Final = ("created_at", "desc")
_PAGING: Final = frozenset({"limit", "marker", "offset", "sort", "sort_key", "sort_dir"})


@dataclass(frozen=True)
class CollectionQuery:
    limit: int
    marker: str | None = None
    offset: int = 0
    sort: list[tuple[str, str]] = field(default_factory=lambda: [DEFAULT_SORT])
    filters: dict[str, str] = field(default_factory=dict)
    all_tenants: bool = False


def parse(
    params: Mapping[str, str],
    *,
    version: APIVersion,
    is_admin: bool,
    sort_keys: Collection[str],
    user_filters: Collection[str],
    max_limit: int,
    ignored: Collection[str] = (),
) -> CollectionQuery:
    """Parse a list request; ``ignored`` parameters are neither filters nor errors."""
    remaining = {k: v for k, v in params.items() if k not in ignored}
    limit = listing.parse_limit(remaining.get("limit"), max_limit)
    offset = listing.parse_offset(remaining.get("offset", "0"))
    sort = listing.parse_sort(remaining, sort_keys)
    marker = remaining.get("marker")
    filters = {k: v for k, v in remaining.items() if k not in _PAGING}
    # Cinder: an admin's all_tenants lists every project whatever its value; a user's is
    # dropped (cinderclient sends it).
    all_tenants = "all_tenants" in filters and is_admin
    filters.pop("all_tenants", None)
    if version >= RESOURCE_FILTER:
        if any(not key.isascii() for key in filters):
            raise Invalid("Filter keys can only contain ASCII characters.")
        if not is_admin:
            unknown = [key for key in filters if key not in user_filters]
            if unknown:
                raise Invalid(f"Invalid filters {','.join(unknown)} are found in query options.")
    return CollectionQuery(limit=limit, marker=marker, offset=offset, sort=sort,
                           filters=filters, all_tenants=all_tenants)  # fmt: skip


def links_body(
    key: str,
    items: list[dict[str, object]],
    *,
    limit: int,
    links_key: str,
    url: str,
    params: Mapping[str, str],
    last_id: str | None,
) -> dict[str, object]:
    """``{key: items}``, with Cinder's next link under ``links_key`` when the page is full."""
    body: dict[str, object] = {key: items}
    if last_id is not None and listing.needs_next_link(limit, len(items)):
        body[links_key] = [{"rel": "next", "href": listing.next_link(url, params, last_id)}]
    return body
