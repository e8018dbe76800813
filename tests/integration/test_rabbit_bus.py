"""The RabbitMQ bus against a real, isolated RabbitMQ node."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from infra import rabbitmq
from infra.rabbitmq import RabbitMQServer
from kombu.connection import Connection

from firebrick.rpc.bus import BusUnavailable
from firebrick.rpc.rabbit import RabbitBus
from firebrick.rpc.urls import amqp_urls, mask_password

pytestmark = pytest.mark.integration

WAIT = 20.0


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitMQServer]:
    if not rabbitmq.available():
        pytest.skip("rabbitmq-server is not installed")
    server = RabbitMQServer(tmp_path_factory.mktemp("rabbitmq"), port=0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_bus(broker: RabbitMQServer) -> Iterator[Callable[..., RabbitBus]]:
    buses: list[RabbitBus] = []

    def make(url: str | None = None, **options: Any) -> RabbitBus:
        bus = RabbitBus(url or broker.url, service_name="test", **options)
        buses.append(bus)
        return bus

    yield make
    for bus in buses:
        bus.close()


@pytest.fixture
def topic() -> str:
    return f"test.{uuid.uuid4().hex[:10]}"


class Inbox:
    """A handler that records what it receives, and a way to wait for it."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self._cond = threading.Condition()

    def __call__(self, method: str, payload: dict[str, Any]) -> None:
        with self._cond:
            self.received.append((method, payload))
            self._cond.notify_all()

    def numbers(self) -> list[int]:
        with self._cond:
            return [payload["n"] for _, payload in self.received]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = WAIT) -> bool:
        with self._cond:
            return self._cond.wait_for(predicate, timeout)

    def wait_count(self, count: int, timeout: float = WAIT) -> bool:
        return self.wait_for(lambda: len(self.received) >= count, timeout)


def free_url(password: str = "secret") -> str:
    return f"rabbit://firebrick:{password}@127.0.0.1:{rabbitmq.free_port()}/"


# -- URL handling (no broker needed) --------------------------------------------------------


@pytest.mark.parametrize(
    ("transport_url", "expected"),
    [
        ("rabbit://u:p@h:5672/", ["amqp://u:p@h:5672/"]),
        ("rabbit://u:p@h:5672//", ["amqp://u:p@h:5672//"]),
        ("rabbit://u:p@h/vh?ssl=0", ["amqp://u:p@h/vh"]),
        ("rabbit://u:p@h1:1,h2:2/vh", ["amqp://u:p@h1:1/vh", "amqp://u:p@h2:2/vh"]),
        ("rabbit://a:x@h1,b:y@h2/", ["amqp://a:x@h1/", "amqp://b:y@h2/"]),
    ],
)
def test_transport_url_becomes_one_amqp_url_per_host(
    transport_url: str, expected: list[str]
) -> None:
    assert amqp_urls(transport_url) == expected


def test_other_schemes_are_refused_without_showing_the_password() -> None:
    with pytest.raises(ValueError) as excinfo:
        amqp_urls("kafka://u:hunter2@h:9092/")
    assert "hunter2" not in str(excinfo.value)


def test_mask_password_hides_every_host_password() -> None:
    masked = mask_password("rabbit://a:pw1@h1:5672,b:pw2@h2:5672/vh")
    assert masked == "rabbit://a:***@h1:5672,b:***@h2:5672/vh"


# -- against the broker ---------------------------------------------------------------------


def test_round_trip_through_a_durable_queue(make_bus: Callable[..., RabbitBus], topic: str) -> None:
    payload = {"volume_id": str(uuid.uuid4()), "size": 1, "spec": {"name": "vøl"}, "n": None}
    # Cast before anyone consumes: the queue exists from the first cast and keeps it.
    make_bus().cast(topic, "create_volume", payload)
    inbox = Inbox()
    make_bus().consume(topic, inbox)
    assert inbox.wait_count(1)
    assert inbox.received == [("create_volume", payload)]


def test_many_threads_cast_at_once(make_bus: Callable[..., RabbitBus], topic: str) -> None:
    bus = make_bus()
    inbox = Inbox()
    make_bus().consume(topic, inbox, workers=4)
    threads, per_thread = 8, 50
    errors: list[BaseException] = []

    def cast_some(base: int) -> None:
        try:
            for i in range(per_thread):
                bus.cast(topic, "m", {"n": base + i})
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=cast_some, args=(t * 1000,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    assert inbox.wait_count(threads * per_thread)
    expected = sorted(t * 1000 + i for t in range(threads) for i in range(per_thread))
    assert sorted(inbox.numbers()) == expected


def test_workers_handle_messages_concurrently(
    make_bus: Callable[..., RabbitBus], topic: str
) -> None:
    barrier = threading.Barrier(3, timeout=WAIT)
    inbox = Inbox()

    def handler(method: str, payload: dict[str, Any]) -> None:
        barrier.wait()  # breaks (and nothing is recorded) unless 3 run at once
        inbox(method, payload)

    make_bus().consume(topic, handler, workers=3)
    for n in range(3):
        make_bus().cast(topic, "m", {"n": n})
    assert inbox.wait_count(3)


def test_a_failing_handler_does_not_get_its_message_again(
    make_bus: Callable[..., RabbitBus], topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    inbox = Inbox()

    def handler(method: str, payload: dict[str, Any]) -> None:
        inbox(method, payload)
        if method == "poison":
            raise RuntimeError("handler bug")

    bus = make_bus()
    bus.consume(topic, handler)
    bus.cast(topic, "poison", {"n": 1})
    bus.cast(topic, "fine", {"n": 2})
    assert inbox.wait_count(2)
    time.sleep(1.0)  # a requeued poison message would be back by now
    assert inbox.numbers() == [1, 2]
    assert "handler bug" in caplog.text


CHILD_CONSUMER = """
import sys, time
from firebrick.rpc.rabbit import RabbitBus

def handler(method, payload):
    print("handling", payload["n"], flush=True)
    time.sleep(3600)

RabbitBus(sys.argv[1], service_name="doomed").consume(sys.argv[2], handler)
print("consuming", flush=True)
time.sleep(3600)
"""


def test_message_of_a_process_killed_in_its_handler_is_redelivered(
    broker: RabbitMQServer, make_bus: Callable[..., RabbitBus], topic: str
) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD_CONSUMER, broker.url, topic],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "consuming"
        make_bus().cast(topic, "create_volume", {"n": 7})
        assert child.stdout.readline().strip() == "handling 7"
        inbox = Inbox()
        make_bus().consume(topic, inbox)
        # Unacknowledged and held by the child: nobody else gets it while the child lives.
        assert not inbox.wait_count(1, timeout=1.0)
        os.kill(child.pid, signal.SIGKILL)
        assert inbox.wait_count(1)
        assert inbox.numbers() == [7]
    finally:
        child.kill()
        child.wait()


def test_close_gives_back_the_message_of_a_handler_that_does_not_finish(
    make_bus: Callable[..., RabbitBus], topic: str
) -> None:
    started, release = threading.Event(), threading.Event()

    def stuck(method: str, payload: dict[str, Any]) -> None:
        started.set()
        release.wait(WAIT)

    first = make_bus(shutdown_timeout=0.5)
    first.consume(topic, stuck)
    first.cast(topic, "create_volume", {"n": 3})
    assert started.wait(WAIT)
    inbox = Inbox()
    make_bus().consume(topic, inbox)
    began = time.monotonic()
    first.close()
    assert time.monotonic() - began < 3.0
    try:
        assert inbox.wait_count(1)
        assert inbox.numbers() == [3]
    finally:
        release.set()


def test_close_waits_for_a_handler_that_finishes_in_time(
    make_bus: Callable[..., RabbitBus], topic: str
) -> None:
    started, finished = threading.Event(), threading.Event()

    def slow(method: str, payload: dict[str, Any]) -> None:
        started.set()
        time.sleep(1.0)
        finished.set()

    bus = make_bus(shutdown_timeout=10)
    bus.consume(topic, slow)
    bus.cast(topic, "m", {"n": 1})
    assert started.wait(WAIT)
    bus.close()
    assert finished.is_set()
    # It was acknowledged: a new consumer does not get it again.
    inbox = Inbox()
    make_bus().consume(topic, inbox)
    assert not inbox.wait_count(1, timeout=1.5)


def test_cast_raises_bus_unavailable_after_its_timeout_when_the_broker_is_down() -> None:
    bus = RabbitBus(free_url(), service_name="test", cast_timeout=1.5)
    try:
        began = time.monotonic()
        with pytest.raises(BusUnavailable):
            bus.cast("scheduler", "create_volume", {"volume_id": "x"})
        elapsed = time.monotonic() - began
        assert 1.5 <= elapsed < 5.0
    finally:
        bus.close()


def test_passwords_never_reach_the_log(
    broker: RabbitMQServer, topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = f"pw-{uuid.uuid4().hex}"
    down = RabbitBus(free_url(secret), service_name="test", cast_timeout=1.0)
    down.consume(topic, Inbox())
    with pytest.raises(BusUnavailable) as excinfo:
        down.cast(topic, "create_volume", {"n": 1})
    time.sleep(0.5)  # let the consumer fail to connect and say so
    down.close()
    up = RabbitBus(broker.url, service_name="test")
    up.cast(topic, "create_volume", {"n": 1})
    up.close()

    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("firebrick:***@127.0.0.1" in r.getMessage() for r in warnings)
    assert any("Consumer of" in r.getMessage() for r in warnings)
    for text in (caplog.text, str(excinfo.value)):
        assert secret not in text
        assert broker.password not in text


def test_broker_restart_loses_nothing_and_consumers_resume(
    broker: RabbitMQServer,
    make_bus: Callable[..., RabbitBus],
    topic: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    total = 300
    inbox = Inbox()
    make_bus().consume(topic, inbox, workers=2)
    sender = make_bus(cast_timeout=60)
    sent = threading.Event()
    errors: list[BaseException] = []

    def stream() -> None:
        try:
            for n in range(total):
                sender.cast(topic, "m", {"n": n})
                time.sleep(0.01)
        except BaseException as exc:
            errors.append(exc)
        finally:
            sent.set()

    # A bus that had several connections open in its pool when the broker went away.
    pooled = make_bus()
    casters = [
        threading.Thread(target=lambda: [pooled.cast(topic, "m", {"n": 0}) for _ in range(20)])
        for _ in range(8)
    ]
    for caster in casters:
        caster.start()
    for caster in casters:
        caster.join()

    thread = threading.Thread(target=stream)
    thread.start()
    assert inbox.wait_count(50)
    broker.restart()
    # Its dead connections cost one failed attempt, not one each.
    pooled.cast(topic, "after_restart", {"n": -2})
    assert sum("Cast of after_restart" in r.getMessage() for r in caplog.records) <= 1
    assert sent.wait(90)
    thread.join()
    assert errors == []
    assert inbox.wait_for(lambda: set(inbox.numbers()) >= set(range(total)), timeout=60)
    assert any("reconnected" in r.getMessage() for r in caplog.records)
    assert broker.password not in caplog.text
    # And the consumers keep going with new work.
    sender.cast(topic, "m", {"n": -1})
    assert inbox.wait_for(lambda: -1 in inbox.numbers())


def test_a_deleted_queue_comes_back_without_losing_casts(
    broker: RabbitMQServer, make_bus: Callable[..., RabbitBus], topic: str
) -> None:
    inbox = Inbox()
    make_bus().consume(topic, inbox)
    sender = make_bus()
    sender.cast(topic, "m", {"n": 1})
    assert inbox.wait_count(1)
    with Connection(amqp_urls(broker.url)[0]) as admin:
        admin.default_channel.queue_delete(topic)
    sender.cast(topic, "m", {"n": 2})  # its connection had declared the queue already
    assert inbox.wait_count(2)
    assert inbox.numbers() == [1, 2]
