"""The message bus between roles: casts to a topic, consumed by the topic's handler.

Topics: ``scheduler`` for the scheduler role and ``volume.<host@backend>`` for one volume
service. The embedded mode uses the in-process bus; a RabbitMQ transport implements the
same protocol.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

Handler = Callable[[str, dict[str, Any]], None]

LOG = logging.getLogger(__name__)

SCHEDULER_TOPIC = "scheduler"


class BusUnavailable(Exception):
    """The bus could not take a message: the broker stayed unreachable for the cast timeout."""


def volume_topic(backend: str) -> str:
    """The topic of the volume service owning ``backend`` (``host@backend``)."""
    return f"volume.{backend}"


class Bus(Protocol):
    def cast(self, topic: str, method: str, payload: dict[str, Any]) -> None:
        """Send ``method(payload)`` to the consumer of ``topic`` without waiting."""

    def consume(self, topic: str, handler: Handler, workers: int = 1) -> None:
        """Deliver the messages of ``topic`` to ``handler`` on ``workers`` threads."""

    def close(self) -> None: ...


def cast_or_defer(bus: Bus, topic: str, method: str, payload: dict[str, Any]) -> bool:
    """Cast, or leave the message to be sent again once the broker is back; whether sent.

    Every request's effect is recorded in the database before it is cast, so a broker
    that is down only delays it: this process sends it again as soon as the broker takes
    messages (``rpc.deferred``), and the scheduler's reconciler if this process dies first.
    """
    try:
        bus.cast(topic, method, payload)
    except BusUnavailable as exc:
        from firebrick.rpc.deferred import relay_of

        LOG.warning(
            "Could not send %s for %s now (%s); it will be sent when the broker is back",
            method, payload.get("volume_id", topic), exc,
        )  # fmt: skip
        relay_of(bus).add(topic, method, payload)
        return False
    return True
