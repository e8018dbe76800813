"""The embedded bus: a queue and worker threads per topic, in one process."""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

from firebrick.context import current_request_id, working_for
from firebrick.db.outage import is_outage
from firebrick.rpc.bus import Handler

LOG = logging.getLogger(__name__)

_STOP = object()
OUTAGE_PAUSE_MIN = 0.2  # seconds before work that met an outage is done again
OUTAGE_PAUSE_MAX = 5.0


class InProcessBus:
    def __init__(self) -> None:
        self._queues: dict[str, queue.SimpleQueue[Any]] = {}
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def _queue(self, topic: str) -> queue.SimpleQueue[Any]:
        with self._lock:
            return self._queues.setdefault(topic, queue.SimpleQueue())

    def cast(self, topic: str, method: str, payload: dict[str, Any]) -> None:
        self._queue(topic).put((method, payload, current_request_id()))

    def consume(self, topic: str, handler: Handler, workers: int = 1) -> None:
        inbox = self._queue(topic)
        for n in range(workers):
            thread = threading.Thread(
                target=self._run, args=(topic, inbox, handler), name=f"{topic}-{n}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    @staticmethod
    def _run(topic: str, inbox: queue.SimpleQueue[Any], handler: Handler) -> None:
        pause = OUTAGE_PAUSE_MIN
        while True:
            item = inbox.get()
            if item is _STOP:
                return
            method, payload, request_id = item
            try:
                with working_for(request_id):
                    handler(method, payload)
                pause = OUTAGE_PAUSE_MIN
            except Exception as exc:
                if not is_outage(exc):
                    LOG.exception("Unhandled error in %s handler for %s", topic, method)
                    continue
                # The database is out (full, locked, unreachable): nothing was recorded;
                # do it again after a pause that grows while the outage lasts.
                LOG.warning("%s in %s handler for %s: %s; taking it again in %.1f s",
                            type(exc).__name__, topic, method, exc, pause)  # fmt: skip
                time.sleep(pause)
                pause = min(pause * 2, OUTAGE_PAUSE_MAX)
                inbox.put(item)

    def close(self) -> None:
        with self._lock:
            counts: dict[str, int] = {}
            for thread in self._threads:
                topic = thread.name.rsplit("-", 1)[0]
                counts[topic] = counts.get(topic, 0) + 1
            for topic, n in counts.items():
                for _ in range(n):
                    self._queues[topic].put(_STOP)
        for thread in self._threads:
            thread.join(timeout=5)
