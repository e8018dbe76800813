"""The volume service's TaskFlow flows.

TaskFlow, futurist and oslo.utils each try to import eventlet, to see whether the process
is monkey-patched; installed (oslo.messaging's oslo.service needs it), eventlet then
imports dnspython and half of cryptography: 18 MB in a process that never patches
anything. They are imported here with eventlet hidden, so they see it absent (true for
them: nothing here patches), and it is shown again at once for oslo.messaging, which
imports it for its own use when the RabbitMQ transport is configured.
"""

from __future__ import annotations

import sys
from typing import Any

if "eventlet" not in sys.modules and "taskflow.engines" not in sys.modules:
    sys.modules["eventlet"] = None  # type: ignore[assignment]  # import eventlet: ImportError
    try:
        import taskflow.engines.action_engine.engine  # noqa: F401
    finally:
        del sys.modules["eventlet"]

from taskflow import logging as taskflow_logging


def _trace(self: Any, msg: str, *args: Any, **kwargs: Any) -> None:
    if self.logger.isEnabledFor(taskflow_logging.TRACE):
        self.log(taskflow_logging.TRACE, msg, *args, **kwargs)


# TaskFlow traces each step of its engine, about 130 calls a create flow, through a
# LoggerAdapter method that goes four Python calls deep before it finds the level off (it
# always is: logs.setup keeps the "taskflow" logger at WARNING); a fifth of a flow's
# engine time. The same check, asked of the logger first.
taskflow_logging._TraceLoggerAdapter.trace = _trace
