"""The places a notification can go besides the bus: a JSON-lines file, a log.

A sink's ``send`` is called on the emitting thread, so it must not wait on anything slow;
the bus sink (``bus.BusSink``) hands its events to a background thread for that reason.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any, Protocol

import orjson

# Dates go through ``default`` (``str``), as with the standard library's encoder.
_ORJSON = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


class Sink(Protocol):
    def send(self, message: dict[str, Any], request_id: str | None) -> None: ...

    def close(self) -> None: ...


class JsonLinesSink:
    """Firebrick's ``file`` driver: one JSON object a line in ``notifications.jsonl``,
    where someone without a broker (and the tests) read them.

    Each line is one ``write`` to a file opened for appending, so the processes of one
    service (API workers, the roles' process) never interleave within a line.
    """

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
                                       0o644)  # fmt: skip

    def send(self, message: dict[str, Any], request_id: str | None) -> None:
        line = orjson.dumps(message, default=str, option=_ORJSON)
        with self._lock:
            if self._fd is None:
                raise ValueError("the notifications file is closed")
            os.write(self._fd, line)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


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
