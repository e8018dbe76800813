"""A bounded background sender: whoever emits never waits for the broker.

``submit`` only appends to an in-memory buffer (at most ``buffer_size`` events) and
returns; one thread takes the events in order and hands each to ``send``. While the broker
is unreachable the send in progress waits (oslo.messaging reconnects, ``retry`` = -1) and
newer events wait in the buffer; they are sent, in order, when the broker is back. An event
that finds the buffer full, or whose send fails for good (a finite ``retry`` ran out), is
dropped and counted; every count reaches the log. At stop the buffer is sent as long as
the broker takes events; once none was taken for ``send_timeout`` seconds the rest are
counted as dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

LOG = logging.getLogger("firebrick.notifications")

T = TypeVar("T")


class BackgroundSender(Generic[T]):
    def __init__(
        self,
        send: Callable[[T], None],
        *,
        buffer_size: int,
        send_timeout: float,
        name: str = "notifications",
    ) -> None:
        self._send = send
        self._buffer_size = buffer_size
        self._send_timeout = send_timeout
        self._queue: deque[T] = deque()
        self._cond = threading.Condition()
        self._closing = False
        # Monotonic time the send in progress began (None: idle).
        self._busy_since: float | None = None
        self._stalled_since: float | None = None
        self.sent = 0
        self.dropped = 0
        self._dropped_unreported = 0
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        # The sending thread may be held inside a send: another one notices that.
        threading.Thread(target=self._watch, name=f"{name}-watch", daemon=True).start()

    def _watch(self) -> None:
        while not self._closed.wait(self._send_timeout / 2):
            with self._cond:
                self._notice_stall()

    # -- the emitting side ---------------------------------------------------------------

    def submit(self, item: T) -> None:
        """Queue ``item``; never blocks. Dropped (and counted) when the buffer is full."""
        with self._cond:
            self._notice_stall()
            if self._closing or len(self._queue) >= self._buffer_size:
                self._drop(1, "the buffer is full" if not self._closing else "stopping")
                return
            self._queue.append(item)
            self._cond.notify()

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._queue) + (self._busy_since is not None)

    def _drop(self, count: int, why: str) -> None:
        if not self._dropped_unreported:
            LOG.warning(
                "Notifications: dropping events (%s: %d waiting for the broker, at most %d); "
                "the count is logged when the broker takes events again",
                why, len(self._queue), self._buffer_size,
            )  # fmt: skip
        self.dropped += count
        self._dropped_unreported += count

    def _notice_stall(self) -> None:
        """Log once when the send in progress has waited longer than the send timeout."""
        busy = self._busy_since
        if busy is None or self._stalled_since is not None:
            return
        waited = time.monotonic() - busy
        if waited > self._send_timeout:
            self._stalled_since = busy
            LOG.warning(
                "Notifications: the broker has taken no event for %.0f s (unreachable?); "
                "%d events wait and are sent when it is back (at most %d are kept, the "
                "rest are dropped and counted)",
                waited, len(self._queue) + 1, self._buffer_size,
            )  # fmt: skip

    # -- the sending thread --------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return
                item = self._queue.popleft()
                self._busy_since = time.monotonic()
            failure: Exception | None = None
            try:
                self._send(item)
            except Exception as exc:
                failure = exc
            with self._cond:
                self._busy_since = None
                if failure is None:
                    self.sent += 1
                    self._recovered()
                else:
                    LOG.warning("Notifications: an event could not be sent: %s", failure)
                    self._drop(1, "the send failed")
                self._cond.notify_all()

    def _recovered(self) -> None:
        if self._stalled_since is not None:
            LOG.warning(
                "Notifications: the broker takes events again after %.0f s; %d waiting "
                "events are being sent",
                time.monotonic() - self._stalled_since, len(self._queue),
            )  # fmt: skip
            self._stalled_since = None
        if self._dropped_unreported:
            LOG.warning(
                "Notifications: %d events were dropped while the broker was unreachable "
                "(%d since start)",
                self._dropped_unreported, self.dropped,
            )  # fmt: skip
            self._dropped_unreported = 0

    # -- stopping ------------------------------------------------------------------------

    def close(self) -> None:
        """Send what is buffered while the broker takes it; count the rest as dropped."""
        self._closed.set()
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            last_progress, last_sent = time.monotonic(), self.sent
            while self._queue or self._busy_since is not None:
                if self.sent != last_sent:
                    last_progress, last_sent = time.monotonic(), self.sent
                if time.monotonic() - last_progress > self._send_timeout:
                    left = len(self._queue) + (self._busy_since is not None)
                    self._queue.clear()
                    self._drop(left, "stopping while the broker takes none")
                    break
                self._cond.wait(0.1)
            LOG.info("Notifications: %d sent, %d dropped since start", self.sent, self.dropped)
            if self._dropped_unreported:
                LOG.warning("Notifications: %d events were never sent", self._dropped_unreported)
