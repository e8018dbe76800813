"""What the OpenAPI document says about each operation (``Op``, ``OPERATIONS``,
``ROOT_OPERATIONS``), the request examples and the follow-up links."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from firebrick.api.openapi import backups as backups_openapi
from firebrick.api.openapi import groups as groups_openapi
from firebrick.api.openapi.images import IMAGE_ACTION_EXAMPLES, IMAGE_VOLUME_ACTIONS
from firebrick.api.openapi.operator_schemas import (
    CAPABILITIES_VIEW,
    HOST_BODY,
    HOST_USAGE_VIEW,
    HOST_VIEW,
    TYPE_ACCESS_ACTIONS,
)
from firebrick.api.openapi.qos import operations as qos_operations
from firebrick.api.openapi.schemas import (
    ATTACHMENT_ACTION,
    ATTACHMENT_CREATE,
    ATTACHMENT_FILTERS,
    ATTACHMENT_SUMMARY_VIEW,
    ATTACHMENT_UPDATE,
    ATTACHMENT_VIEW,
    EXTRA_SPEC_ITEM,
    EXTRA_SPECS_BODY,
    MESSAGE_VIEW,
    META_ITEM_BODY,
    METADATA_BODY,
    METADATA_VIEW,
    PAGING,
    QUOTA_CLASS_SET_BODY,
    QUOTA_SET_BODY,
    QUOTA_SET_VIEW,
    SERVICE_CHANGE,
    SNAPSHOT_ACTIONS,
    SNAPSHOT_CREATE,
    SNAPSHOT_FILTERS,
    SNAPSHOT_UPDATE,
    SNAPSHOT_VIEW,
    STRING,
    TIMESTAMP,
    TYPE_CREATE,
    TYPE_UPDATE,
    TYPE_VIEW,
    VERSIONS,
    VOLUME_ACTIONS,
    VOLUME_CREATE,
    VOLUME_FILTERS,
    VOLUME_SUMMARY_VIEW,
    VOLUME_UPDATE,
    VOLUME_VIEW,
    WORKERS_CLEANUP,
    Schema,
    listed,
    obj,
    one_of_actions,
    param,
    snapshot_list,
    volume_list,
    wrapped,
)
from firebrick.api.openapi.timeline import TIMELINE_OPERATIONS
from firebrick.api.openapi.transfers import TRANSFER_OPERATIONS

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


# [manage] (its module needs Op, defined above)
from firebrick.api.openapi.manage import MANAGE_OPERATIONS  # noqa: E402

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
        query=(param("cascade", {"type": "boolean"}),
               param("force", {"type": "boolean"}, "From microversion 3.23.")),
    ),
    ("POST", "/volumes/{volume_id}/action"): Op(
        {202: None, 200: None},
        one_of_actions(VOLUME_ACTIONS | IMAGE_VOLUME_ACTIONS),
        faults=(409,),
        description=(
            "202 with no body, except os-set_bootable (200, no body), "
            "os-initialize_connection (200, {\"connection_info\": {...}}), "
            "os-volume_upload_image (202, {\"os-volume_upload_image\": {...}}) and the image "
            "metadata actions (200, {\"metadata\": {...}}; os-unset_image_metadata no body)."
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
                          query=(param("is_public", {"enum": ["true", "false", "none"]}),)),
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
        query=(param("host", STRING), param("binary", STRING)),
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
        query=(param("detail", {"type": "boolean"}), param("name", STRING),
               param("volume_type", STRING, "From microversion 3.35.")),
    ),
    ("GET", "/extensions"): Op({200: listed("extensions", obj(
        {"name": STRING, "alias": STRING, "updated": STRING, "description": STRING,
         "links": {"type": "array"}},
        ("name", "alias", "updated", "description", "links")))}),
    # messages (3.3)
    ("GET", "/messages"): Op({200: listed("messages", MESSAGE_VIEW)},
                             query=(param("resource_uuid", STRING),)),
    ("GET", "/messages/{message_id}"): Op({200: wrapped("message", MESSAGE_VIEW)}),
    ("DELETE", "/messages/{message_id}"): Op({204: None}),
    # limits and quotas
    ("GET", "/limits"): Op(
        {200: wrapped("limits", obj(
            {"rate": {"type": "array"},
             "absolute": obj(additional={"type": "integer"})},
            ("rate", "absolute")))},
        query=(param("project_id", STRING, "From microversion 3.39."),),
    ),
    ("GET", "/os-quota-sets/{target_project}"): Op(
        {200: wrapped("quota_set", QUOTA_SET_VIEW)}, query=(param("usage", {"type": "boolean"}),)
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
    # [qos]
    **qos_operations(Op),

    # [transfers]
    **{key: Op(**spec) for key, spec in TRANSFER_OPERATIONS.items()},

    # [groups]
    **groups_openapi.operations(Op),

    # [manage]
    **MANAGE_OPERATIONS,

    # [migration]

    # [images]

    # [backups]
    **backups_openapi.operations(Op),

    # [rbd]

    # [notifications]

    # [metrics]
    **{key: Op(**spec) for key, spec in TIMELINE_OPERATIONS.items()},

    # [core]
    ("PUT", "/os-services/freeze"): Op({200: None}, HOST_BODY,
                                       description="The volume services of a host."),
    ("PUT", "/os-services/thaw"): Op({200: None}, HOST_BODY),
    ("GET", "/capabilities/{host}"): Op({200: CAPABILITIES_VIEW},
                                        description="host is host@backend, with or without #pool."),
    ("GET", "/os-hosts"): Op({200: listed("hosts", HOST_VIEW)}, query=(param("zone", STRING),)),
    ("GET", "/os-hosts/{host_name}"): Op({200: listed("host", HOST_USAGE_VIEW)}),
    ("GET", "/types/{type_id}/os-volume-type-access"): Op(
        {200: listed("volume_type_access", obj(
            {"volume_type_id": STRING, "project_id": STRING},
            ("volume_type_id", "project_id")))}),
    ("POST", "/types/{type_id}/action"): Op({202: None}, TYPE_ACCESS_ACTIONS, faults=(409,)),
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
    **IMAGE_ACTION_EXAMPLES,
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
    ("PUT", "/os-services/freeze"): {"host": {"host": "host@file-1"}},
    ("PUT", "/os-services/thaw"): {"host": {"host": "host@file-1"}},
    ("POST", "/types/{type_id}/action"): {
        "share": {"addProjectAccess": {"project": "0b7e8f3c5d714a5e8a8c6f7d1d1f5e21"}},
    },
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
