"""The embedded bus: a queue and worker threads per topic, in one process."""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from firebrick.context import current_request_id, working_for
from firebrick.rpc.bus import Handler

LOG = logging.getLogger(__name__)

_STOP = object()


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
        while True:
            item = inbox.get()
            if item is _STOP:
                return
            method, payload, request_id = item
            try:
                with working_for(request_id):
                    handler(method, payload)
            except Exception:
                LOG.exception("Unhandled error in %s handler for %s", topic, method)

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
