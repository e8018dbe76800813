"""The local transport: casts from API worker processes to the roles' process, on one host.

``firebrick serve`` runs the API in ``osapi_volume_workers`` worker processes and the
scheduler, volume and backup roles in one process of their own (``firebrick.supervisor``),
whose in-process bus owns every topic's queue. The workers reach it through a Unix socket
(:class:`LocalHub` listens, :class:`LocalBus` sends): no broker to install.

Each frame is a 4-byte big-endian length and a JSON object
``{"topic", "method", "payload", "request_id"}``. A cast returns once the frame is
written to the socket. When the roles' process is gone (killed, restarting) a cast raises
:class:`~firebrick.rpc.bus.BusUnavailable`, so ``cast_or_defer`` keeps the message and
sends it again once the socket answers; what the roles' process had queued but not yet
handled is resumed by its start-up recovery from the database, where every request's
effect is recorded before its cast. Handlers are idempotent, so a message that arrives
both ways is done once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import socket
import struct
import tempfile
import threading
from pathlib import Path
from typing import Any

from firebrick.context import current_request_id, working_for
from firebrick.rpc.bus import Bus, BusUnavailable, Handler

LOG = logging.getLogger(__name__)

_HEADER = struct.Struct(">I")
MAX_FRAME = 64 * 1024 * 1024
SUN_PATH_MAX = 100  # sockaddr_un holds 108 bytes; keep a margin


def run_dir(state_path: Path) -> Path:
    """The directory of ``state_path``'s sockets (short enough for ``sun_path``), created."""
    path = state_path.resolve() / "run"
    if len(os.fsencode(path / "metrics-4194304.sock")) > SUN_PATH_MAX:
        digest = hashlib.sha256(os.fsencode(path)).hexdigest()[:20]
        path = Path(tempfile.gettempdir()) / f"firebrick-{digest}"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def socket_path(state_path: Path) -> Path:
    """Where the roles' process of ``state_path`` listens for casts."""
    return run_dir(state_path) / "bus.sock"


def _encode(topic: str, method: str, payload: dict[str, Any]) -> bytes:
    body = json.dumps(
        {"topic": topic, "method": method, "payload": payload,
         "request_id": current_request_id()},
        separators=(",", ":"),
    ).encode()  # fmt: skip
    return _HEADER.pack(len(body)) + body


def _read_exactly(conn: socket.socket, size: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = conn.recv(size - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)


class LocalBus:
    """The sending side, in an API worker: every cast goes to the roles' process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: socket.socket | None = None
        self._lock = threading.Lock()
        self._closed = False

    def _connect(self) -> socket.socket:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.connect(str(self.path))
        except OSError:
            conn.close()
            raise
        return conn

    def cast(self, topic: str, method: str, payload: dict[str, Any]) -> None:
        frame = _encode(topic, method, payload)
        with self._lock:
            if self._closed:
                raise BusUnavailable("the local bus is closed")
            # A connection the roles' process closed (it restarted) fails on the first
            # write after it; one new connection is tried before giving up.
            for attempt in (1, 2):
                try:
                    if self._conn is None:
                        self._conn = self._connect()
                    self._conn.sendall(frame)
                    return
                except OSError as exc:
                    if self._conn is not None:
                        self._conn.close()
                        self._conn = None
                    if attempt == 2:
                        raise BusUnavailable(
                            f"the service's roles process does not answer on {self.path}: "
                            f"{exc.strerror or exc}"
                        ) from exc

    def consume(self, topic: str, handler: Handler, workers: int = 1) -> None:
        raise NotImplementedError("API workers only send; the roles' process consumes")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class LocalHub:
    """The receiving side, in the roles' process: frames from the workers onto ``bus``."""

    def __init__(self, path: Path, bus: Bus) -> None:
        self.path = path
        self.bus = bus
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # left by a process that was killed
        old_umask = os.umask(0o077)  # only this user may cast
        try:
            self._server.bind(str(path))
        finally:
            os.umask(old_umask)
        self._server.listen(64)
        self._stopped = threading.Event()
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        threading.Thread(target=self._accept, name="local-bus-accept", daemon=True).start()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            with self._lock:
                self._connections.add(conn)
            threading.Thread(
                target=self._serve, args=(conn,), name="local-bus-reader", daemon=True
            ).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            while True:
                header = _read_exactly(conn, _HEADER.size)
                if header is None:
                    return
                (size,) = _HEADER.unpack(header)
                if size > MAX_FRAME:
                    LOG.error("Dropping a local bus connection: a frame of %d bytes", size)
                    return
                body = _read_exactly(conn, size)
                if body is None:
                    return
                self._deliver(body)
        except OSError:
            return
        finally:
            with self._lock:
                self._connections.discard(conn)
            conn.close()

    def _deliver(self, body: bytes) -> None:
        try:
            message = json.loads(body)
            topic, method, payload = message["topic"], message["method"], message["payload"]
        except (ValueError, KeyError, TypeError):
            LOG.error("Dropping a malformed local bus frame (%d bytes)", len(body))
            return
        with working_for(message.get("request_id")):
            self.bus.cast(topic, method, payload)

    def stop(self) -> None:
        self._stopped.set()
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        self._server.close()
        with self._lock:
            for conn in self._connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
