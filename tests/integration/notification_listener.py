"""A notification consumer as Ceilometer's notification agent builds one, on oslo.messaging.

Ceilometer (``ceilometer/notification.py``) listens with oslo.messaging's batch
notification listener, a threading executor and ``allow_requeue``, on one target per
control exchange it knows (``notification_control_exchanges``) for each topic of
``[oslo_messaging_notifications] topics``; its endpoints take the ``info`` and ``error``
priorities, so it reads the shared queues ``notifications.info`` and
``notifications.error``, the ones a publisher declares (and binds to its own exchange) as it
sends. ``pool`` gives the listener a queue of its own instead, as a second consumer
(CloudKitty, a billing tool) would, bound to ``exchanges``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import oslo_messaging
from oslo_config import cfg
from oslo_messaging import opts as messaging_opts

# Ceilometer's default notification_control_exchanges.
CEILOMETER_EXCHANGES = (
    "nova", "glance", "neutron", "cinder", "heat", "keystone", "sahara", "trove", "zaqar",
    "swift", "ceilometer", "magnum", "dns", "ironic", "aodh",
)  # fmt: skip


@dataclass(frozen=True)
class Received:
    priority: str
    publisher_id: str
    event_type: str
    payload: dict[str, Any]
    metadata: dict[str, Any]
    context: dict[str, Any]


class _Endpoint:
    def __init__(self, sink: Callable[[str, list[dict[str, Any]]], None]) -> None:
        self._sink = sink

    def info(self, messages: list[dict[str, Any]]) -> None:
        self._sink("INFO", messages)

    def error(self, messages: list[dict[str, Any]]) -> None:
        self._sink("ERROR", messages)


class NotificationListener:
    """Collects every notification it receives; ``wait_for`` polls them."""

    def __init__(
        self,
        transport_url: str,
        *,
        topics: Iterable[str] = ("notifications",),
        exchanges: Iterable[str] = CEILOMETER_EXCHANGES,
        pool: str | None = None,
        rabbit: dict[str, str] | None = None,
    ) -> None:
        conf = cfg.ConfigOpts()
        conf([], project="ceilometer-like", default_config_files=[], default_config_dirs=[])
        for group, options in messaging_opts.list_opts():
            conf.register_opts(options, group=group)
        for key, value in (rabbit or {}).items():  # as [oslo_messaging_rabbit] would say
            conf.set_override(key, value, "oslo_messaging_rabbit")
        self._transport = oslo_messaging.get_notification_transport(conf, url=transport_url)
        targets = [
            oslo_messaging.Target(topic=topic, exchange=exchange)
            for topic in topics
            for exchange in exchanges
        ]
        self._lock = threading.Lock()
        self.received: list[Received] = []
        self._listener = oslo_messaging.get_batch_notification_listener(
            self._transport, targets, [_Endpoint(self._collect)], executor="threading",
            allow_requeue=True, pool=pool, batch_size=50, batch_timeout=0.2,
        )  # fmt: skip

    def _collect(self, priority: str, messages: list[dict[str, Any]]) -> None:
        with self._lock:
            for m in messages:
                self.received.append(Received(
                    priority=priority, publisher_id=m["publisher_id"],
                    event_type=m["event_type"], payload=m["payload"],
                    metadata=m["metadata"], context=m["ctxt"],
                ))  # fmt: skip

    def start(self) -> NotificationListener:
        self._listener.start()
        return self

    def stop(self) -> None:
        self._listener.stop()
        self._listener.wait()
        self._transport.cleanup()

    def events(self, predicate: Callable[[Received], bool] = lambda r: True) -> list[Received]:
        with self._lock:
            return [r for r in self.received if predicate(r)]

    def wait_for(
        self,
        predicate: Callable[[Received], bool],
        count: int = 1,
        timeout: float = 30.0,
    ) -> list[Received]:
        """At least ``count`` received events matching ``predicate``; fails after timeout."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.events(predicate)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                seen = [(r.event_type, r.publisher_id) for r in self.events()]
                raise AssertionError(
                    f"{len(found)} of {count} wanted notifications after {timeout:g} s; "
                    f"received: {seen}"
                )
            time.sleep(0.05)
