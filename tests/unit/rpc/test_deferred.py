"""Casts the broker refused are sent again, in order, once it takes messages."""

from __future__ import annotations

import time
from typing import Any

from firebrick.context import working_for
from firebrick.rpc import deferred
from firebrick.rpc.bus import BusUnavailable, cast_or_defer


class FlakyBus:
    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    def cast(self, topic: str, method: str, payload: dict[str, Any]) -> None:
        if self.refusals > 0:
            self.refusals -= 1
            raise BusUnavailable("the broker is out")
        self.sent.append((topic, method, payload))

    def consume(self, *args: Any) -> None: ...

    def close(self) -> None: ...


def test_refused_casts_are_sent_again_in_order(monkeypatch: Any) -> None:
    monkeypatch.setattr(deferred, "RETRY_EVERY", 0.01)
    bus = FlakyBus(refusals=4)
    with working_for("req-1"):
        assert cast_or_defer(bus, "scheduler", "create_volume", {"volume_id": "a"}) is False
    assert cast_or_defer(bus, "scheduler", "create_volume", {"volume_id": "b"}) is False
    deadline = time.monotonic() + 5
    while len(bus.sent) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [p["volume_id"] for _, _, p in bus.sent] == ["a", "b"]
    assert len(deferred.relay_of(bus)) == 0
    assert cast_or_defer(bus, "scheduler", "create_volume", {"volume_id": "c"}) is True
