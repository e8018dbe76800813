"""Volume views: the exact key sets Cinder (and tempest's schemas) expect per microversion."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from firebrick.api.microversion import APIVersion
from firebrick.domain import statuses
from firebrick.domain.model import Volume

GROUP_VOLUME: Final = APIVersion(3, 13)
PROVIDER_ID: Final = APIVersion(3, 21)
SHARED_TARGETS: Final = APIVersion(3, 48)
CLUSTER_NAME: Final = APIVersion(3, 61)
VOLUME_TYPE_ID: Final = APIVersion(3, 63)
ENCRYPTION_KEY_ID: Final = APIVersion(3, 64)
CONSUMES_QUOTA: Final = APIVersion(3, 65)

TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%S.%f"


def timestamp(value: datetime | None) -> str | None:
    """Cinder's wire format: naive UTC with microseconds, no offset."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    # TIME_FORMAT's text, at a third of strftime's cost (a list shows thousands).
    return value.isoformat(timespec="microseconds")


def links(
    volume_id: str,
    *,
    base_url: str,
    project_id: str,
    project_in_url: bool,
    collection: str = "volumes",
) -> list[dict[str, str]]:
    """``self`` under ``/v3`` and the version-less ``bookmark``."""
    base = base_url.rstrip("/")
    tail = f"{collection}/{volume_id}"
    if project_in_url:
        tail = f"{project_id}/{tail}"
    return [
        {"rel": "self", "href": f"{base}/v3/{tail}"},
        {"rel": "bookmark", "href": f"{base}/{tail}"},
    ]


@dataclass(frozen=True, slots=True)
class _Keys:
    """Which of the later keys a detail has at one microversion."""

    group_id: bool
    provider_id: bool
    shared_targets: bool
    cluster_name: bool
    volume_type_id: bool
    encryption_key_id: bool
    consumes_quota: bool


@functools.cache
def _keys_at(version: APIVersion) -> _Keys:
    # Once per microversion: a page of 1,000 details compared versions 7,000 times.
    return _Keys(
        group_id=version >= GROUP_VOLUME,
        provider_id=version >= PROVIDER_ID,
        shared_targets=version >= SHARED_TARGETS,
        cluster_name=version >= CLUSTER_NAME,
        volume_type_id=version >= VOLUME_TYPE_ID,
        encryption_key_id=version >= ENCRYPTION_KEY_ID,
        consumes_quota=version >= CONSUMES_QUOTA,
    )


def _volume_type(v: Volume, keys: _Keys) -> str | None:
    if keys.volume_type_id:
        return v.volume_type_name
    # Before 3.63 Cinder falls back to the id when it has no name to show.
    return v.volume_type_name if v.volume_type_name is not None else v.volume_type_id


def detail(
    v: Volume,
    *,
    version: APIVersion,
    base_url: str,
    project_in_url: bool,
    is_admin: bool,
    extended: bool,
    url_project_id: str | None = None,
    attachments: Sequence[Mapping[str, Any]] = (),
    image_metadata: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The detail object (without the ``{"volume": ...}`` wrapper).

    ``extended`` adds the ``os-*`` attribute keys, which Cinder shows on GET (show and
    detail list) only, never in the create or update response. ``url_project_id`` is the
    project id of the request URL, if it differs from the volume's (admin listing another
    project); links use it. ``attachments`` are already-built attachment entries.
    """
    keys = _keys_at(version)
    body: dict[str, Any] = {
        "id": v.id,
        "status": statuses.shown(v.status),
        "size": v.size,
        "availability_zone": v.availability_zone,
        "created_at": timestamp(v.created_at),
        "updated_at": timestamp(v.updated_at),
        "attachments": [dict(a) for a in attachments],
        "name": v.name,
        "description": v.description,
        "volume_type": _volume_type(v, keys),
        "snapshot_id": v.snapshot_id,
        "source_volid": v.source_volid,
        "metadata": dict(v.metadata),
        "links": links(
            v.id,
            base_url=base_url,
            project_id=url_project_id or v.project_id,
            project_in_url=project_in_url,
        ),
        "user_id": v.user_id,
        "bootable": "true" if v.bootable else "false",
        "encrypted": v.encryption_key_id is not None,
        "replication_status": v.replication_status,
        "consistencygroup_id": None,
        "multiattach": v.multiattach,
    }
    if is_admin:
        body["migration_status"] = v.migration_status
    if keys.group_id:
        body["group_id"] = v.group_id
    if is_admin and keys.provider_id:
        body["provider_id"] = None
    if keys.shared_targets:
        body["shared_targets"] = False
        body["service_uuid"] = None
    if is_admin and keys.cluster_name:
        body["cluster_name"] = None
    if keys.volume_type_id:
        body["volume_type_id"] = v.volume_type_id
    if keys.encryption_key_id and v.encryption_key_id:
        body["encryption_key_id"] = v.encryption_key_id
    if keys.consumes_quota:
        body["consumes_quota"] = v.use_quota
    if extended:
        body["os-vol-tenant-attr:tenant_id"] = v.project_id
        if is_admin:
            body["os-vol-host-attr:host"] = v.host
            body["os-vol-mig-status-attr:migstat"] = v.migration_status
            body["os-vol-mig-status-attr:name_id"] = v.name_id
        if image_metadata is not None:
            body["volume_image_metadata"] = dict(image_metadata)
    return body


def summary(
    v: Volume,
    *,
    base_url: str,
    project_in_url: bool,
    url_project_id: str | None = None,
) -> dict[str, Any]:
    """The entry of ``GET /volumes`` (no detail): id, name, links."""
    return {
        "id": v.id,
        "name": v.name,
        "links": links(
            v.id,
            base_url=base_url,
            project_id=url_project_id or v.project_id,
            project_in_url=project_in_url,
        ),
    }


def list_body(
    items: Sequence[Mapping[str, Any]],
    *,
    next_marker_url: str | None,
    count: int | None,
    key: str = "volumes",
    links_key: str | None = None,
) -> dict[str, Any]:
    """``{key: items, "<key>_links": [next], "count": N}``; the optional parts only if given.

    ``links_key`` overrides the links member's name (volume types use
    ``volume_type_links``).
    """
    # The views' own dicts as they are (a page copied 1,000 of them); other mappings copied.
    body: dict[str, Any] = {key: [i if type(i) is dict else dict(i) for i in items]}
    if next_marker_url is not None:
        body[links_key or f"{key}_links"] = [{"rel": "next", "href": next_marker_url}]
    if count is not None:
        body["count"] = count
    return body
