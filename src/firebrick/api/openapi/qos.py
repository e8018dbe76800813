"""What the OpenAPI document says about ``/qos-specs`` and the encryption routes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, TypeVar

from firebrick.api.openapi.schemas import (
    LINKS,
    SPEC_KEY,
    STRING,
    TIMESTAMP,
    Schema,
    listed,
    obj,
    param,
    wrapped,
)

T = TypeVar("T")
MAX_STRING: Final = 255
_STRING_OR_NULL: Final[Schema] = {"type": ["string", "null"], "maxLength": MAX_STRING}

QOS_CREATE: Final = wrapped(
    "qos_specs",
    obj(
        {"name": {"type": "string", "minLength": 1, "maxLength": MAX_STRING},
         "consumer": {"enum": ["front-end", "back-end", "both"]}},
        ("name",),
        additional={"type": ["string", "null"], "maxLength": MAX_STRING},
        description="The name, the consumer (default back-end) and any keys.",
    ),
)  # fmt: skip
QOS_SET: Final = wrapped("qos_specs", obj(additional=_STRING_OR_NULL, propertyNames=SPEC_KEY))
QOS_UNSET: Final = obj(
    {"keys": {"type": "array", "uniqueItems": True,
              "items": {"type": "string", "minLength": 1, "maxLength": MAX_STRING}}},
    ("keys",),
    additional=False,
)  # fmt: skip
QOS_VIEW: Final = obj(
    {"id": STRING, "name": STRING, "consumer": STRING,
     "specs": {"type": ["object", "null"], "additionalProperties": _STRING_OR_NULL}},
    ("id", "name", "consumer", "specs"),
)  # fmt: skip
QOS_DETAIL: Final = obj({"qos_specs": QOS_VIEW, "links": LINKS}, ("qos_specs", "links"))
QOS_ASSOCIATIONS: Final = listed(
    "qos_associations",
    obj({"association_type": STRING, "id": STRING, "name": STRING},
        ("association_type", "id", "name")),
)  # fmt: skip
VOL_TYPE_ID: Final = param("vol_type_id", STRING, "The volume type's id.")
_SORT_KEYS: Final = ["consumer", "created_at", "id", "name", "updated_at"]
_SORT_ITEM: Final = f"({'|'.join(_SORT_KEYS)})(:(asc|desc))?"
QOS_PAGING: Final = (
    param("limit", {"type": "integer", "minimum": 0}),
    param("marker", STRING, "The id of the last specs of the previous page."),
    param("offset", {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}),
    param("sort", {"type": "string", "pattern": f"^{_SORT_ITEM}(,{_SORT_ITEM})*$"}),
    param("sort_key", {"enum": _SORT_KEYS}),
    param("sort_dir", {"enum": ["asc", "desc"]}),
    param("name", STRING),
    param("consumer", STRING),
)

KEY_SIZE: Final[Schema] = {"type": ["integer", "string", "null"]}
ENCRYPTION_FIELDS: Final[dict[str, Schema]] = {
    "provider": {"type": "string", "maxLength": MAX_STRING},
    "cipher": _STRING_OR_NULL,
    "key_size": KEY_SIZE,
    "control_location": {"enum": ["front-end", "back-end"]},
}
ENCRYPTION_CREATE: Final = wrapped(
    "encryption", obj(ENCRYPTION_FIELDS, ("provider", "control_location"))
)
ENCRYPTION_UPDATE: Final = wrapped("encryption", obj(ENCRYPTION_FIELDS))
ENCRYPTION_VIEW: Final = obj(
    {"volume_type_id": STRING, "encryption_id": STRING, "provider": {"type": ["string", "null"]},
     "cipher": {"type": ["string", "null"]}, "key_size": {"type": ["integer", "null"]},
     "control_location": {"type": ["string", "null"]}, "created_at": TIMESTAMP,
     "updated_at": TIMESTAMP, "deleted": {"type": "boolean"}, "deleted_at": TIMESTAMP},
    description="Empty when the type has no encryption.",
)  # fmt: skip
VOLUME_ENCRYPTION: Final = obj(
    {"encryption_key_id": {"type": ["string", "null"]}, "provider": {"type": ["string", "null"]},
     "cipher": {"type": ["string", "null"]}, "key_size": {"type": ["integer", "null"]},
     "control_location": {"type": ["string", "null"]}},
    ("encryption_key_id",),
)  # fmt: skip


def operations(Op: Callable[..., T]) -> dict[tuple[str, str], T]:
    """The operations, keyed as ``operations.OPERATIONS``, built with its ``Op``."""
    qos = "/qos-specs/{qos_id}"
    item = "/types/{type_id}/encryption"
    return {
        ("GET", "/qos-specs"): Op({200: obj({"qos_specs": {"type": "array", "items": QOS_VIEW},
                                                 "qos_specs_links": LINKS}, ("qos_specs",))},
                                   query=QOS_PAGING),
        ("POST", "/qos-specs"): Op({200: QOS_DETAIL}, QOS_CREATE, faults=(409,)),
        ("GET", qos): Op({200: QOS_DETAIL}),
        ("PUT", qos): Op({200: wrapped("qos_specs", obj(additional=_STRING_OR_NULL))}, QOS_SET),
        ("DELETE", qos): Op({202: None}, query=(param("force", {"type": "boolean"}),)),
        ("PUT", qos + "/delete_keys"): Op({202: None}, QOS_UNSET),
        ("GET", qos + "/associations"): Op({200: QOS_ASSOCIATIONS}),
        ("GET", qos + "/associate"): Op({202: None}, query=(VOL_TYPE_ID,)),
        ("GET", qos + "/disassociate"): Op({202: None}, query=(VOL_TYPE_ID,)),
        ("GET", qos + "/disassociate_all"): Op({202: None}),
        ("GET", item): Op({200: ENCRYPTION_VIEW}),
        ("POST", item): Op({200: wrapped("encryption", obj(ENCRYPTION_FIELDS))},
                           ENCRYPTION_CREATE),
        ("GET", item + "/{key}"): Op({200: obj()}),
        ("PUT", item + "/{encryption_id}"): Op({200: wrapped("encryption", obj())},
                                               ENCRYPTION_UPDATE),
        ("DELETE", item + "/{encryption_id}"): Op({202: None}),
        ("GET", "/volumes/{volume_id}/encryption"): Op({200: VOLUME_ENCRYPTION}),
        ("GET", "/volumes/{volume_id}/encryption/{key}"): Op(
            {200: {"type": ["string", "integer", "null"]}},
            description="One value of the volume's encryption metadata, bare.",
        ),
    }  # fmt: skip
