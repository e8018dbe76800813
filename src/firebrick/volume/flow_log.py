"""Logs every transition of a flow and of its tasks, one line each, with the volume id.

The lines read like Cinder's c-vol.log, so an operator used to one can read the other.
"""

from __future__ import annotations

import logging
from typing import Any

from taskflow import states
from taskflow.types import notifier

LOG = logging.getLogger("firebrick.volume.flow")


class FlowLogger:
    def __init__(self, volume_id: str) -> None:
        self.volume_id = volume_id

    def attach(self, engine: Any) -> None:
        engine.notifier.register(notifier.Notifier.ANY, self._on_flow)
        engine.atom_notifier.register(notifier.Notifier.ANY, self._on_task)

    def _on_flow(self, state: str, details: dict[str, Any]) -> None:
        LOG.info(
            "Volume %s: flow '%s' (%s) transitioned into state '%s' from state '%s'",
            self.volume_id, details.get("flow_name"), details.get("flow_uuid"), state,
            details.get("old_state"),
        )  # fmt: skip

    def _on_task(self, state: str, details: dict[str, Any]) -> None:
        level = logging.WARNING if state in (states.FAILURE, states.REVERTING) else logging.INFO
        LOG.log(
            level,
            "Volume %s: task '%s' (%s) transitioned into state '%s' from state '%s'",
            self.volume_id, details.get("task_name"), details.get("task_uuid"), state,
            details.get("old_state"),
        )  # fmt: skip
