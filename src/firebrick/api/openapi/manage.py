"""The OpenAPI description of managing existing storage (``api/routes/manage.py``)."""

from __future__ import annotations

from typing import Final

from firebrick.api.manage_requests import MAX_HOST
from firebrick.api.openapi.operations import Op
from firebrick.api.openapi.schemas import (
    BOOLEAN,
    METADATA,
    NAME,
    STRING,
    UUID,
    VOLUME_VIEW,
    Schema,
    listed,
    obj,
    param,
    wrapped,
)

HOST: Final[Schema] = {
    "type": ["string", "null"], "minLength": 1, "maxLength": MAX_HOST,
    "pattern": "^[a-zA-Z0-9\\-._#@:/+\\[\\]]*$",
    "description": "host@backend or host@backend#pool",
}  # fmt: skip
REF: Final[Schema] = {
    "type": ["object", "string"],
    "description": 'The storage to manage, e.g. {"source-name": "<file name>"}.',
}
MANAGE_VOLUME: Final = wrapped(
    "volume",
    obj(
        {"ref": REF, "host": HOST, "cluster": {"type": ["string", "null"], "maxLength": 255},
         "name": NAME, "description": NAME, "volume_type": NAME, "availability_zone": NAME,
         "bootable": BOOLEAN, "metadata": METADATA},
        ("ref",),
        additional=False,
        description="Exactly one of host and cluster (cluster from microversion 3.16).",
    ),
)  # fmt: skip
MANAGE_SNAPSHOT: Final = wrapped(
    "snapshot",
    obj(
        {"volume_id": UUID, "ref": {**REF, "type": ["object", "string", "null"]},
         "name": NAME, "description": NAME, "metadata": METADATA},
        ("volume_id", "ref"),
        additional=False,
    ),
)  # fmt: skip
MANAGED_SNAPSHOT_VIEW: Final = obj(
    {"id": STRING, "status": STRING, "volume_id": STRING, "size": {"type": "integer"},
     "name": NAME, "description": NAME, "metadata": obj(additional=STRING),
     "created_at": STRING, "updated_at": {"type": ["string", "null"]}},
    ("id", "status", "volume_id", "size", "metadata", "created_at", "updated_at"),
)  # fmt: skip
_REFERENCE: Final = obj(additional=STRING)
_ENTRY: Final = {
    "reference": _REFERENCE, "size": {"type": ["integer", "null"]},
    "safe_to_manage": {"type": "boolean"},
    "reason_not_safe": {"type": ["string", "null"]},
    "cinder_id": {"type": ["string", "null"]}, "extra_info": {"type": ["object", "null"]},
}  # fmt: skip
_SOURCE: Final = {"source_reference": {"anyOf": [_REFERENCE, {"type": "null"}]}}
_SUMMARY: Final = ("reference", "size", "safe_to_manage")
_DETAIL: Final = (*_SUMMARY, "reason_not_safe", "cinder_id", "extra_info")


def _entries(kind: str, keys: tuple[str, ...]) -> Schema:
    properties = {k: _ENTRY[k] for k in keys}
    if kind == "snapshots":
        properties |= _SOURCE
        keys = (*keys, "source_reference")
    return listed(f"manageable-{kind}", obj(properties, keys, additional=False))


QUERY: Final = (
    param("host", STRING, "host@backend[#pool]; exactly one of host and cluster."),
    param("cluster", STRING, "From microversion 3.17."),
    param("marker", STRING, 'A reference as JSON, e.g. {"source-name": "volume-1"}.'),
    param("limit", {"type": "integer", "minimum": 0}),
    param("offset", {"type": "integer", "minimum": 0}),
    param("sort", {"type": "string", "pattern": "^(reference|size)(:(asc|desc))?"
                                                "(,(reference|size)(:(asc|desc))?)*$"}),
    param("sort_key", {"enum": ["reference", "size"]}),
    param("sort_dir", {"enum": ["asc", "desc"]}),
)  # fmt: skip
_FROM_3_8 = "From microversion 3.8 (the os- path: every microversion)."


def _operations(legacy: str, current: str, kind: str) -> dict[tuple[str, str], Op]:
    if kind == "volumes":
        manage = Op({202: wrapped("volume", VOLUME_VIEW)}, MANAGE_VOLUME, faults=(413,))
    else:
        manage = Op({202: wrapped("snapshot", MANAGED_SNAPSHOT_VIEW)}, MANAGE_SNAPSHOT,
                    faults=(413,))  # fmt: skip
    summary = Op({200: _entries(kind, _SUMMARY)}, query=QUERY)
    detail = Op({200: _entries(kind, _DETAIL)}, query=QUERY)
    ops: dict[tuple[str, str], Op] = {}
    for path, description in ((legacy, ""), (current, _FROM_3_8)):
        ops[("POST", path)] = Op(manage.ok, manage.body, faults=manage.faults,
                                 description=description)  # fmt: skip
        ops[("GET", path)] = Op(summary.ok, query=QUERY, description=description)
        ops[("GET", path + "/detail")] = Op(detail.ok, query=QUERY, description=description)
    return ops


MANAGE_OPERATIONS: Final[dict[tuple[str, str], Op]] = {
    **_operations("/os-volume-manage", "/manageable_volumes", "volumes"),
    **_operations("/os-snapshot-manage", "/manageable_snapshots", "snapshots"),
}
