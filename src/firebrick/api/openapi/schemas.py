"""The schema building blocks of the OpenAPI document, and the request, response and
query parameter schemas built from them."""

from __future__ import annotations

from typing import Any, Final

from firebrick.api import listing
from firebrick.api.validation import DB_MAX_INT, MAX_STRING, SCHEDULER_HINTS_KEY
from firebrick.api.volume_actions import ATTACH_STATUSES, MIGRATION_STATUSES, RESET_STATUSES

Schema = dict[str, Any]


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
    "os-unmanage": {"description": "Any value; the volume's storage stays."},
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
    # migration and revert
    "os-migrate_volume": obj(
        {"host": {"type": ["string", "null"], "maxLength": MAX_STRING,
                  "description": "host@backend#pool (or host@backend)."},
         "cluster": {"type": "string", "maxLength": MAX_STRING,
                     "description": "From microversion 3.16, instead of host."},
         "force_host_copy": BOOLEAN, "lock_volume": BOOLEAN},
        additional=False,
    ),
    "os-migrate_volume_completion": obj(
        {"new_volume": UUID, "error": {"type": ["string", "null", "boolean"]}},
        ("new_volume",), additional=False,
    ),
    "revert": obj({"snapshot_id": {"type": ["string", "null"]}},
                  description="From microversion 3.40."),
}  # fmt: skip
SNAPSHOT_ACTIONS: Final[dict[str, Schema]] = {
    "os-reset_status": obj({"status": STRING}, ("status",)),
    "os-force_delete": _EMPTY,
    "os-update_snapshot_status": obj(
        {"status": STRING, "progress": {"type": ["string", "null"], "pattern": "^[0-9]+%$"}},
        ("status",),
        additional=False,
    ),
    "os-unmanage": {"description": "Any value; the snapshot's storage stays."},
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


def param(name: str, schema: Schema, description: str = "") -> Schema:
    param: Schema = {"name": name, "in": "query", "required": False, "schema": schema}
    if description:
        param["description"] = description
    return param


_SORT_KEY = "(" + "|".join(sorted(listing.SORT_KEYS)) + ")"
_SORT_ITEM = f"{_SORT_KEY}(:(asc|desc))?"
PAGING: Final = (
    param("limit", {"type": "integer", "minimum": 0}),
    param("marker", STRING, "The id of the last item of the previous page."),
    param("offset", {"type": "integer", "minimum": 0, "maximum": DB_MAX_INT}),
    param("sort", {"type": "string", "pattern": f"^{_SORT_ITEM}(,{_SORT_ITEM})*$"},
           "key[:direction],... ; not together with sort_key or sort_dir."),
    param("sort_key", {"enum": sorted(listing.SORT_KEYS)}),
    param("sort_dir", {"enum": ["asc", "desc"]}),
    param("with_count", {"type": "boolean"}, "From microversion 3.45."),
    param("all_tenants", {"type": "boolean"}),
)  # fmt: skip
_TIME_FILTER = {"type": "string", "description": "From 3.60: op:ISO-time[,op:ISO-time]."}
VOLUME_FILTERS: Final = (
    param("name", STRING),
    param("status", STRING),
    param("metadata", STRING, "A Python dict literal, e.g. {'k': 'v'}."),
    param("bootable", {"type": "boolean"}),
    param("availability_zone", STRING),
    param("size", {"type": "integer"}),
    param("created_at", _TIME_FILTER),
    param("updated_at", _TIME_FILTER),
    param("migration_status", STRING),
    param("consumes_quota", {"type": "boolean"}),
    param("glance_metadata", STRING, "A Python dict literal; from 3.4, admin only from 3.31."),
    param("host", STRING, "Admin only."),
    param("project_id", STRING, "Admin only, with all_tenants."),
)
SNAPSHOT_FILTERS: Final = (
    param("volume_id", STRING),
    param("name", STRING),
    param("status", STRING),
    param("metadata", STRING, "A Python dict literal, e.g. {'k': 'v'}."),
)
ATTACHMENT_FILTERS: Final = (
    param("volume_id", STRING),
    param("instance_id", STRING),
    param("status", STRING),
    param("all_tenants", {"type": "boolean"}),
)
