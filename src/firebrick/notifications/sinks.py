"""The places a notification can go besides the bus: a JSON-lines file, a log.

A sink's ``send`` is called on the emitting thread, so it must not wait on anything slow;
the bus sink (``bus.BusSink``) hands its events to a background thread for that reason.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any, Protocol


class Sink(Protocol):
    def send(self, message: dict[str, Any], request_id: str | None) -> None: ...

    def close(self) -> None: ...


class JsonLinesSink:
    """Firebrick's ``file`` driver: one JSON object a line in ``notifications.jsonl``,
    where someone without a broker (and the tests) read them."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115

    def send(self, message: dict[str, Any], request_id: str | None) -> None:
        line = json.dumps(message, default=str)
        with self._lock:
            self._file.write(line + "\n")

    def close(self) -> None:
        with self._lock:
            self._file.close()


class LogSink:
    """oslo.messaging's ``log`` driver: the message as JSON on the logger
    ``oslo.messaging.notification.<event_type>``, at the event's priority."""

    BASE = "oslo.messaging.notification"

    def send(self, message: dict[str, Any], request_id: str | None) -> None:
        logger = logging.getLogger(f"{self.BASE}.{message['event_type']}")
        level = logging.getLevelName(str(message["priority"]).upper())
        logger.log(level if isinstance(level, int) else logging.INFO,
                   json.dumps(message, default=str))  # fmt: skip

    def close(self) -> None:
        pass
