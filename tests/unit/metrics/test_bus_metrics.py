"""Bus metrics: published and consumed per topic, and casts the bus refused."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from firebrick.metrics.bus import MeteredBus, metered, unmetered
from firebrick.metrics.instruments import Metrics, disable
from firebrick.rpc.bus import BusUnavailable
from firebrick.rpc.inprocess import InProcessBus


def value(metrics: Metrics, name: str, topic: str) -> float | None:
    return metrics.registry.get_sample_value(name, {"topic": topic})


def test_casts_and_deliveries_are_counted_per_topic(metrics: Metrics) -> None:
    bus = metered(InProcessBus())
    assert isinstance(bus, MeteredBus)
    done = threading.Event()
    seen: list[str] = []

    def handler(method: str, _payload: dict[str, Any]) -> None:
        seen.append(method)
        if len(seen) == 3:
            done.set()

    bus.consume("scheduler", handler)
    for _ in range(3):
        bus.cast("scheduler", "create_volume", {})
    bus.cast("volume.h@b", "delete_volume", {})
    assert done.wait(5)
    bus.close()
    assert value(metrics, "firebrick_bus_messages_published_total", "scheduler") == 3
    assert value(metrics, "firebrick_bus_messages_published_total", "volume.h@b") == 1
    assert value(metrics, "firebrick_bus_messages_consumed_total", "scheduler") == 3


def test_a_refused_cast_is_counted_as_a_failure(metrics: Metrics) -> None:
    class Down(InProcessBus):
        def cast(self, topic: str, method: str, payload: dict[str, Any]) -> None:
            raise BusUnavailable("broker down")

    bus = metered(Down())
    with pytest.raises(BusUnavailable):
        bus.cast("scheduler", "create_volume", {})
    assert value(metrics, "firebrick_bus_publish_failures_total", "scheduler") == 1
    assert value(metrics, "firebrick_bus_messages_published_total", "scheduler") is None


def test_without_metrics_the_bus_is_left_as_it_is() -> None:
    disable()
    bus = InProcessBus()
    assert metered(bus) is bus


def test_the_hub_casts_under_the_count(metrics: Metrics) -> None:
    """The roles' process's hub puts the API workers' casts on its bus: they counted them."""
    inner = InProcessBus()
    bus = metered(inner)
    assert unmetered(bus) is inner
    assert unmetered(inner) is inner
    unmetered(bus).cast("scheduler", "create_volume", {})
    bus.close()
    assert value(metrics, "firebrick_bus_messages_published_total", "scheduler") is None
