"""Schemas of the operators' routes: hosts, capabilities, freeze/thaw, type access."""

from __future__ import annotations

from typing import Final

from firebrick.api.openapi.schemas import STRING, TIMESTAMP, obj, one_of_actions

HOST_BODY: Final = obj({"host": STRING}, ("host",))
HOST_VIEW: Final = obj(
    {"host_name": STRING, "service": STRING, "zone": STRING,
     "service-status": {"enum": ["available", "unavailable"]},
     "service-state": {"enum": ["enabled", "disabled"]}, "last-update": TIMESTAMP},
    ("host_name", "service", "zone", "service-status", "service-state", "last-update"),
)  # fmt: skip
_COUNTS = ("host", "project", "volume_count", "total_volume_gb", "snapshot_count",
           "total_snapshot_gb")  # fmt: skip
HOST_USAGE_VIEW: Final = obj(
    {"resource": obj({key: STRING for key in _COUNTS}, _COUNTS)}, ("resource",)
)
CAPABILITIES_VIEW: Final = obj(
    {"namespace": STRING, "vendor_name": STRING, "volume_backend_name": STRING,
     "pool_name": {"type": ["string", "null"]}, "driver_version": STRING,
     "storage_protocol": STRING, "display_name": {"type": ["string", "null"]},
     "description": {"type": ["string", "null"]}, "visibility": {"type": ["string", "null"]},
     "replication_targets": {"type": "array"}, "properties": obj()},
    ("namespace", "vendor_name", "volume_backend_name", "storage_protocol", "properties"),
)  # fmt: skip
_PROJECT = obj({"project": {"type": "string", "minLength": 1, "maxLength": 255}}, ("project",))
TYPE_ACCESS_ACTIONS: Final = one_of_actions(
    {"addProjectAccess": _PROJECT, "removeProjectAccess": _PROJECT}
)
