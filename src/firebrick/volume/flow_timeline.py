"""What one run of a create flow did: each task's start, end and outcome.

A :class:`FlowRecorder` is handed the engine's notifications by the listeners that write
them to volume.log (``flow_log``) and keeps them in memory. The run is saved by
:func:`save_run`, called in the transaction that ends it anyway — the one that makes the
volume ``available``, sends it back to the scheduler or sets it to ``error`` — so a
timeline costs one more row in a commit the flow makes, never a commit of its own. After
the run the same record feeds the flow metrics (``firebrick.metrics.flows``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection
from taskflow import states

from firebrick.context import current_request_id
from firebrick.db import flow_runs
from firebrick.db.volumes import now
from firebrick.metrics import flows as flow_metrics
from firebrick.metrics.instruments import active
from firebrick.volume.flow_log import FlowLogger

_ENDED = {states.SUCCESS: "success", states.FAILURE: "failure"}
_FLOW_ENDS = {states.SUCCESS: "success", states.REVERTED: "reverted", states.FAILURE: "failed"}


@dataclass
class TaskSpan:
    """One task of the run; times are ``time.monotonic()`` readings."""

    name: str
    start: float
    end: float | None = None
    outcome: str = "running"
    error: str | None = None
    error_class: str | None = None
    revert_start: float | None = None
    revert_end: float | None = None


class FlowRecorder:
    """A run for ``volume_id`` on ``backend`` (``host@backend``); the flow's name comes
    with the engine's first notification."""

    def __init__(self, volume_id: str, backend: str, attempt: int, *, persist: bool = True) -> None:
        self.volume_id = volume_id
        self.flow = "unknown"
        self.backend = backend
        self.attempt = attempt
        self.persist = persist  # False: metrics only, no timeline row
        self.started_at = now()
        self.origin = time.monotonic()
        self.ended: float | None = None
        self.flow_state: str | None = None
        self.tasks: dict[str, TaskSpan] = {}  # by the engine's task name
        self.saved_outcome: str | None = None  # what save() recorded: the run's verdict

    def flow_changed(self, state: str, details: dict[str, Any]) -> None:
        if state == states.RUNNING:
            # The run starts here, once the engine has compiled and prepared the flow.
            self.flow = str(details.get("flow_name") or self.flow)
            self.started_at = now()
            self.origin = time.monotonic()
        elif state in _FLOW_ENDS:
            self.ended = time.monotonic()
            self.flow_state = state

    def task_changed(self, state: str, task_name: str, details: dict[str, Any]) -> None:
        at = time.monotonic()
        if state == states.RUNNING:
            # "ExtractVolumeRefTask;volume:create": the class is the name an operator knows.
            self.tasks[task_name] = TaskSpan(task_name.split(";", 1)[0], at)
            return
        span = self.tasks.get(task_name)
        if span is None:
            return  # a revert of a task that never ran (IGNORE and the like)
        if state in _ENDED:
            span.end = at
            span.outcome = _ENDED[state]
            cause = details.get("result") if state == states.FAILURE else None
            if cause is not None:
                span.error = str(getattr(cause, "exception_str", cause))
                exc = getattr(cause, "exception", None)
                span.error_class = type(exc).__name__ if exc is not None else "Exception"
        elif state == states.REVERTING:
            span.revert_start = at
        elif state in (states.REVERTED, states.REVERT_FAILURE):
            span.revert_end = at

    @property
    def outcome(self) -> str:
        """success, rescheduled or error as saved; else how the engine ended the flow."""
        if self.saved_outcome is not None:
            return self.saved_outcome
        return _FLOW_ENDS.get(self.flow_state or "", "running")

    @property
    def failure_class(self) -> str:
        """The class of the exception that failed the run (``unknown`` if none did)."""
        for span in self.tasks.values():
            if span.error_class:
                return span.error_class
        return "unknown"

    def _ms(self, at: float | None) -> float | None:
        return None if at is None else round((at - self.origin) * 1000, 3)

    def task_rows(self, until: float) -> list[dict[str, Any]]:
        """The tasks as saved: what is still running at ``until`` ends there."""
        rows = []
        for span in self.tasks.values():
            row: dict[str, Any] = {
                "name": span.name,
                "start_ms": self._ms(span.start),
                "end_ms": self._ms(span.end if span.end is not None else until),
                "outcome": span.outcome if span.end is not None else "success",
            }
            if span.error is not None:
                row["error"] = span.error
            if span.revert_start is not None:
                row["revert_start_ms"] = self._ms(span.revert_start)
                row["revert_end_ms"] = self._ms(
                    span.revert_end if span.revert_end is not None else until
                )
            rows.append(row)
        return rows

    def save(self, conn: Connection, *, outcome: str, host: str | None, reason: str | None) -> None:
        """Add the run, ending now with ``outcome``, to ``conn``'s transaction (once)."""
        if self.saved_outcome is not None:
            return
        if not self.persist:
            self.saved_outcome = outcome
            return
        until = time.monotonic()
        flow_runs.add(
            conn,
            volume_id=self.volume_id,
            flow=self.flow,
            host=host,
            attempt=self.attempt,
            outcome=outcome,
            reason=reason,
            request_id=current_request_id(),
            started_at=self.started_at,
            finished_at=self.started_at + timedelta(seconds=until - self.origin),
            tasks=self.task_rows(until),
        )
        self.saved_outcome = outcome  # after the add: a failed one is tried again


_RUNNING: ContextVar[FlowRecorder | None] = ContextVar("flow_recorder", default=None)


@contextmanager
def recorded(
    flow_log: FlowLogger, store: dict[str, Any], backend: str, persist: bool
) -> Iterator[None]:
    """Record the run made inside by the engine ``flow_log`` is attached to, for
    :func:`save_run` (``persist``: the dashboard's timeline) and the flow metrics; with
    neither wanted, record nothing.

    The engine runs tasks in the calling thread, so the tasks find the recorder.
    """
    if not persist and active() is None:
        yield
        return
    retry = store.get("retry") or {}
    recorder = FlowRecorder(
        str(store["volume_id"]), backend, int(retry.get("num_attempts", 1)), persist=persist
    )
    flow_log.recorder = recorder
    token = _RUNNING.set(recorder)
    try:
        yield
    finally:
        _RUNNING.reset(token)
        flow_log.recorder = None
        flow_metrics.observe(recorder)


def save_run(
    conn: Connection, *, outcome: str, host: str | None, reason: str | None = None
) -> None:
    """Save the running flow's timeline in ``conn``'s transaction; outside a flow, nothing."""
    recorder = _RUNNING.get()
    if recorder is not None:
        recorder.save(conn, outcome=outcome, host=host, reason=reason)
