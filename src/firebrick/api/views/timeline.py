"""The timeline of one volume, as ``GET /volumes/{volume_id}/timeline`` shows it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from firebrick.api.views.volumes import timestamp
from firebrick.db.flow_runs import FlowRun, Placement
from firebrick.db.messages import Message
from firebrick.domain.model import Volume
from firebrick.domain.statuses import shown
from firebrick.domain.user_messages import user_message

# The scheduler explains a refusal one pool a line: "pool <name>: <why>"
# (firebrick.scheduler.manager.explain).
_POOL_LINE = "pool "


def verdicts(detail: str | None) -> list[dict[str, str]]:
    """The scheduler's verdict on each pool, from a user message's detail."""
    found = []
    for line in (detail or "").splitlines():
        if line.startswith(_POOL_LINE) and ": " in line:
            pool, why = line[len(_POOL_LINE) :].split(": ", 1)
            found.append({"pool": pool, "reason": why})
    return found


def _at(start: datetime, ms: float | None) -> str | None:
    return None if ms is None else timestamp(start + timedelta(milliseconds=ms))


def _outcome(task: dict[str, Any]) -> str:
    """success or failure; a task that succeeded and was then undone: reverted."""
    outcome = str(task.get("outcome"))
    return "reverted" if outcome == "success" and "revert_start_ms" in task else outcome


def _task(run: FlowRun, task: dict[str, Any]) -> dict[str, Any]:
    start_ms, end_ms = task.get("start_ms"), task.get("end_ms")
    view: dict[str, Any] = {
        "name": task.get("name"),
        "outcome": _outcome(task),
        "started_at": _at(run.started_at, start_ms),
        "finished_at": _at(run.started_at, end_ms),
        "start_ms": start_ms,
        "duration_ms": None if start_ms is None or end_ms is None else round(end_ms - start_ms, 3),
        "error": task.get("error"),
    }
    if task.get("revert_start_ms") is not None:
        view["revert_start_ms"] = task["revert_start_ms"]
        view["revert_end_ms"] = task.get("revert_end_ms")
    return view


def run(r: FlowRun, *, is_admin: bool) -> dict[str, Any]:
    return {
        "flow": r.flow,
        "attempt": r.attempt,
        # Pools are an operator's business, as the volume's host attribute is.
        "host": r.host if is_admin else None,
        "outcome": r.outcome,
        "reason": r.reason,
        "request_id": r.request_id,
        "started_at": timestamp(r.started_at),
        "finished_at": timestamp(r.finished_at),
        "duration_ms": round((r.finished_at - r.started_at).total_seconds() * 1000, 3),
        "tasks": [_task(r, t) for t in r.tasks],
    }


def message(m: Message) -> dict[str, Any]:
    return {
        "id": m.id,
        "event_id": m.event_id,
        "user_message": user_message(m.event_id, m.detail),
        "created_at": timestamp(m.created_at),
        "request_id": m.request_id,
        "verdicts": verdicts(m.detail),
    }


def timeline(
    volume: Volume,
    placed: Placement | None,
    runs: list[FlowRun],
    messages: list[Message],
    *,
    is_admin: bool,
) -> dict[str, Any]:
    return {
        "volume_id": volume.id,
        "name": volume.name,
        "status": shown(volume.status),
        "host": volume.host if is_admin else None,
        "created_at": timestamp(volume.created_at),
        "scheduled_at": timestamp(placed.scheduled_at) if placed else None,
        "scheduling_attempts": placed.attempts if placed else 0,
        "launched_at": timestamp(volume.launched_at),
        "runs": [run(r, is_admin=is_admin) for r in runs],
        "messages": [message(m) for m in messages],
    }
