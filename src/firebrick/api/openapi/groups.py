"""What the OpenAPI document says about the group APIs: group types and specs (3.11),
groups (3.13) and group snapshots (3.14).

The request schemas are Cinder's own (``api/group_schemas.py``); the response schemas
name the keys that are always there.
"""

from __future__ import annotations

from typing import Any, Final

from firebrick.api.group_schemas import schemas
from firebrick.api.openapi.schemas import (
    LINKS,
    STRING,
    TIMESTAMP,
    Schema,
    obj,
    param,
    wrapped,
)

_NULLABLE: Final[Schema] = {"type": ["string", "null"]}
_SPECS_VIEW: Final[Schema] = obj(additional=_NULLABLE)

GROUP_TYPE_VIEW: Final = obj(
    {"id": STRING, "name": STRING, "description": _NULLABLE, "is_public": {"type": "boolean"},
     "group_specs": _SPECS_VIEW},
    ("id", "name", "description", "is_public"),
)  # fmt: skip
GROUP_SUMMARY_VIEW: Final = obj({"id": STRING, "name": _NULLABLE}, ("id", "name"))
GROUP_VIEW: Final = obj(
    {"id": STRING, "status": STRING, "availability_zone": _NULLABLE, "created_at": TIMESTAMP,
     "name": _NULLABLE, "description": _NULLABLE, "group_type": STRING,
     "volume_types": {"type": "array", "items": STRING},
     "group_snapshot_id": _NULLABLE, "source_group_id": _NULLABLE,
     "volumes": {"type": "array", "items": STRING}, "replication_status": _NULLABLE,
     "project_id": STRING},
    ("id", "status", "created_at", "name", "description", "group_type", "volume_types"),
)  # fmt: skip
GROUP_SNAPSHOT_SUMMARY_VIEW: Final = obj(
    {"id": STRING, "name": _NULLABLE, "group_type_id": STRING}, ("id", "name")
)
GROUP_SNAPSHOT_VIEW: Final = obj(
    {"id": STRING, "group_id": STRING, "group_type_id": STRING, "status": STRING,
     "created_at": TIMESTAMP, "name": _NULLABLE, "description": _NULLABLE,
     "project_id": STRING},
    ("id", "group_id", "group_type_id", "status", "created_at", "name", "description"),
)  # fmt: skip


def _request(name: str) -> Schema:
    """Cinder's request schema, without its huge printable-characters pattern."""
    stripped: Schema = _strip_patterns(schemas()[name])
    return stripped


def _strip_patterns(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_patterns(v) for k, v in node.items()
                if not (k == "pattern" and isinstance(v, str) and len(v) > 200)}  # fmt: skip
    if isinstance(node, list):
        return [_strip_patterns(v) for v in node]
    return node


def _listing(key: str, item: Schema) -> Schema:
    return obj({key: {"type": "array", "items": item}, f"{key[:-1]}_links": LINKS}, (key,))


_PAGING: Final = (
    param("limit", {"type": "integer", "minimum": 0}),
    param("marker", STRING),
    param("offset", {"type": "integer", "minimum": 0}),
    param("sort", STRING, "key[:direction],... ; any column of the resource."),
    param("sort_key", STRING),
    param("sort_dir", {"enum": ["asc", "desc"]}),
    param("all_tenants", STRING, "Admin only: every project."),
)
_GROUP_ACTIONS: Final = {
    "anyOf": [_request("group_delete"), _request("group_reset_status"),
              *(obj({name: obj()}, (name,), additional=False) for name in
                ("enable_replication", "disable_replication", "failover_replication",
                 "list_replication_targets"))],
    "description": "delete (3.13), reset_status (3.20); replication actions (3.38) refused.",
}  # fmt: skip


def operations(op: Any) -> dict[tuple[str, str], Any]:
    """The group operations, built with ``operations.Op`` (passed in: no import cycle)."""
    types_base = "/group_types/{group_type_id}"
    specs = f"{types_base}/group_specs"
    one_spec = obj(additional=_NULLABLE, minProperties=1, maxProperties=1)
    return {
        ("GET", "/group_types"): op({200: _listing("group_types", GROUP_TYPE_VIEW)},
                                    query=(*_PAGING, param("is_public", STRING)),
                                    description="From microversion 3.11."),
        ("POST", "/group_types"): op({202: wrapped("group_type", GROUP_TYPE_VIEW)},
                                     _request("group_type_create"), faults=(409,)),
        ("GET", types_base): op({200: wrapped("group_type", GROUP_TYPE_VIEW)},
                                description="group_type_id may be 'default'."),
        ("PUT", types_base): op({200: wrapped("group_type", GROUP_TYPE_VIEW)},
                                _request("group_type_update"), faults=(409,)),
        ("DELETE", types_base): op({202: None}),
        ("GET", specs): op({200: wrapped("group_specs", _SPECS_VIEW)}),
        ("POST", specs): op({202: wrapped("group_specs", _SPECS_VIEW)},
                            _request("group_specs_create")),
        ("GET", specs + "/{spec_id}"): op({200: one_spec}),
        ("PUT", specs + "/{spec_id}"): op({200: one_spec}, _request("group_specs_update")),
        ("DELETE", specs + "/{spec_id}"): op({202: None}),
        ("GET", "/groups"): op({200: _listing("groups", GROUP_SUMMARY_VIEW)},
                               query=(*_PAGING, param("name", STRING)),
                               description="From microversion 3.13."),
        ("GET", "/groups/detail"): op(
            {200: _listing("groups", GROUP_VIEW)},
            query=(*_PAGING, param("name", STRING),
                   param("list_volume", {"type": "boolean"}, "From microversion 3.25.")),
        ),
        ("POST", "/groups"): op({202: wrapped("group", GROUP_SUMMARY_VIEW)},
                                _request("group_create"), faults=(413,)),
        ("POST", "/groups/action"): op({202: wrapped("group", GROUP_SUMMARY_VIEW)},
                                       _request("group_create_from_src"),
                                       description="create-from-src, from microversion 3.14."),
        ("GET", "/groups/{group_id}"): op(
            {200: wrapped("group", GROUP_VIEW)},
            query=(param("list_volume", {"type": "boolean"}, "From microversion 3.25."),),
        ),
        ("PUT", "/groups/{group_id}"): op({202: None}, _request("group_update")),
        ("POST", "/groups/{group_id}/action"): op({202: None}, _GROUP_ACTIONS),
        ("GET", "/group_snapshots"): op(
            {200: _listing("group_snapshots", obj({"id": STRING, "name": _NULLABLE}))},
            query=(*_PAGING, param("name", STRING), param("status", STRING),
                   param("group_id", STRING)),
            description="From microversion 3.14; paging and filters from 3.29.",
        ),
        ("GET", "/group_snapshots/detail"): op(
            {200: _listing("group_snapshots", GROUP_SNAPSHOT_VIEW)},
            query=(*_PAGING, param("name", STRING), param("status", STRING),
                   param("group_id", STRING)),
        ),
        ("POST", "/group_snapshots"): op(
            {202: wrapped("group_snapshot", GROUP_SNAPSHOT_SUMMARY_VIEW)},
            _request("group_snapshot_create"), faults=(413,),
        ),
        ("GET", "/group_snapshots/{group_snapshot_id}"): op(
            {200: wrapped("group_snapshot", GROUP_SNAPSHOT_VIEW)}),
        ("DELETE", "/group_snapshots/{group_snapshot_id}"): op({202: None}),
        ("POST", "/group_snapshots/{group_snapshot_id}/action"): op(
            {202: None}, _request("group_snapshot_reset_status"),
            description="reset_status, from microversion 3.19.",
        ),
    }  # fmt: skip
