"""What the OpenAPI document says about the volume timeline (Firebrick's own operation).

Entries are the keyword arguments of an ``operations.Op`` (this module cannot import
``operations``, which imports it).
"""

from __future__ import annotations

from typing import Any, Final

from firebrick.api.openapi.schemas import STRING, TIMESTAMP, Schema, obj, wrapped

_NULLABLE_STRING: Final[Schema] = {"type": ["string", "null"]}
_NULLABLE_NUMBER: Final[Schema] = {"type": ["number", "null"]}

_TASK: Final = obj(
    {
        "name": STRING, "outcome": STRING, "started_at": TIMESTAMP, "finished_at": TIMESTAMP,
        "start_ms": _NULLABLE_NUMBER, "duration_ms": _NULLABLE_NUMBER, "error": _NULLABLE_STRING,
    },
    ("name", "outcome", "started_at", "finished_at", "duration_ms"),
)  # fmt: skip
_RUN: Final = obj(
    {
        "flow": STRING, "attempt": {"type": "integer"}, "host": _NULLABLE_STRING,
        "outcome": {"enum": ["success", "rescheduled", "error"]}, "reason": _NULLABLE_STRING,
        "request_id": _NULLABLE_STRING, "started_at": STRING, "finished_at": STRING,
        "duration_ms": {"type": "number"}, "tasks": {"type": "array", "items": _TASK},
    },
    ("flow", "attempt", "host", "outcome", "reason", "started_at", "finished_at", "tasks"),
)  # fmt: skip
_VERDICT: Final = obj({"pool": STRING, "reason": STRING}, ("pool", "reason"))
_MESSAGE: Final = obj(
    {
        "id": STRING, "event_id": STRING, "user_message": STRING, "created_at": STRING,
        "request_id": _NULLABLE_STRING,
        "verdicts": {"type": "array", "items": _VERDICT},
    },
    ("id", "event_id", "user_message", "created_at", "verdicts"),
)  # fmt: skip
TIMELINE_VIEW: Final = obj(
    {
        "volume_id": STRING, "name": _NULLABLE_STRING, "status": STRING,
        "host": _NULLABLE_STRING, "created_at": STRING, "scheduled_at": TIMESTAMP,
        "scheduling_attempts": {"type": "integer"}, "launched_at": TIMESTAMP,
        "runs": {"type": "array", "items": _RUN},
        "messages": {"type": "array", "items": _MESSAGE},
    },
    ("volume_id", "status", "created_at", "scheduled_at", "launched_at", "runs", "messages"),
)  # fmt: skip

TIMELINE_OPERATIONS: Final[dict[tuple[str, str], dict[str, Any]]] = {
    ("GET", "/volumes/{volume_id}/timeline"): {
        "ok": {200: wrapped("timeline", TIMELINE_VIEW)},
        "description": (
            "Firebrick's own: the volume's placement, each run of its create flow (every "
            "task with start, end and outcome; a reschedule names the pool that failed and "
            "why) and the user messages about it, for the dashboard. Host names are shown "
            "to admins only."
        ),
    },
}
