"""The requests of managing existing storage, read and checked as Cinder's schemas do.

``volume_manage_create`` (``cluster`` from 3.16), ``snapshot_manage.create`` and the query
of the manageable lists (``host`` or, from 3.17, ``cluster``; ``marker``, ``limit``,
``offset``, ``sort``/``sort_key``/``sort_dir`` over ``reference`` and ``size``). A request
that does not fit gets Cinder's 400 and changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from firebrick.api.microversion import APIVersion
from firebrick.api.validation import (
    _bool_value,
    _metadata,
    _name,
    _optional_string,
    _reject_unexpected,
    _resource,
    _type_error,
    is_uuid_like,
)
from firebrick.domain.errors import Invalid, InvalidInput
from firebrick.domain.manageable import SORT_DIRS, SORT_KEYS

MANAGE_CLUSTER = APIVersion(3, 16)  # cluster in a volume manage request
LIST_CLUSTER = APIVersion(3, 17)  # cluster in a manageable list query
MAX_HOST = 255
# parameter_types.cinder_host: a host name, @backend, #pool (brackets for IPv6 pools).
_HOST = re.compile(r"^[a-zA-Z0-9-._#@:/+\[\]]*$")
_VOLUME_KEYS = frozenset(
    {"description", "availability_zone", "bootable", "volume_type", "name", "host", "ref",
     "metadata"}
)  # fmt: skip
_SNAPSHOT_KEYS = frozenset({"description", "metadata", "name", "volume_id", "ref"})


@dataclass(frozen=True)
class ManageVolumeRequest:
    ref: object
    host: str | None
    cluster: str | None
    name: str | None = None
    description: str | None = None
    volume_type: str | None = None
    availability_zone: str | None = None
    bootable: bool = False
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ManageSnapshotRequest:
    volume_id: str
    ref: object
    name: str | None = None
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ManageableQuery:
    host: str | None
    cluster: str | None
    marker: str | None
    limit: int
    offset: int
    sort_keys: list[str]
    sort_dirs: list[str]


def _host(value: object, key: str = "host") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _type_error(key, value, "string", "null")
    if not 0 < len(value) <= MAX_HOST or not _HOST.match(value):
        raise Invalid(
            f"Invalid input for field/attribute {key}. Value: {value}. "
            f"'{value}' does not match '{_HOST.pattern}'"
        )
    return value


def _one_of_host_or_cluster(host: str | None, cluster: str | None, clusters: bool) -> None:
    """Cinder's ``get_cluster_host``: exactly one of them (host alone before clusters)."""
    if clusters:
        if bool(host) == bool(cluster):
            raise InvalidInput("One and only one of cluster and host must be set.")
    elif not host:
        raise InvalidInput("Host field is missing.")


def _ref(item: Mapping[str, Any], *, allow_null: bool) -> object:
    if "ref" not in item:
        raise Invalid("'ref' is a required property")
    ref = item["ref"]
    allowed = (dict, str, type(None)) if allow_null else (dict, str)
    if not isinstance(ref, allowed):
        names = ("object", "null", "string") if allow_null else ("object", "string")
        raise _type_error("ref", ref, *names)
    return ref


def parse_manage_volume(body: object, version: APIVersion) -> ManageVolumeRequest:
    _, item = _resource(body, "volume")
    allowed = set(_VOLUME_KEYS)
    if version >= MANAGE_CLUSTER:
        allowed.add("cluster")
    _reject_unexpected(item, allowed)
    ref = _ref(item, allow_null=False)
    host = _host(item.get("host"))
    cluster = _optional_string(item, "cluster", MAX_HOST) if "cluster" in allowed else None
    _one_of_host_or_cluster(host, cluster, version >= MANAGE_CLUSTER)
    return ManageVolumeRequest(
        ref=ref,
        host=host,
        cluster=cluster,
        name=_name(item, "name", "name") or None,
        description=_name(item, "description", "description") or None,
        volume_type=_optional_string(item, "volume_type", MAX_HOST) or None,
        availability_zone=_optional_string(item, "availability_zone", MAX_HOST) or None,
        bootable=_bool_value(item, "bootable"),
        metadata=_metadata(item.get("metadata")),
    )


def parse_manage_snapshot(body: object) -> ManageSnapshotRequest:
    _, item = _resource(body, "snapshot")
    _reject_unexpected(item, _SNAPSHOT_KEYS)
    ref = _ref(item, allow_null=True)
    volume_id = item.get("volume_id")
    if "volume_id" not in item:
        raise Invalid("'volume_id' is a required property")
    if not isinstance(volume_id, str) or not is_uuid_like(volume_id):
        raise Invalid(
            f"Invalid input for field/attribute volume_id. Value: {volume_id}. "
            f"'{volume_id}' is not a 'uuid'"
        )
    return ManageSnapshotRequest(
        volume_id=volume_id,
        ref=ref,
        name=_name(item, "name", "name"),
        description=_name(item, "description", "description"),
        metadata=_metadata(item.get("metadata")),
    )


def _whole(params: Mapping[str, str], key: str, default: int) -> int:
    raw = params.get(key)
    if raw is None:
        return default
    text = raw.strip()
    if not (text.lstrip("-").isascii() and text.lstrip("-").isdigit()):
        raise Invalid(f"{key} param must be an integer")
    value = int(text)
    if value < 0:
        raise Invalid(f"{key} param must be positive")
    return value


def parse_manageable_query(
    params: Mapping[str, str], version: APIVersion, max_limit: int
) -> ManageableQuery:
    # A query's host is only looked up (an unknown one is a 404), as Cinder does.
    host = params.get("host") or None
    cluster = params.get("cluster") if version >= LIST_CLUSTER else None
    _one_of_host_or_cluster(host, cluster, version >= LIST_CLUSTER)
    if "sort" in params and ("sort_key" in params or "sort_dir" in params):
        raise Invalid(
            "The 'sort_key' and 'sort_dir' parameters are deprecated and cannot be used "
            "with the 'sort' parameter."
        )
    keys, dirs = [], []
    if "sort" in params:
        for part in params["sort"].strip().split(","):
            key, _, direction = part.partition(":")
            keys.append(key.strip())
            dirs.append((direction or "desc").strip())
    else:
        keys.append(params.get("sort_key", "reference").strip())
        dirs.append(params.get("sort_dir", "desc").strip())
    bad_keys = [k for k in keys if k not in SORT_KEYS]
    if bad_keys:
        raise Invalid(f"Invalid sort keys passed: {', '.join(bad_keys)}")
    bad_dirs = [d for d in dirs if d not in SORT_DIRS]
    if bad_dirs:
        raise Invalid(f"Invalid sort dirs passed: {', '.join(bad_dirs)}")
    return ManageableQuery(
        host=host,
        cluster=cluster,
        marker=params.get("marker") or None,
        limit=min(_whole(params, "limit", max_limit), max_limit),
        offset=_whole(params, "offset", 0),
        sort_keys=keys,
        sort_dirs=dirs,
    )
