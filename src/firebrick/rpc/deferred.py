"""Casts the broker could not take, sent again as soon as it takes messages.

Every request's effect is in the database before its cast, so a cast the broker refused
(it stayed unreachable for the cast timeout) is not lost: the scheduler's reconciler
sends the request again after ``transitional_status_timeout``. That is minutes; this
relay, one per bus in a process, sends it again within a second of the broker's return.
Its queue lives in memory: if the process dies first, the reconciler is still there.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import deque
from typing import TYPE_CHECKING, Any

from firebrick.context import current_request_id, working_for

if TYPE_CHECKING:
    from firebrick.rpc.bus import Bus

LOG = logging.getLogger(__name__)

RETRY_EVERY = 0.5  # seconds between tries while the broker is out


class DeferredCasts:
    def __init__(self, bus: Bus) -> None:
        self._bus = weakref.ref(bus)
        self._pending: deque[tuple[str, str, dict[str, Any], str | None]] = deque()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, topic: str, method: str, payload: dict[str, Any]) -> None:
        with self._lock:
            self._pending.append((topic, method, payload, current_request_id()))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="deferred-casts",
                                                daemon=True)  # fmt: skip
                self._thread.start()

    def __len__(self) -> int:
        return len(self._pending)

    def _run(self) -> None:
        from firebrick.rpc.bus import BusUnavailable

        stop = threading.Event()
        while True:
            with self._lock:
                if not self._pending:
                    self._thread = None
                    return
                topic, method, payload, request_id = self._pending[0]
            bus = self._bus()
            if bus is None:
                return
            try:
                with working_for(request_id):
                    bus.cast(topic, method, payload)
            except BusUnavailable as exc:
                if "closed" in str(exc):
                    return
                stop.wait(RETRY_EVERY)
                continue
            with self._lock:
                self._pending.popleft()
                left = len(self._pending)
            LOG.info("Sent %s to %s after the broker's outage (%d more waiting)",
                     method, topic, left)  # fmt: skip


_RELAYS: weakref.WeakKeyDictionary[Any, DeferredCasts] = weakref.WeakKeyDictionary()
_RELAYS_LOCK = threading.Lock()


def relay_of(bus: Bus) -> DeferredCasts:
    with _RELAYS_LOCK:
        relay = _RELAYS.get(bus)
        if relay is None:
            relay = _RELAYS[bus] = DeferredCasts(bus)
        return relay
