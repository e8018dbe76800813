"""The local transport: frames from a worker's LocalBus onto the roles' in-process bus."""

from __future__ import annotations

import queue
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from firebrick.context import current_request_id, working_for
from firebrick.rpc import local
from firebrick.rpc.bus import BusUnavailable, cast_or_defer
from firebrick.rpc.inprocess import InProcessBus


@pytest.fixture
def received() -> queue.SimpleQueue[tuple[str, dict[str, Any], str | None]]:
    return queue.SimpleQueue()


@contextmanager
def running_hub(path: Path, received: queue.SimpleQueue[Any]) -> Iterator[local.LocalHub]:
    """A hub on ``path`` whose scheduler consumer puts what it gets into ``received``."""
    bus = InProcessBus()
    bus.consume("scheduler", lambda m, p: received.put((m, p, current_request_id())))
    hub = local.LocalHub(path, bus)
    hub.start()
    try:
        yield hub
    finally:
        hub.stop()
        bus.close()


def test_a_cast_reaches_the_consumer_with_its_request_id(tmp_path, received):
    sender = local.LocalBus(tmp_path / "bus.sock")
    with running_hub(tmp_path / "bus.sock", received):
        with working_for("req-1"):
            sender.cast("scheduler", "create_volume", {"volume_id": "v1"})
        assert received.get(timeout=5) == ("create_volume", {"volume_id": "v1"}, "req-1")
        # The socket is this user's only.
        assert (tmp_path / "bus.sock").stat().st_mode & 0o077 == 0
    sender.close()


def test_a_cast_with_nobody_listening_is_unavailable_then_sent_when_back(tmp_path, received):
    sender = local.LocalBus(tmp_path / "bus.sock")
    with pytest.raises(BusUnavailable, match="does not answer"):
        sender.cast("scheduler", "create_volume", {"volume_id": "v1"})
    # cast_or_defer keeps it and sends it once the roles' process listens.
    assert cast_or_defer(sender, "scheduler", "create_volume", {"volume_id": "v2"}) is False
    with running_hub(tmp_path / "bus.sock", received):
        assert received.get(timeout=5)[:2] == ("create_volume", {"volume_id": "v2"})
    sender.close()


def test_a_restarted_hub_gets_the_casts_after_it(tmp_path, received):
    path = tmp_path / "bus.sock"
    sender = local.LocalBus(path)
    with running_hub(path, received):
        sender.cast("scheduler", "m", {"n": 1})
        assert received.get(timeout=5)[1] == {"n": 1}
    with running_hub(path, received):  # the old connection is dead: one new one is tried
        sender.cast("scheduler", "m", {"n": 2})
        assert received.get(timeout=5)[1] == {"n": 2}
    sender.close()


def test_a_malformed_frame_is_dropped_and_the_connection_goes_on(tmp_path, received):
    path = tmp_path / "bus.sock"
    with running_hub(path, received), socket.socket(socket.AF_UNIX) as raw:
        raw.connect(str(path))
        raw.sendall(local._HEADER.pack(5) + b"nope!")
        raw.sendall(local._encode("scheduler", "m", {"ok": True}))
        assert received.get(timeout=5)[1] == {"ok": True}


def test_long_state_paths_get_a_short_socket_directory(tmp_path):
    deep = tmp_path / ("x" * 120)
    found = local.run_dir(deep)
    assert found.is_dir()
    assert len(str(local.socket_path(deep))) <= local.SUN_PATH_MAX
    assert local.run_dir(deep) == found  # the same for every process of the service
    assert local.run_dir(tmp_path) == tmp_path.resolve() / "run"
