"""What the OpenAPI document says about the transfer operations, on both collections.

Each entry is the keyword arguments of an ``operations.Op`` (this module cannot import
``operations``, which imports it).
"""

from __future__ import annotations

from typing import Any, Final

from firebrick.api.openapi.schemas import (
    BOOLEAN,
    LINKS,
    STRING,
    TIMESTAMP,
    UUID,
    Schema,
    listed,
    obj,
    param,
    wrapped,
)
from firebrick.api.validation import DB_MAX_INT, MAX_STRING
from firebrick.db.transfers import COLUMNS

_NAME: Final[Schema] = {
    "type": ["string", "null"],
    "pattern": "\\S",
    "description": f"At most {MAX_STRING} characters once stripped of surrounding blanks.",
}
_NULLABLE_STRING: Final[Schema] = {"type": ["string", "null"]}

TRANSFER_SUMMARY: Final = obj(
    {"id": UUID, "volume_id": UUID, "name": _NULLABLE_STRING, "links": LINKS},
    ("id", "volume_id", "name", "links"),
)
TRANSFER_VIEW: Final = obj(
    {
        "id": UUID, "created_at": TIMESTAMP, "name": _NULLABLE_STRING, "volume_id": UUID,
        "links": LINKS,
        "no_snapshots": {"type": "boolean", "description": "From microversion 3.55."},
        "source_project_id": {"type": ["string", "null"],
                              "description": "From microversion 3.57."},
        "destination_project_id": {"type": ["string", "null"],
                                   "description": "From microversion 3.57."},
        "accepted": {"type": "boolean", "description": "From microversion 3.57."},
    },
    ("id", "created_at", "name", "volume_id", "links"),
)  # fmt: skip
TRANSFER_CREATED: Final = obj(
    {**TRANSFER_VIEW["properties"],
     "auth_key": {"type": "string", "description": "Shown in this answer only."}},
    ("id", "created_at", "name", "volume_id", "links", "auth_key"),
)  # fmt: skip


def _create_body(*, with_snapshots: bool) -> Schema:
    properties: dict[str, Schema] = {"volume_id": UUID, "name": _NAME}
    if with_snapshots:
        properties["no_snapshots"] = {**BOOLEAN, "description": "From microversion 3.55."}
    return wrapped("transfer", obj(properties, ("volume_id",), additional=False))


TRANSFER_ACCEPT: Final = wrapped(
    "accept", obj({"auth_key": {"type": ["string", "integer"]}}, ("auth_key",), additional=False)
)

_SORT_ITEM = "(" + "|".join(sorted(COLUMNS)) + ")(:(asc|desc))?"
TRANSFER_QUERY: Final = (
    param("limit", {"type": "integer", "minimum": 0}),
    param("marker", STRING, "The id of the last transfer of the previous page."),
    param("offset", {"type": "integer", "minimum": 0, "maximum": DB_MAX_INT}),
    param("sort", {"type": "string", "pattern": f"^{_SORT_ITEM}(,{_SORT_ITEM})*$"},
          "From microversion 3.59 on /volume-transfers."),
    param("sort_key", {"enum": sorted(COLUMNS)}, "From microversion 3.59 on /volume-transfers."),
    param("sort_dir", {"enum": ["asc", "desc"]}, "From microversion 3.59 on /volume-transfers."),
    param("all_tenants", STRING, "Admin only."),
    param("name", STRING),
    param("volume_id", STRING),
    param("id", STRING),
    param("source_project_id", STRING),
    param("no_snapshots", {"type": "boolean"}),
)  # fmt: skip


def _collection(path: str, *, current: bool) -> dict[tuple[str, str], dict[str, Any]]:
    item = path + "/{transfer_id}"
    paging = "; 3.59 pages (marker, sort)" if current else ""
    return {
        ("GET", path): {"ok": {200: listed("transfers", TRANSFER_SUMMARY)},
                        "query": TRANSFER_QUERY,
                        "description": f"The caller's project's transfers{paging}."},
        ("GET", path + "/detail"): {"ok": {200: listed("transfers", TRANSFER_VIEW)},
                                    "query": TRANSFER_QUERY},
        ("POST", path): {"ok": {202: wrapped("transfer", TRANSFER_CREATED)},
                         "body": _create_body(with_snapshots=current),
                         "description": "The volume must be available; the answer carries "
                                        "the transfer's auth_key, once."},
        ("GET", item): {"ok": {200: wrapped("transfer", TRANSFER_VIEW)}},
        ("DELETE", item): {"ok": {202: None}},
        ("POST", item + "/accept"): {
            "ok": {202: wrapped("transfer", TRANSFER_SUMMARY)}, "body": TRANSFER_ACCEPT,
            "description": "By any project that has the id and the key; 413 over its quota.",
        },
    }  # fmt: skip


TRANSFER_OPERATIONS: Final = {
    **_collection("/os-volume-transfer", current=False),
    **_collection("/volume-transfers", current=True),
}
