"""The background sender: emitting never waits; what is not sent is counted."""

from __future__ import annotations

import threading
import time

import pytest

from firebrick.notifications.sender import BackgroundSender


def test_events_are_sent_in_order_off_the_emitting_thread() -> None:
    sent: list[int] = []
    threads: set[str] = set()

    def send(item: int) -> None:
        threads.add(threading.current_thread().name)
        sent.append(item)

    sender = BackgroundSender(send, buffer_size=100, send_timeout=1.0)
    for i in range(50):
        sender.submit(i)
    sender.close()
    assert sent == list(range(50)) and sender.sent == 50 and sender.dropped == 0
    assert threading.current_thread().name not in threads


def test_a_broker_that_hangs_holds_nobody_and_overflow_is_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release, sending = threading.Event(), threading.Event()
    sent: list[int] = []

    def send(item: int) -> None:
        sending.set()
        release.wait()
        sent.append(item)

    sender = BackgroundSender(send, buffer_size=3, send_timeout=0.2)
    with caplog.at_level("INFO", logger="firebrick.notifications"):
        sender.submit(0)
        assert sending.wait(5)
        started = time.monotonic()
        for i in range(1, 10):
            sender.submit(i)
        assert time.monotonic() - started < 0.1  # submit never waits on the send
        time.sleep(0.5)
        release.set()
        sender.close()
    # One in the send, three buffered, six dropped; all of it in the log.
    assert sent == [0, 1, 2, 3] and sender.dropped == 6
    assert "has taken no event for" in caplog.text
    assert "6 events were dropped while the broker was unreachable" in caplog.text


def test_a_failed_send_is_dropped_and_counted() -> None:
    def send(item: int) -> None:
        if item == 1:
            raise RuntimeError("broker said no")

    sender = BackgroundSender(send, buffer_size=10, send_timeout=1.0)
    for i in range(3):
        sender.submit(i)
    sender.close()
    assert (sender.sent, sender.dropped) == (2, 1)


def test_stop_gives_up_once_the_broker_takes_nothing(caplog: pytest.LogCaptureFixture) -> None:
    never = threading.Event()
    sender = BackgroundSender(lambda item: never.wait(), buffer_size=10, send_timeout=0.3)
    for i in range(4):
        sender.submit(i)
    started = time.monotonic()
    with caplog.at_level("INFO", logger="firebrick.notifications"):
        sender.close()
    assert time.monotonic() - started < 2.0
    assert sender.dropped == 4 and "4 events were never sent" in caplog.text
    sender.submit(5)  # after stop: counted, not queued
    assert sender.dropped == 5
