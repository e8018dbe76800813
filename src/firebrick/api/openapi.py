"""The OpenAPI document the API publishes at ``/openapi.json``.

The routes read their bodies as raw JSON (``deps.JsonBody``) so that bad input gets
Cinder's exact messages, which leaves FastAPI's own document without request bodies and
with none of the real status codes. This module starts from FastAPI's document (paths,
operation ids) and adds what a client, or a fuzzer, needs to know:

* the request body of each operation, in Cinder's request shapes;
* its success status and a loose-but-true response schema (the keys always present);
* the faults every ``/v3`` operation can answer, in Cinder's fault format
  ``{"<faultName>": {"code": N, "message": "..."}}``, instead of FastAPI's 422;
* the ``OpenStack-API-Version`` request header, the list query parameters, and the
  ``x-openstack-request-id`` and ``OpenStack-API-Version`` response headers.

Every route is mounted twice, at ``/v3/...`` and ``/v3/{project_id}/...``; both get the
same description, looked up by method and the path below the prefix.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Final

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from firebrick.api import listing, microversion
from firebrick.api.faults import fault_name
from firebrick.api.validation import DB_MAX_INT, MAX_STRING, SCHEDULER_HINTS_KEY
from firebrick.api.volume_actions import ATTACH_STATUSES, MIGRATION_STATUSES, RESET_STATUSES

Schema = dict[str, Any]

JSON: Final = "application/json"
PREFIXES: Final = ("/v3/{project_id}", "/v3")


def _ref(kind: str, name: str) -> Schema:
    return {"$ref": f"#/components/{kind}/{name}"}


# ---------------------------------------------------------------------------------------
# schema building blocks

STRING: Final[Schema] = {"type": "string"}
NAME: Final[Schema] = {"type": ["string", "null"], "maxLength": MAX_STRING}
UUID: Final[Schema] = {"type": "string", "format": "uuid"}
NULLABLE_UUID: Final[Schema] = {"type": ["string", "null"], "format": "uuid"}
# Cinder's parameter_types.boolean: a JSON boolean or one of oslo's spellings.
BOOLEAN: Final[Schema] = {
    "type": ["boolean", "string"],
    "enum": [
        True, "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes", "y", "t",
        False, "False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no", "n", "f",
    ],
}  # fmt: skip
METADATA: Final[Schema] = {
    "type": ["object", "null"],
    "propertyNames": {"minLength": 1, "maxLength": MAX_STRING},
    "additionalProperties": {"type": "string", "maxLength": MAX_STRING},
}
METADATA_VIEW: Final[Schema] = {"type": "object", "additionalProperties": STRING}
LINKS: Final[Schema] = {
    "type": "array",
    "items": {"type": "object", "required": ["rel", "href"], "properties": {
        "rel": STRING, "href": STRING}},
}  # fmt: skip
TIMESTAMP: Final[Schema] = {"type": ["string", "null"]}
# Extra spec keys as types.py checks them (the hyphen escaped for ECMA 262 regexes).
SPEC_KEY: Final[Schema] = {"type": "string", "pattern": "^[a-zA-Z0-9\\-_:. /]{1,255}$"}
SPEC_VALUE: Final[Schema] = {"type": ["string", "number", "boolean"], "maxLength": MAX_STRING}


def obj(
    properties: dict[str, Schema] | None = None,
    required: tuple[str, ...] = (),
    *,
    additional: bool | Schema = True,
    **extra: Any,
) -> Schema:
    schema: Schema = {"type": "object"}
    if properties:
        schema["properties"] = properties
    if required:
        schema["required"] = list(required)
    if additional is not True:
        schema["additionalProperties"] = additional
    schema.update(extra)
    return schema


def wrapped(key: str, inner: Schema) -> Schema:
    """``{key: inner}``, the shape of almost every Cinder request and response."""
    return obj({key: inner}, (key,))


def listed(key: str, item: Schema) -> Schema:
    return obj({key: {"type": "array", "items": item}}, (key,))


# ---------------------------------------------------------------------------------------
# request bodies

VOLUME_CREATE: Final = obj(
    {
        "volume": obj(
            {
                "size": {
                    "anyOf": [
                        {"type": "integer", "minimum": 1, "maximum": DB_MAX_INT},
                        {"type": "string", "pattern": "^[0-9]+$"},
                        {"type": "null"},
                    ],
                    "description": "In GiB; may be left out when the volume has a source.",
                },
                "name": NAME, "description": NAME,
                "display_name": NAME, "display_description": NAME,
                "volume_type": {"type": ["string", "null"]},
                "availability_zone": NAME,
                "metadata": METADATA,
                "snapshot_id": NULLABLE_UUID, "source_volid": NULLABLE_UUID,
                "backup_id": NULLABLE_UUID, "consistencygroup_id": NULLABLE_UUID,
                "group_id": NULLABLE_UUID,
                "imageRef": {"type": ["string", "null"]},
                "image_id": {"type": ["string", "null"]},
                # Multiattach comes from the volume type: only "no" is accepted here.
                "multiattach": {"enum": [False, None]},
                "scheduler_hints": {"type": ["object", "null"]},
            },
            additional=False,
            anyOf=[
                {"required": ["size"], "properties": {"size": {"type": ["integer", "string"]}}},
                {"required": ["snapshot_id"]},
                {"required": ["source_volid"]},
                {"required": ["backup_id"]},
            ],
            description="Unknown keys are ignored before microversion 3.53, rejected from it.",
        ),
        SCHEDULER_HINTS_KEY: {"type": ["object", "null"]},
    },
    ("volume",),
)  # fmt: skip
VOLUME_UPDATE: Final = wrapped(
    "volume",
    obj(
        {"name": NAME, "description": NAME, "display_name": NAME,
         "display_description": NAME, "metadata": METADATA},
        additional=False,
        minProperties=1,
    ),
)  # fmt: skip
SNAPSHOT_CREATE: Final = wrapped(
    "snapshot",
    obj(
        {"volume_id": UUID, "name": NAME, "description": NAME, "display_name": NAME,
         "display_description": NAME, "force": {"anyOf": [BOOLEAN, {"type": "null"}]},
         "metadata": METADATA},
        ("volume_id",),
        additional=False,
    ),
)  # fmt: skip
SNAPSHOT_UPDATE: Final = wrapped(
    "snapshot",
    obj(
        {"name": NAME, "description": NAME, "display_name": NAME,
         "display_description": NAME},
        additional=False,
        minProperties=1,
    ),
)  # fmt: skip
METADATA_BODY: Final = obj({"metadata": METADATA}, ("metadata",))
META_ITEM_BODY: Final = wrapped(
    "meta",
    obj(
        additional={"type": "string", "maxLength": MAX_STRING},
        propertyNames={"minLength": 1, "maxLength": MAX_STRING},
        minProperties=1,
        maxProperties=1,
        description="Exactly one item, whose key is the one in the URL.",
    ),
)
TYPE_NAME: Final[Schema] = {"type": "string", "minLength": 1, "maxLength": MAX_STRING,
                            "pattern": "\\S"}  # fmt: skip
EXTRA_SPECS: Final = obj(additional=SPEC_VALUE, propertyNames=SPEC_KEY)
TYPE_CREATE: Final = wrapped(
    "volume_type",
    obj(
        {"name": TYPE_NAME, "description": NAME, "is_public": BOOLEAN,
         "os-volume-type-access:is_public": BOOLEAN,
         "extra_specs": {"anyOf": [EXTRA_SPECS, {"type": "null"}]}},
        ("name",),
    ),
)  # fmt: skip
TYPE_UPDATE: Final = wrapped(
    "volume_type",
    obj({"name": TYPE_NAME, "description": NAME, "is_public": BOOLEAN}, minProperties=1),
)
EXTRA_SPECS_BODY: Final = wrapped("extra_specs", EXTRA_SPECS)
EXTRA_SPEC_ITEM: Final = obj(
    additional=SPEC_VALUE,
    minProperties=1,
    maxProperties=1,
    description="Exactly one extra spec, whose key is the one in the URL.",
)
SERVICE_CHANGE: Final = obj(
    {"host": STRING, "binary": STRING, "disabled_reason": {"type": "string", "pattern": "\\S"}},
    ("host", "binary"),
)
QUOTA_VALUE: Final[Schema] = {"type": "integer", "minimum": -1, "maximum": DB_MAX_INT}
QUOTA_SET_BODY: Final = wrapped("quota_set", obj(additional=QUOTA_VALUE))
QUOTA_CLASS_SET_BODY: Final = wrapped("quota_class_set", obj(additional=QUOTA_VALUE))
WORKERS_CLEANUP: Final = obj(
    {"service_id": {"type": "integer"}, "cluster_name": STRING, "host": STRING,
     "binary": STRING, "is_up": BOOLEAN, "disabled": BOOLEAN, "resource_id": UUID,
     "resource_type": {"enum": ["Volume", "Snapshot"]}},
    additional=False,
)  # fmt: skip
CONNECTOR: Final = obj(minProperties=1, description="os-brick's connector properties.")
ATTACHMENT_CREATE: Final = wrapped(
    "attachment",
    obj(
        {"volume_uuid": UUID, "instance_uuid": NULLABLE_UUID, "connector": CONNECTOR,
         "mode": {"enum": ["rw", "ro", "null"], "description": "From microversion 3.54."}},
        ("volume_uuid",),
    ),
)  # fmt: skip
ATTACHMENT_UPDATE: Final = wrapped("attachment", obj({"connector": CONNECTOR}, ("connector",)))
ATTACHMENT_ACTION: Final = obj({"os-complete": {}}, ("os-complete",), additional=False)

_EMPTY: Final[Schema] = {"type": ["object", "null"]}
VOLUME_ACTIONS: Final[dict[str, Schema]] = {
    "os-extend": obj(
        {"new_size": {"anyOf": [{"type": "integer", "minimum": 1},
                                {"type": "string", "pattern": "^[0-9]+$"}]}},
        ("new_size",),
    ),
    "os-retype": obj(
        {"new_type": STRING, "migration_policy": {"enum": ["never", "on-demand", None]}},
        ("new_type",),
    ),
    "os-set_bootable": obj({"bootable": BOOLEAN}, ("bootable",)),
    "os-update_readonly_flag": obj({"readonly": BOOLEAN}, ("readonly",)),
    "os-reset_status": obj(
        {"status": {"enum": sorted(RESET_STATUSES)},
         "attach_status": {"enum": sorted(ATTACH_STATUSES)},
         "migration_status": {"enum": sorted(MIGRATION_STATUSES, key=str)}},
        minProperties=1,
    ),
    "os-force_delete": _EMPTY,
    "os-reserve": _EMPTY,
    "os-unreserve": _EMPTY,
    "os-begin_detaching": _EMPTY,
    "os-roll_detaching": _EMPTY,
    "os-initialize_connection": obj({"connector": CONNECTOR}, ("connector",)),
    "os-terminate_connection": obj({"connector": obj()}, ("connector",)),
    "os-attach": obj(
        {"mountpoint": {"type": "string", "minLength": 1}, "instance_uuid": UUID,
         "host_name": {"type": "string", "minLength": 1}, "mode": {"enum": ["rw", "ro"]}},
        ("mountpoint",),
        anyOf=[{"required": ["instance_uuid"]}, {"required": ["host_name"]}],
    ),
    "os-detach": obj({"attachment_id": NULLABLE_UUID}),
}  # fmt: skip
SNAPSHOT_ACTIONS: Final[dict[str, Schema]] = {
    "os-reset_status": obj({"status": STRING}, ("status",)),
    "os-force_delete": _EMPTY,
}


def one_of_actions(actions: dict[str, Schema]) -> Schema:
    """A body naming exactly one action: ``{"<action>": {...arguments}}``."""
    return {
        "anyOf": [obj({name: body}, (name,), additional=False) for name, body in actions.items()],
        "description": "Exactly one of: " + ", ".join(actions) + ".",
    }


# ---------------------------------------------------------------------------------------
# response bodies (the keys that are always there; more may come with microversions)

VOLUME_VIEW: Final = obj(
    {"id": STRING, "status": STRING, "size": {"type": "integer"}, "name": NAME,
     "description": {"type": ["string", "null"]}, "metadata": METADATA_VIEW,
     "links": LINKS, "attachments": {"type": "array"}, "bootable": {"enum": ["true", "false"]},
     "created_at": TIMESTAMP, "volume_type": {"type": ["string", "null"]},
     "multiattach": {"type": "boolean"}},
    ("id", "status", "size", "links", "metadata", "attachments"),
)  # fmt: skip
VOLUME_SUMMARY_VIEW: Final = obj({"id": STRING, "name": NAME, "links": LINKS},
                                 ("id", "name", "links"))  # fmt: skip
SNAPSHOT_VIEW: Final = obj(
    {"id": STRING, "status": STRING, "volume_id": STRING, "size": {"type": "integer"},
     "name": NAME, "metadata": METADATA_VIEW, "created_at": TIMESTAMP},
    ("id", "status", "volume_id", "size", "metadata"),
)  # fmt: skip
TYPE_VIEW: Final = obj(
    {"id": STRING, "name": STRING, "is_public": {"type": "boolean"},
     "extra_specs": METADATA_VIEW},
    ("id", "name", "is_public", "extra_specs"),
)  # fmt: skip
ATTACHMENT_SUMMARY_VIEW: Final = obj(
    {"id": STRING, "status": STRING, "volume_id": STRING,
     "instance": {"type": ["string", "null"]}},
    ("id", "status", "volume_id", "instance"),
)  # fmt: skip
ATTACHMENT_VIEW: Final = obj(
    {**ATTACHMENT_SUMMARY_VIEW["properties"], "connection_info": obj(),
     "attach_mode": {"type": ["string", "null"]}},
    ("id", "status", "volume_id", "connection_info"),
)  # fmt: skip
MESSAGE_VIEW: Final = obj(
    {"id": STRING, "event_id": STRING, "user_message": STRING, "message_level": STRING,
     "resource_type": STRING, "resource_uuid": {"type": ["string", "null"]},
     "created_at": TIMESTAMP, "guaranteed_until": TIMESTAMP, "links": LINKS},
    ("id", "event_id", "user_message", "message_level", "links"),
)  # fmt: skip
QUOTA_SET_VIEW: Final = obj(additional={"type": ["integer", "string", "object"]})
VERSIONS: Final = listed(
    "versions",
    obj({"id": STRING, "status": STRING, "version": STRING, "min_version": STRING,
         "links": LINKS}, ("id", "status", "version", "min_version", "links")),
)  # fmt: skip


def volume_list(item: Schema) -> Schema:
    return obj(
        {"volumes": {"type": "array", "items": item}, "volumes_links": LINKS,
         "count": {"type": "integer", "minimum": 0}},
        ("volumes",),
    )  # fmt: skip


def snapshot_list() -> Schema:
    return obj(
        {"snapshots": {"type": "array", "items": SNAPSHOT_VIEW}, "snapshots_links": LINKS,
         "count": {"type": "integer", "minimum": 0}},
        ("snapshots",),
    )  # fmt: skip


# ---------------------------------------------------------------------------------------
# query parameters


def _query(name: str, schema: Schema, description: str = "") -> Schema:
    param: Schema = {"name": name, "in": "query", "required": False, "schema": schema}
    if description:
        param["description"] = description
    return param


_SORT_KEY = "(" + "|".join(sorted(listing.SORT_KEYS)) + ")"
_SORT_ITEM = f"{_SORT_KEY}(:(asc|desc))?"
PAGING: Final = (
    _query("limit", {"type": "integer", "minimum": 0}),
    _query("marker", STRING, "The id of the last item of the previous page."),
    _query("offset", {"type": "integer", "minimum": 0, "maximum": DB_MAX_INT}),
    _query("sort", {"type": "string", "pattern": f"^{_SORT_ITEM}(,{_SORT_ITEM})*$"},
           "key[:direction],... ; not together with sort_key or sort_dir."),
    _query("sort_key", {"enum": sorted(listing.SORT_KEYS)}),
    _query("sort_dir", {"enum": ["asc", "desc"]}),
    _query("with_count", {"type": "boolean"}, "From microversion 3.45."),
    _query("all_tenants", {"type": "boolean"}),
)  # fmt: skip
_TIME_FILTER = {"type": "string", "description": "From 3.60: op:ISO-time[,op:ISO-time]."}
VOLUME_FILTERS: Final = (
    _query("name", STRING),
    _query("status", STRING),
    _query("metadata", STRING, "A Python dict literal, e.g. {'k': 'v'}."),
    _query("bootable", {"type": "boolean"}),
    _query("availability_zone", STRING),
    _query("size", {"type": "integer"}),
    _query("created_at", _TIME_FILTER),
    _query("updated_at", _TIME_FILTER),
    _query("migration_status", STRING),
    _query("consumes_quota", {"type": "boolean"}),
    _query("host", STRING, "Admin only."),
    _query("project_id", STRING, "Admin only, with all_tenants."),
)
SNAPSHOT_FILTERS: Final = (
    _query("volume_id", STRING),
    _query("name", STRING),
    _query("status", STRING),
    _query("metadata", STRING, "A Python dict literal, e.g. {'k': 'v'}."),
)
ATTACHMENT_FILTERS: Final = (
    _query("volume_id", STRING),
    _query("instance_id", STRING),
    _query("status", STRING),
    _query("all_tenants", {"type": "boolean"}),
)


# ---------------------------------------------------------------------------------------
# the operations


@dataclass(frozen=True)
class Op:
    """What the document says about one operation beyond FastAPI's path and id."""

    ok: dict[int, Schema | None]  # success status -> body schema (None: no body)
    body: Schema | None = None
    query: tuple[Schema, ...] = ()
    faults: tuple[int, ...] = ()  # beyond the ones every /v3 operation can answer
    path: dict[str, Schema] = field(default_factory=dict)  # path parameter schemas
    headers: tuple[Schema, ...] = ()
    description: str = ""


IDEMPOTENCY_KEY: Final = {
    "name": "Idempotency-Key", "in": "header", "required": False, "schema": STRING,
    "description": "A retried create with the same key returns the first attempt's resource.",
}  # fmt: skip
# Every /v3 operation: bad input or microversion (400), no valid token (401, with
# auth_strategy = keystone), policy (403), not found or below the operation's microversion
# (404), unsupported microversion (406). Anything with a body may also be too large (413).
COMMON_FAULTS: Final = (400, 401, 403, 404, 406)
BODY_FAULTS: Final = (413,)


def _metadata_ops(collection: str) -> dict[tuple[str, str], Op]:
    base = f"/{collection}/{{owner_id}}/metadata"
    all_items = wrapped("metadata", METADATA_VIEW)
    one_item = wrapped("meta", METADATA_VIEW)
    return {
        ("GET", base): Op({200: all_items}),
        ("POST", base): Op({200: all_items}, METADATA_BODY),
        ("PUT", base): Op({200: all_items}, METADATA_BODY),
        ("GET", base + "/{key}"): Op({200: one_item}),
        ("PUT", base + "/{key}"): Op({200: one_item}, META_ITEM_BODY),
        ("DELETE", base + "/{key}"): Op({200: None}),
    }


OPERATIONS: Final[dict[tuple[str, str], Op]] = {
    # volumes
    ("GET", "/volumes"): Op({200: volume_list(VOLUME_SUMMARY_VIEW)},
                            query=PAGING + VOLUME_FILTERS),
    ("GET", "/volumes/detail"): Op({200: volume_list(VOLUME_VIEW)},
                                   query=PAGING + VOLUME_FILTERS),
    ("GET", "/volumes/summary"): Op(
        {200: wrapped("volume-summary", obj(
            {"total_size": {"type": "integer"}, "total_count": {"type": "integer"},
             "metadata": obj()}, ("total_size", "total_count")))},
        description="From microversion 3.12.",
    ),
    ("POST", "/volumes"): Op({202: wrapped("volume", VOLUME_VIEW)}, VOLUME_CREATE,
                             headers=(IDEMPOTENCY_KEY,)),
    ("GET", "/volumes/{volume_id}"): Op({200: wrapped("volume", VOLUME_VIEW)}),
    ("PUT", "/volumes/{volume_id}"): Op({200: wrapped("volume", VOLUME_VIEW)}, VOLUME_UPDATE),
    ("DELETE", "/volumes/{volume_id}"): Op(
        {202: None},
        query=(_query("cascade", {"type": "boolean"}),
               _query("force", {"type": "boolean"}, "From microversion 3.23.")),
    ),
    ("POST", "/volumes/{volume_id}/action"): Op(
        {202: None, 200: None},
        one_of_actions(VOLUME_ACTIONS),
        faults=(409,),
        description=(
            "202 with no body, except os-set_bootable (200, no body) and "
            "os-initialize_connection (200, {\"connection_info\": {...}})."
        ),
    ),
    **_metadata_ops("volumes"),
    # snapshots
    ("GET", "/snapshots"): Op({200: snapshot_list()}, query=PAGING + SNAPSHOT_FILTERS),
    ("GET", "/snapshots/detail"): Op({200: snapshot_list()}, query=PAGING + SNAPSHOT_FILTERS),
    ("POST", "/snapshots"): Op({202: wrapped("snapshot", SNAPSHOT_VIEW)}, SNAPSHOT_CREATE,
                               headers=(IDEMPOTENCY_KEY,)),
    ("GET", "/snapshots/{snapshot_id}"): Op({200: wrapped("snapshot", SNAPSHOT_VIEW)}),
    ("PUT", "/snapshots/{snapshot_id}"): Op({200: wrapped("snapshot", SNAPSHOT_VIEW)},
                                            SNAPSHOT_UPDATE),
    ("DELETE", "/snapshots/{snapshot_id}"): Op({202: None}),
    ("POST", "/snapshots/{snapshot_id}/action"): Op({202: None},
                                                    one_of_actions(SNAPSHOT_ACTIONS)),
    **_metadata_ops("snapshots"),
    # volume types and extra specs
    ("GET", "/types"): Op({200: listed("volume_types", TYPE_VIEW)},
                          query=(_query("is_public", {"enum": ["true", "false", "none"]}),)),
    ("POST", "/types"): Op({200: wrapped("volume_type", TYPE_VIEW)}, TYPE_CREATE,
                           faults=(409,)),
    ("GET", "/types/{type_id}"): Op({200: wrapped("volume_type", TYPE_VIEW)},
                                    description="type_id may be 'default'."),
    ("PUT", "/types/{type_id}"): Op({200: wrapped("volume_type", TYPE_VIEW)}, TYPE_UPDATE,
                                    faults=(409,)),
    ("DELETE", "/types/{type_id}"): Op({202: None}),
    ("GET", "/types/{type_id}/extra_specs"): Op({200: wrapped("extra_specs", METADATA_VIEW)}),
    ("POST", "/types/{type_id}/extra_specs"): Op({200: wrapped("extra_specs", METADATA_VIEW)},
                                                 EXTRA_SPECS_BODY),
    ("GET", "/types/{type_id}/extra_specs/{key}"): Op(
        {200: obj(additional=STRING, minProperties=1, maxProperties=1)}),
    ("PUT", "/types/{type_id}/extra_specs/{key}"): Op(
        {200: obj(additional=STRING, minProperties=1, maxProperties=1)}, EXTRA_SPEC_ITEM),
    ("DELETE", "/types/{type_id}/extra_specs/{key}"): Op({202: None}),
    # operators
    ("GET", "/os-availability-zone"): Op({200: listed("availabilityZoneInfo", obj(
        {"zoneName": STRING, "zoneState": obj({"available": {"type": "boolean"}},
                                              ("available",))},
        ("zoneName", "zoneState")))}),
    ("GET", "/os-services"): Op(
        {200: listed("services", obj(
            {"binary": STRING, "host": STRING, "zone": STRING,
             "status": {"enum": ["enabled", "disabled"]}, "state": {"enum": ["up", "down"]},
             "updated_at": TIMESTAMP},
            ("binary", "host", "zone", "status", "state")))},
        query=(_query("host", STRING), _query("binary", STRING)),
    ),
    ("PUT", "/os-services/{action}"): Op(
        {200: obj({"host": STRING, "binary": STRING,
                   "status": {"enum": ["enabled", "disabled"]},
                   "disabled": {"type": "boolean"}},
                  ("host", "binary", "status", "disabled"))},
        SERVICE_CHANGE,
        path={"action": {"enum": ["enable", "disable", "disable-log-reason"]}},
    ),
    ("GET", "/scheduler-stats/get_pools"): Op(
        {200: listed("pools", obj({"name": STRING, "capabilities": obj()}, ("name",)))},
        query=(_query("detail", {"type": "boolean"}), _query("name", STRING),
               _query("volume_type", STRING, "From microversion 3.35.")),
    ),
    ("GET", "/extensions"): Op({200: listed("extensions", obj())}),
    # messages (3.3)
    ("GET", "/messages"): Op({200: listed("messages", MESSAGE_VIEW)},
                             query=(_query("resource_uuid", STRING),)),
    ("GET", "/messages/{message_id}"): Op({200: wrapped("message", MESSAGE_VIEW)}),
    ("DELETE", "/messages/{message_id}"): Op({204: None}),
    # limits and quotas
    ("GET", "/limits"): Op(
        {200: wrapped("limits", obj(
            {"rate": {"type": "array"},
             "absolute": obj(additional={"type": "integer"})},
            ("rate", "absolute")))},
        query=(_query("project_id", STRING, "From microversion 3.39."),),
    ),
    ("GET", "/os-quota-sets/{target_project}"): Op(
        {200: wrapped("quota_set", QUOTA_SET_VIEW)}, query=(_query("usage", {"type": "boolean"}),)
    ),
    ("PUT", "/os-quota-sets/{target_project}"): Op({200: wrapped("quota_set", QUOTA_SET_VIEW)},
                                                   QUOTA_SET_BODY),
    ("DELETE", "/os-quota-sets/{target_project}"): Op({200: None}),
    ("GET", "/os-quota-sets/{target_project}/defaults"): Op(
        {200: wrapped("quota_set", QUOTA_SET_VIEW)}),
    ("GET", "/os-quota-class-sets/{class_name}"): Op(
        {200: wrapped("quota_class_set", QUOTA_SET_VIEW)}),
    ("PUT", "/os-quota-class-sets/{class_name}"): Op(
        {200: wrapped("quota_class_set", QUOTA_SET_VIEW)}, QUOTA_CLASS_SET_BODY),
    # workers (3.24)
    ("POST", "/workers/cleanup"): Op(
        {202: obj({"cleaning": {"type": "array"}, "unavailable": {"type": "array"}},
                  ("cleaning", "unavailable"))},
        WORKERS_CLEANUP,
    ),
    # attachments (3.27)
    ("GET", "/attachments"): Op({200: listed("attachments", ATTACHMENT_SUMMARY_VIEW)},
                                query=ATTACHMENT_FILTERS),
    ("GET", "/attachments/detail"): Op({200: listed("attachments", ATTACHMENT_VIEW)},
                                       query=ATTACHMENT_FILTERS),
    ("POST", "/attachments"): Op({200: wrapped("attachment", ATTACHMENT_VIEW)},
                                 ATTACHMENT_CREATE, faults=(409,)),
    ("GET", "/attachments/{attachment_id}"): Op({200: wrapped("attachment", ATTACHMENT_VIEW)}),
    ("PUT", "/attachments/{attachment_id}"): Op({200: wrapped("attachment", ATTACHMENT_VIEW)},
                                                ATTACHMENT_UPDATE, faults=(409,)),
    ("DELETE", "/attachments/{attachment_id}"): Op(
        {200: listed("attachments", ATTACHMENT_SUMMARY_VIEW)}),
    ("POST", "/attachments/{attachment_id}/action"): Op({204: None}, ATTACHMENT_ACTION,
                                                        description="From microversion 3.44."),
}  # fmt: skip

# Operations outside /v3 (no microversion, no faults of their own).
ROOT_OPERATIONS: Final[dict[tuple[str, str], Op]] = {
    ("GET", "/"): Op({300: VERSIONS}),
    ("GET", "/v3"): Op({200: VERSIONS}, faults=(401,)),
    ("GET", "/v3/"): Op({200: VERSIONS}, faults=(401,)),
    ("GET", "/healthcheck"): Op({200: obj({"status": {"const": "OK"}}, ("status",))}),
}


# ---------------------------------------------------------------------------------------
# request examples (the ones a fuzzer starts from, too; none destroys what it names)

_ACTION_EXAMPLES: Final[dict[str, Any]] = {
    "os-extend": {"new_size": 2},
    "os-retype": {"new_type": "__DEFAULT__", "migration_policy": "never"},
    "os-set_bootable": {"bootable": True},
    "os-update_readonly_flag": {"readonly": False},
    "os-reset_status": {"status": "available"},
    "os-reserve": {},
    "os-unreserve": {},
    "os-begin_detaching": {},
    "os-roll_detaching": {},
    "os-initialize_connection": {"connector": {"host": "compute-1", "initiator": "iqn.x"}},
    "os-terminate_connection": {"connector": {"host": "compute-1"}},
    "os-attach": {"mountpoint": "/dev/vdb", "host_name": "compute-1", "mode": "rw"},
    "os-detach": {},
}
EXAMPLES: Final[dict[tuple[str, str], dict[str, Any]]] = {
    ("POST", "/volumes"): {
        "blank": {"volume": {"size": 1, "name": "vol-1", "metadata": {"purpose": "test"}}},
    },
    ("PUT", "/volumes/{volume_id}"): {"rename": {"volume": {"name": "vol-2"}}},
    ("POST", "/volumes/{volume_id}/action"): {
        name: {name: args} for name, args in _ACTION_EXAMPLES.items()
    },
    ("POST", "/snapshots"): {
        "snapshot": {"snapshot": {"volume_id": "3f2a8a52-32c9-4b3c-9bb1-2f1e2d7c7f10",
                                  "name": "snap-1", "force": False}},
    },
    ("PUT", "/snapshots/{snapshot_id}"): {"rename": {"snapshot": {"name": "snap-2"}}},
    ("POST", "/snapshots/{snapshot_id}/action"): {
        "os-reset_status": {"os-reset_status": {"status": "available"}},
    },
    ("POST", "/types"): {
        "type": {"volume_type": {"name": "gold", "description": "fast",
                                 "extra_specs": {"volume_backend_name": "file-1"}}},
    },
    ("PUT", "/types/{type_id}"): {"describe": {"volume_type": {"description": "faster"}}},
    ("POST", "/types/{type_id}/extra_specs"): {"specs": {"extra_specs": {"color": "blue"}}},
    ("PUT", "/os-services/{action}"): {"service": {"host": "host@file-1",
                                                   "binary": "cinder-volume"}},
    ("PUT", "/os-quota-sets/{target_project}"): {"quota": {"quota_set": {"volumes": 20}}},
    ("PUT", "/os-quota-class-sets/{class_name}"): {
        "quota": {"quota_class_set": {"gigabytes": 2000}},
    },
    ("POST", "/workers/cleanup"): {"all": {}},
    ("POST", "/attachments"): {
        "reserve": {"attachment": {"volume_uuid": "3f2a8a52-32c9-4b3c-9bb1-2f1e2d7c7f10",
                                   "instance_uuid": "0b7e8f3c-5d71-4a5e-8a8c-6f7d1d1f5e21"}},
    },
    ("PUT", "/attachments/{attachment_id}"): {
        "connect": {"attachment": {"connector": {"host": "compute-1", "initiator": "iqn.x"}}},
    },
    ("POST", "/attachments/{attachment_id}/action"): {"complete": {"os-complete": None}},
    ("POST", "/volumes/{owner_id}/metadata"): {"merge": {"metadata": {"k": "v"}}},
    ("PUT", "/volumes/{owner_id}/metadata"): {"replace": {"metadata": {"k": "v"}}},
    ("POST", "/snapshots/{owner_id}/metadata"): {"merge": {"metadata": {"k": "v"}}},
    ("PUT", "/snapshots/{owner_id}/metadata"): {"replace": {"metadata": {"k": "v"}}},
}  # fmt: skip


# ---------------------------------------------------------------------------------------
# links: where the id a create returns can be used next (clients and stateful fuzzers)


Link = tuple[str, str, dict[str, str]]  # target method, target path, parameter expressions


def _uses(id_param: str, expression: str, *targets: tuple[str, str]) -> list[Link]:
    return [(method, path, {id_param: expression}) for method, path in targets]


_VOLUME = "$response.body#/volume/id"
_SNAPSHOT = "$response.body#/snapshot/id"
_TYPE = "$response.body#/volume_type/id"
_ATTACHMENT = "$response.body#/attachment/id"
FOLLOW_UPS: Final[dict[tuple[str, str, int], list[Link]]] = {
    ("POST", "/volumes", 202): [
        *_uses("volume_id", _VOLUME, ("GET", "/volumes/{volume_id}"),
               ("PUT", "/volumes/{volume_id}"), ("DELETE", "/volumes/{volume_id}"),
               ("POST", "/volumes/{volume_id}/action")),
        *_uses("owner_id", _VOLUME, ("GET", "/volumes/{owner_id}/metadata"),
               ("POST", "/volumes/{owner_id}/metadata"), ("PUT", "/volumes/{owner_id}/metadata"),
               ("PUT", "/volumes/{owner_id}/metadata/{key}")),
    ],
    ("POST", "/snapshots", 202): [
        *_uses("snapshot_id", _SNAPSHOT, ("GET", "/snapshots/{snapshot_id}"),
               ("PUT", "/snapshots/{snapshot_id}"), ("DELETE", "/snapshots/{snapshot_id}"),
               ("POST", "/snapshots/{snapshot_id}/action")),
        *_uses("owner_id", _SNAPSHOT, ("GET", "/snapshots/{owner_id}/metadata"),
               ("POST", "/snapshots/{owner_id}/metadata"),
               ("PUT", "/snapshots/{owner_id}/metadata"),
               ("PUT", "/snapshots/{owner_id}/metadata/{key}")),
    ],
    ("POST", "/types", 200): _uses(
        "type_id", _TYPE, ("GET", "/types/{type_id}"), ("PUT", "/types/{type_id}"),
        ("DELETE", "/types/{type_id}"), ("GET", "/types/{type_id}/extra_specs"),
        ("POST", "/types/{type_id}/extra_specs"), ("PUT", "/types/{type_id}/extra_specs/{key}"),
    ),
    ("POST", "/attachments", 200): _uses(
        "attachment_id", _ATTACHMENT, ("GET", "/attachments/{attachment_id}"),
        ("PUT", "/attachments/{attachment_id}"), ("DELETE", "/attachments/{attachment_id}"),
        ("POST", "/attachments/{attachment_id}/action"),
    ),
}  # fmt: skip


def _add_links(paths: dict[str, Any]) -> None:
    for prefix in PREFIXES:
        for (method, path, status), targets in FOLLOW_UPS.items():
            source = paths.get(prefix + path, {}).get(method.lower())
            if source is None:
                continue
            links: Schema = {}
            for target_method, target_path, params in targets:
                target = paths.get(prefix + target_path, {}).get(target_method.lower())
                if target is None:
                    continue
                parameters = dict(params)
                if "{project_id}" in prefix:
                    parameters["project_id"] = "$request.path.project_id"
                name = target["operationId"]
                links[name] = {"operationId": name, "parameters": parameters}
            source["responses"][str(status)]["links"] = links


# ---------------------------------------------------------------------------------------
# components


def _minor_versions() -> str:
    minors = range(microversion.MIN.minor, microversion.MAX.minor + 1)
    return "|".join(str(m) for m in minors)


API_VERSION_PATTERN: Final = f"^volume (3\\.({_minor_versions()})|latest)$"
RESPONSE_VERSION_PATTERN: Final = f"^volume 3\\.({_minor_versions()})$"


def _fault_schema(code: int) -> Schema:
    name = fault_name(code)
    return obj(
        {name: {"allOf": [_ref("schemas", "FaultDetail"),
                          obj({"code": {"const": code}})]}},
        (name,),
        additional=False,
    )  # fmt: skip


def _fault_response(code: int, description: str) -> Schema:
    schema = _ref("schemas", f"Fault{code}")
    if code == 401:
        # keystonemiddleware answers in its own format.
        keystone = wrapped(
            "error",
            obj({"code": {"const": 401}, "title": STRING, "message": STRING}, ("code", "message")),
        )
        schema = {"anyOf": [schema, keystone]}
    headers: Schema = {
        "x-openstack-request-id": _ref("headers", "RequestId"),
        "OpenStack-API-Version": _ref("headers", "ApiVersionAnswered"),
    }
    if code == 413:
        headers["Retry-After"] = _ref("headers", "RetryAfter")
    return {
        "description": description,
        "headers": headers,
        "content": {JSON: {"schema": schema}},
    }


_FAULT_DESCRIPTIONS: Final = {
    400: "Bad request: malformed or invalid input, or a malformed microversion.",
    401: "No valid token (auth_strategy = keystone).",
    403: "Policy does not allow the caller to do this.",
    404: "Not found, not visible to the caller, or not at this microversion.",
    406: "The requested microversion is not supported.",
    409: "The request conflicts with the resource's current state.",
    413: "Over a quota, or the request body is too large.",
}


def _components() -> Schema:
    schemas: Schema = {
        "FaultDetail": obj(
            {"code": {"type": "integer"}, "message": {"type": "string"},
             "retryAfter": {"type": "string"}},
            ("code", "message"),
        ),
    }  # fmt: skip
    for code in _FAULT_DESCRIPTIONS:
        schemas[f"Fault{code}"] = _fault_schema(code)
    return {
        "schemas": schemas,
        "responses": {
            f"Fault{code}": _fault_response(code, text)
            for code, text in _FAULT_DESCRIPTIONS.items()
        },
        "headers": {
            "RequestId": {
                "description": "The id of this request, as logged by the service.",
                "required": True,
                "schema": {"type": "string", "pattern": "^req-[0-9a-f-]{36}$"},
            },
            "ApiVersion": {
                "description": "The microversion the request was served at.",
                "required": True,
                "schema": {"type": "string", "pattern": RESPONSE_VERSION_PATTERN},
            },
            "ApiVersionAnswered": {
                "description": "The microversion, when the request's one could be read.",
                "required": False,
                "schema": {"type": "string", "pattern": RESPONSE_VERSION_PATTERN},
            },
            "RetryAfter": {
                "description": "Seconds before a retry may succeed.",
                "required": True,
                "schema": {"type": "string", "pattern": "^[0-9]+$"},
            },
        },
        "parameters": {
            "ApiVersion": {
                "name": microversion.HEADER,
                "in": "header",
                "required": False,
                "description": (
                    f"The microversion, '{microversion.SERVICE} 3.X' or "
                    f"'{microversion.SERVICE} latest'; {microversion.MIN} when absent."
                ),
                "schema": {"type": "string", "pattern": API_VERSION_PATTERN},
            },
            "ProjectId": {
                "name": "project_id",
                "in": "path",
                "required": True,
                "description": "The caller's project (it must be the token's project).",
                "schema": {"type": "string", "minLength": 1},
            },
        },
    }


# ---------------------------------------------------------------------------------------
# assembling


def _split(path: str) -> tuple[str | None, str]:
    """(prefix, path below it) of a FastAPI path; no prefix for the root operations."""
    if any(path == root for _, root in ROOT_OPERATIONS):
        return None, path
    for prefix in PREFIXES:
        if path.startswith(prefix + "/"):
            return prefix, path[len(prefix) :]
    return None, path


def _success(status: int, body: Schema | None, *, in_v3: bool) -> Schema:
    headers: Schema = {"x-openstack-request-id": _ref("headers", "RequestId")}
    if in_v3:
        headers["OpenStack-API-Version"] = _ref("headers", "ApiVersion")
    response: Schema = {"description": "Success.", "headers": headers}
    if body is not None:
        response["content"] = {JSON: {"schema": body}}
    return response


def _path_parameters(path: str, op: Op, prefix: str | None) -> list[Schema]:
    params: list[Schema] = []
    if prefix == "/v3/{project_id}":
        params.append(_ref("parameters", "ProjectId"))
    for segment in path.split("/"):
        if segment.startswith("{") and segment.endswith("}"):
            name = segment[1:-1]
            schema = op.path.get(name, {"type": "string", "minLength": 1})
            params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return params


def _lookup(method: str, path: str, prefix: str | None) -> Op | None:
    key = (method.upper(), path)
    return OPERATIONS.get(key) if prefix is not None else ROOT_OPERATIONS.get(key)


def undescribed(doc: dict[str, Any]) -> list[str]:
    """``METHOD path`` of each operation of FastAPI's document this module does not describe."""
    missing = []
    for full_path, item in doc.get("paths", {}).items():
        prefix, path = _split(full_path)
        missing += [f"{m.upper()} {full_path}" for m in item if _lookup(m, path, prefix) is None]
    return missing


def _describe(method: str, path: str, operation: Schema, prefix: str | None) -> None:
    key = (method.upper(), path)
    in_v3 = prefix is not None
    op = _lookup(method, path, prefix)
    if op is None:
        # A route nobody described yet (the unit tests catch it): its success statuses, no
        # body schemas, and the faults every operation can give.
        ok: dict[int, Schema | None] = {
            int(code): None for code in operation.get("responses", {}) if code != "422"
        }
        op = Op(ok or {200: None})
    params = _path_parameters(path, op, prefix)
    params += [copy.deepcopy(q) for q in op.query]
    params += [copy.deepcopy(h) for h in op.headers]
    if in_v3:
        params.append(_ref("parameters", "ApiVersion"))
    if params:
        operation["parameters"] = params
    else:
        operation.pop("parameters", None)
    if op.body is not None:
        media: Schema = {"schema": copy.deepcopy(op.body)}
        if key in EXAMPLES:
            media["examples"] = {k: {"value": v} for k, v in copy.deepcopy(EXAMPLES[key]).items()}
        operation["requestBody"] = {"required": True, "content": {JSON: media}}
    responses: Schema = {
        str(status): _success(status, copy.deepcopy(body), in_v3=in_v3)
        for status, body in op.ok.items()
    }
    faults = set(op.faults)
    if in_v3:
        faults |= set(COMMON_FAULTS)
        if op.body is not None:
            faults |= set(BODY_FAULTS)
    for code in sorted(faults):
        responses[str(code)] = _ref("responses", f"Fault{code}")
    operation["responses"] = responses
    if op.description:
        operation["description"] = op.description


def build(app: FastAPI) -> dict[str, Any]:
    """The whole document for ``app`` (FastAPI's, completed as the module docstring says)."""
    doc = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    for full_path, item in doc.get("paths", {}).items():
        prefix, path = _split(full_path)
        for method, operation in item.items():
            _describe(method, path, operation, prefix)
    _add_links(doc.get("paths", {}))
    doc["components"] = _components()
    return doc


def document(app: FastAPI) -> dict[str, Any]:
    """The document, built once per app (FastAPI's ``app.openapi`` contract)."""
    if app.openapi_schema is None:
        app.openapi_schema = build(app)
    return app.openapi_schema
