"""The runs of a volume's create flow, as the dashboard's timeline shows them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import orjson
from sqlalchemy import Connection, bindparam, insert, select

from firebrick.db.schema import volumes
from firebrick.db.schema.features import volume_flow_runs

# A driver's message can be long (a command's whole stderr); the timeline needs its gist.
MAX_REASON = 2000


@dataclass(frozen=True)
class FlowRun:
    id: int
    volume_id: str
    flow: str
    host: str | None
    attempt: int
    outcome: str
    reason: str | None
    request_id: str | None
    started_at: datetime
    finished_at: datetime
    # Each task: name, start_ms and end_ms from the run's start, outcome, error, and
    # revert_start_ms/revert_end_ms when it was reverted.
    tasks: list[dict[str, Any]]


_INSERT = insert(volume_flow_runs)
_COLUMNS: Final = (
    "volume_id", "flow", "host", "attempt", "outcome", "reason", "request_id", "started_at",
    "finished_at", "tasks",
)  # fmt: skip
# The row is added inside the flow's last transaction, under the database's write lock: on
# SQLite it goes to the driver as it is stored (SQLAlchemy's DateTime text and JSON text,
# the latter from orjson), which spares SQLAlchemy's per-statement work, about 25 of the
# insert's 45 µs.
_SQLITE_INSERT: Final = (
    f"INSERT INTO {volume_flow_runs.name} ({', '.join(_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_COLUMNS))})"
)


def _sqlite_time(at: datetime) -> str:
    """SQLAlchemy's storage text for a DateTime ("%Y-%m-%d %H:%M:%S.%f"), at a third of
    strftime's cost."""
    return at.isoformat(sep=" ", timespec="microseconds")


_OF_VOLUME = (
    select(volume_flow_runs)
    .where(volume_flow_runs.c.volume_id == bindparam("volume_id"))
    .order_by(volume_flow_runs.c.id)
)


def add(
    conn: Connection,
    *,
    volume_id: str,
    flow: str,
    host: str | None,
    attempt: int,
    outcome: str,
    reason: str | None,
    request_id: str | None,
    started_at: datetime,
    finished_at: datetime,
    tasks: list[dict[str, Any]],
) -> None:
    reason = reason[:MAX_REASON] if reason else reason
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(_SQLITE_INSERT, (
            volume_id, flow, host, attempt, outcome, reason, request_id,
            _sqlite_time(started_at), _sqlite_time(finished_at),
            orjson.dumps(tasks).decode(),
        ))  # fmt: skip
        return
    conn.execute(
        _INSERT,
        {
            "volume_id": volume_id, "flow": flow, "host": host, "attempt": attempt,
            "outcome": outcome, "reason": reason, "request_id": request_id,
            "started_at": started_at, "finished_at": finished_at, "tasks": tasks,
        },
    )  # fmt: skip


def of_volume(conn: Connection, volume_id: str) -> list[FlowRun]:
    """The volume's runs, oldest first."""
    return [
        FlowRun(
            id=r.id, volume_id=r.volume_id, flow=r.flow, host=r.host, attempt=r.attempt,
            outcome=r.outcome, reason=r.reason, request_id=r.request_id,
            started_at=r.started_at, finished_at=r.finished_at, tasks=list(r.tasks or []),
        )
        for r in conn.execute(_OF_VOLUME, {"volume_id": volume_id})
    ]  # fmt: skip


@dataclass(frozen=True)
class Placement:
    """When the scheduler last placed the volume, and on which attempt."""

    scheduled_at: datetime | None
    attempts: int
    task_state: str | None


def placement(conn: Connection, volume_id: str) -> Placement | None:
    query = select(
        volumes.c.scheduled_at, volumes.c.scheduling_attempts, volumes.c.task_state
    ).where(volumes.c.id == volume_id)
    row = conn.execute(query).first()
    if row is None:
        return None
    return Placement(row.scheduled_at, int(row.scheduling_attempts or 0), row.task_state)
