"""Links of the published document: where the id a create returns can be used next
(clients and stateful fuzzers follow them)."""

from __future__ import annotations

from typing import Final

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
