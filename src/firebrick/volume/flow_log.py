"""Logs every transition of a flow and of its tasks, one line each, with the volume id.

The lines read like Cinder's c-vol.log, so an operator used to one can read the other.
The same two listeners hand each transition to the run's recorder when there is one (the
dashboard's timeline and the flow metrics): one pair of listeners on the engine, so a
recorded run costs TaskFlow no more notifications than a logged one.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from taskflow import states
from taskflow.types import notifier

LOG = logging.getLogger("firebrick.volume.flow")


class Recorder(Protocol):
    def flow_changed(self, state: str, details: dict[str, Any]) -> None: ...

    def task_changed(self, state: str, name: str, details: dict[str, Any]) -> None: ...


class FlowLogger:
    def __init__(self, volume_id: str) -> None:
        self.volume_id = volume_id
        self.recorder: Recorder | None = None  # set while a run is recorded

    def attach(self, engine: Any) -> None:
        engine.notifier.register(notifier.Notifier.ANY, self._on_flow)
        engine.atom_notifier.register(notifier.Notifier.ANY, self._on_task)

    def _on_flow(self, state: str, details: dict[str, Any]) -> None:
        LOG.info(
            "Volume %s: flow '%s' (%s) transitioned into state '%s' from state '%s'",
            self.volume_id, details.get("flow_name"), details.get("flow_uuid"), state,
            details.get("old_state"),
        )  # fmt: skip
        if self.recorder is not None:
            self.recorder.flow_changed(state, details)

    def _on_task(self, state: str, details: dict[str, Any]) -> None:
        name = details.get("task_name")
        level = logging.WARNING if state in (states.FAILURE, states.REVERTING) else logging.INFO
        LOG.log(
            level,
            "Volume %s: task '%s' (%s) transitioned into state '%s' from state '%s'",
            self.volume_id, name, details.get("task_uuid"), state, details.get("old_state"),
        )  # fmt: skip
        if self.recorder is not None:
            self.recorder.task_changed(state, str(name or ""), details)
