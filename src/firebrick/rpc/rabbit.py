# kombu ships py.typed but leaves most of its API unannotated.
# mypy: disable-error-code="no-untyped-call"
"""The RabbitMQ bus: durable queues on a real broker, through kombu (py-amqp).

One durable direct exchange ``firebrick``; one durable queue per topic, named after the
topic and bound with the topic as routing key. Messages are persistent JSON
``{"method": ..., "payload": ...}``.

- ``cast`` returns once the broker has confirmed the message (publisher confirms), so a
  cast that returned survives a broker restart. Delivery is at least once: a publish
  whose confirm was lost with the connection is sent again.
- A consumer acknowledges a message only after its handler returned, so a process that
  dies in a handler gets the message redelivered (to itself on restart, or to a peer);
  handlers are idempotent for that reason.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from typing import Any

from amqp.exceptions import MessageNacked  # type: ignore[import-untyped]
from kombu.connection import Connection
from kombu.entity import Exchange, Queue
from kombu.exceptions import OperationalError
from kombu.message import Message
from kombu.messaging import Consumer, Producer

from firebrick.context import current_request_id, working_for
from firebrick.db.outage import is_outage
from firebrick.metrics.bus import count_redelivered
from firebrick.rpc.bus import BusUnavailable, Handler
from firebrick.rpc.urls import amqp_urls, mask_password

LOG = logging.getLogger(__name__)

# Pauses before a message whose handler met an outage is taken again (seconds).
OUTAGE_PAUSE_MIN = 0.2
OUTAGE_PAUSE_MAX = 5.0

EXCHANGE = "firebrick"
CAST_TIMEOUT = 10.0
SHUTDOWN_TIMEOUT = 10.0
CONNECT_TIMEOUT = 2.0
# How often an idle consumer looks at the stop flag.
POLL_INTERVAL = 0.5
MAX_IDLE_PUBLISHERS = 16
RECONNECT_DELAY_MAX = 5.0
SUBSCRIBE_WAIT = 10.0  # seconds consume() waits for its threads to subscribe (or fail once)


class _Publisher:
    """One connection and channel in confirm mode; used by one thread at a time."""

    def __init__(self, url: str, connection: Connection, exchange: Exchange) -> None:
        self.url = url
        self.connection = connection
        self.exchange = exchange
        self.channel = connection.channel()
        exchange(self.channel).declare()
        self.producer = Producer(self.channel, exchange=exchange, auto_declare=False)
        self.declared: set[str] = set()

    def publish(self, topic: str, body: str, timeout: float) -> None:
        if topic not in self.declared:
            _queue(topic, self.exchange)(self.channel).declare()
            self.declared.add(topic)
        self.producer.publish(
            body,
            routing_key=topic,
            delivery_mode=2,
            # Unroutable (queue deleted behind our back) fails the publish: it is retried on
            # a new connection, which declares the queue again.
            mandatory=True,
            content_type="application/json",
            content_encoding="utf-8",
            retry=False,
            timeout=timeout,
            confirm_timeout=timeout,
        )

    def close(self) -> None:
        _release(self.connection)


def _queue(topic: str, exchange: Exchange) -> Queue:
    return Queue(topic, exchange, routing_key=topic, durable=True, auto_delete=False)


class _Consumer:
    """One consuming thread with its own connection (prefetch 1): handler, then ack."""

    def __init__(self, bus: RabbitBus, topic: str, handler: Handler, name: str) -> None:
        self.bus = bus
        self.topic = topic
        self.handler = handler
        self.connection: Connection | None = None
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        # Set once the first attempt to subscribe ended, subscribed or not.
        self.tried = threading.Event()
        self._pause = OUTAGE_PAUSE_MIN

    def _run(self) -> None:
        bus = self.bus
        delay = 0.2
        failures = 0
        while not bus._stopping.is_set():
            url = bus._pick_url()
            try:
                self.connection = bus._connect(url, f"consumer {self.topic}")
                channel = self.connection.channel()
                queue = _queue(self.topic, bus._exchange)(channel)
                queue.declare()
                consumer = Consumer(
                    channel, queues=[queue], on_message=self._on_message, prefetch_count=1
                )
                consumer.consume()
                self.tried.set()
                if failures:
                    LOG.warning("Consumer of %s reconnected to %s", self.topic, mask_password(url))
                failures, delay = 0, 0.2
                self._drain(self.connection)
            except Exception as exc:
                if bus._stopping.is_set():
                    break
                failures += 1
                if isinstance(exc, bus._errors):
                    LOG.warning(
                        "Consumer of %s: connection to %s failed (%s: %s); retrying in %.1f s",
                        self.topic, mask_password(url), type(exc).__name__, exc, delay,
                    )  # fmt: skip
                else:
                    LOG.exception(
                        "Consumer of %s failed; reconnecting in %.1f s", self.topic, delay
                    )
                self.tried.set()
                bus._stopping.wait(delay)
                delay = min(delay * 2, RECONNECT_DELAY_MAX)
            finally:
                connection, self.connection = self.connection, None
                if connection is not None:
                    _release(connection)

    def _drain(self, connection: Connection) -> None:
        while not self.bus._stopping.is_set():
            try:
                connection.drain_events(timeout=POLL_INTERVAL)
            except TimeoutError:
                continue

    def _on_message(self, message: Message) -> None:
        try:
            self._handle(message)
        except Exception as exc:
            # The database or the broker is out: nothing was recorded, so the message stays
            # unacknowledged and comes back after a pause that grows while the outage lasts.
            LOG.warning("%s on %s: %s; taking it again in %.1f s", type(exc).__name__,
                        self.topic, exc, self._pause)  # fmt: skip
            self.bus._stopping.wait(self._pause)
            self._pause = min(self._pause * 2, OUTAGE_PAUSE_MAX)
            message.requeue()
            return
        self._pause = OUTAGE_PAUSE_MIN
        # After a forced close() the connection is gone: the broker redelivers instead.
        message.ack()

    def _handle(self, message: Message) -> None:
        try:
            body = json.loads(message.body)
            method, payload = body["method"], body["payload"]
        except (ValueError, TypeError, KeyError):
            LOG.error("Dropping malformed message on %s: %.200r", self.topic, message.body)
            return
        if message.delivery_info.get("redelivered"):
            LOG.info("Redelivered %s on %s", method, self.topic)
            count_redelivered(self.topic)
        request_id = body.get("request_id")
        try:
            with working_for(request_id if isinstance(request_id, str) else None):
                self.handler(method, payload)
        except Exception as exc:
            if is_outage(exc):
                raise
            # Handlers record their own failures; requeueing would loop on a poison message.
            LOG.exception("Unhandled error in %s handler for %s", self.topic, method)


def _release(connection: Connection) -> None:
    # A broken connection is being dropped: there is nothing left to release cleanly.
    with contextlib.suppress(Exception):
        connection.release()


class RabbitBus:
    """The :class:`~firebrick.rpc.bus.Bus` over RabbitMQ at ``url`` (Cinder's transport_url).

    ``service_name`` names the connections (visible in ``rabbitmqctl list_connections``)
    and the consumer threads. ``cast_timeout`` bounds how long a cast keeps reconnecting
    and retrying before it raises :class:`~firebrick.rpc.bus.BusUnavailable`.
    """

    def __init__(
        self,
        url: str,
        *,
        service_name: str,
        cast_timeout: float = CAST_TIMEOUT,
        shutdown_timeout: float = SHUTDOWN_TIMEOUT,
        connect_timeout: float = CONNECT_TIMEOUT,
    ) -> None:
        self._urls = amqp_urls(url)
        self._service_name = service_name
        self._cast_timeout = cast_timeout
        self._shutdown_timeout = shutdown_timeout
        self._connect_timeout = connect_timeout
        self._exchange = Exchange(EXCHANGE, type="direct", durable=True)
        self._next_url = 0
        self._lock = threading.Lock()
        self._idle: list[_Publisher] = []
        self._consumers: list[_Consumer] = []
        self._stopping = threading.Event()
        self._closed = False
        probe = Connection(self._urls[0], transport="pyamqp")
        self._errors: tuple[type[Exception], ...] = (
            *probe.connection_errors,
            *probe.channel_errors,
            OperationalError,
            MessageNacked,
            OSError,
        )

    def _pick_url(self) -> str:
        """The broker to try next: round robin over the transport_url's hosts."""
        with self._lock:
            url = self._urls[self._next_url % len(self._urls)]
            self._next_url += 1
        return url

    def _connect(self, url: str, purpose: str, timeout: float | None = None) -> Connection:
        connect_timeout = min(self._connect_timeout, timeout or self._connect_timeout)
        connection = Connection(
            url,
            transport="pyamqp",
            connect_timeout=max(connect_timeout, 0.05),
            # No AMQP heartbeats: a handler may run for minutes without polling the socket;
            # a broker that goes away closes the socket, and TCP keepalive catches the rest.
            heartbeat=0,
            transport_options={
                "confirm_publish": True,
                "client_properties": {"connection_name": f"{self._service_name} {purpose}"},
            },
        )
        try:
            connection.connect()
        except BaseException:
            _release(connection)
            raise
        return connection

    # -- publishing ------------------------------------------------------------------------

    def cast(self, topic: str, method: str, payload: dict[str, Any]) -> None:
        """Publish ``method(payload)`` to ``topic`` and return once the broker confirmed it.

        Thread-safe. On a connection failure it reconnects and publishes again, for at most
        ``cast_timeout`` (10 s by default) in all, then raises ``BusUnavailable``. A message
        may therefore arrive twice; handlers are idempotent.
        """
        body = json.dumps(
            {"method": method, "payload": payload, "request_id": current_request_id()}
        )
        deadline = time.monotonic() + self._cast_timeout
        delay = 0.05
        while True:
            if self._closed:
                raise BusUnavailable("The bus is closed")
            remaining = deadline - time.monotonic()
            publisher = pooled = self._take_publisher()
            url = pooled.url if pooled else self._pick_url()
            try:
                if publisher is None:
                    publisher = self._new_publisher(url, remaining)
                publisher.publish(topic, body, timeout=max(remaining, 0.05))
            except self._errors as exc:
                if publisher is not None:
                    publisher.close()
                if pooled is not None:
                    # The idle connections most likely died with this one (broker restart):
                    # drop them all and go straight to a new connection.
                    self._drop_idle()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise BusUnavailable(
                        f"RabbitMQ did not take {method} for {topic} within "
                        f"{self._cast_timeout:g} s: {type(exc).__name__}: {exc}"
                    ) from exc
                LOG.warning(
                    "Cast of %s to %s via %s failed (%s: %s); retrying for %.1f s more",
                    method, topic, mask_password(url), type(exc).__name__, exc,
                    remaining,
                )  # fmt: skip
                if pooled is None:
                    time.sleep(min(delay, remaining))
                    delay = min(delay * 2, 1.0)
                continue
            self._give_back(publisher)
            return

    def _take_publisher(self) -> _Publisher | None:
        with self._lock:
            return self._idle.pop() if self._idle else None

    def _new_publisher(self, url: str, timeout: float) -> _Publisher:
        connection = self._connect(url, "publisher", timeout)
        try:
            return _Publisher(url, connection, self._exchange)
        except BaseException:
            _release(connection)
            raise

    def _drop_idle(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for publisher in idle:
            publisher.close()

    def _give_back(self, publisher: _Publisher) -> None:
        with self._lock:
            if len(self._idle) < MAX_IDLE_PUBLISHERS and not self._closed:
                self._idle.append(publisher)
                return
        publisher.close()

    # -- consuming -------------------------------------------------------------------------

    def consume(self, topic: str, handler: Handler, workers: int = 1) -> None:
        """Deliver ``topic``'s messages to ``handler`` on ``workers`` threads.

        Each thread has its own connection with prefetch 1, so at most ``workers``
        messages are in flight. A message is acknowledged once ``handler`` returned, also
        when it raised (logged; handlers do their own error handling). Lost connections
        are re-established with backoff, logged at WARNING.

        Returns once each thread has subscribed, or failed its first attempt (the broker is
        down: it keeps trying), so that a service that says it is running takes its share
        of what is sent next, beside the other services on the same topic.
        """
        with self._lock:
            start = len(self._consumers)
            started = []
            for n in range(workers):
                name = f"{self._service_name}-{topic}-{start + n}"
                consumer = _Consumer(self, topic, handler, name)
                self._consumers.append(consumer)
                consumer.thread.start()
                started.append(consumer)
        deadline = time.monotonic() + SUBSCRIBE_WAIT
        for consumer in started:
            consumer.tried.wait(max(0.0, deadline - time.monotonic()))

    def close(self) -> None:
        """Stop consuming, wait up to ``shutdown_timeout`` for running handlers, disconnect.

        Handlers may still cast while they finish; casts after close() raise
        ``BusUnavailable``. A handler still running after the timeout keeps its thread, but
        its connection is cut, so the broker redelivers its message to another consumer.
        """
        self._stopping.set()
        deadline = time.monotonic() + self._shutdown_timeout
        with self._lock:
            consumers, self._consumers = self._consumers, []
        for consumer in consumers:
            consumer.thread.join(max(deadline - time.monotonic(), 0))
        for consumer in consumers:
            connection = consumer.connection
            if consumer.thread.is_alive() and connection is not None:
                LOG.warning(
                    "Handler of %s still running after %g s; its message goes back to the queue",
                    consumer.topic, self._shutdown_timeout,
                )  # fmt: skip
                _cut(connection)
        self._closed = True
        self._drop_idle()


def _cut(connection: Connection) -> None:
    """Close the socket under a connection another thread owns (it then fails on ack)."""
    transport = getattr(connection.connection, "transport", None)
    sock = getattr(transport, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
