"""Bus metrics: messages published and consumed per topic, and casts the bus refused.

A wrapper around whichever bus the composition root built (in-process or RabbitMQ), so
both count the same way; redeliveries only the RabbitMQ consumer can see, and counts.
"""

from __future__ import annotations

from typing import Any

from firebrick.metrics.instruments import Metrics, active
from firebrick.rpc.bus import Bus, BusUnavailable, Handler


class MeteredBus:
    """The :class:`~firebrick.rpc.bus.Bus` ``bus``, counted."""

    def __init__(self, bus: Bus, metrics: Metrics) -> None:
        self.bus = bus
        self.metrics = metrics

    def cast(self, topic: str, method: str, payload: dict[str, Any]) -> None:
        try:
            self.bus.cast(topic, method, payload)
        except BusUnavailable:
            self.metrics.child(self.metrics.bus_publish_failures, topic).inc()
            raise
        self.metrics.child(self.metrics.bus_published, topic).inc()

    def consume(self, topic: str, handler: Handler, workers: int = 1) -> None:
        consumed = self.metrics.child(self.metrics.bus_consumed, topic)

        def counted(method: str, payload: dict[str, Any]) -> None:
            consumed.inc()
            handler(method, payload)

        self.bus.consume(topic, counted, workers)

    def close(self) -> None:
        self.bus.close()


def metered(bus: Bus) -> Bus:
    """``bus`` counted when metrics are on, else ``bus`` itself."""
    metrics = active()
    return bus if metrics is None else MeteredBus(bus, metrics)


def unmetered(bus: Bus) -> Bus:
    """The bus under the count: for the roles' process's hub, which puts on its bus the casts
    the API workers have already counted as published (else each would count twice)."""
    return bus.bus if isinstance(bus, MeteredBus) else bus


def count_redelivered(topic: str) -> None:
    metrics = active()
    if metrics is not None:
        metrics.bus_redelivered.labels(topic).inc()
