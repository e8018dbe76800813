"""Idle keep-alive connections to the API last ``client_socket_timeout`` seconds (Cinder's
option, 900 by default), not uvicorn's 5: a client whose next request met the server's
timer got its connection reset."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import pytest
from harness import Service

pytestmark = pytest.mark.integration

REQUEST = b"GET / HTTP/1.1\r\nHost: firebrick\r\nConnection: keep-alive\r\n\r\n"


def answer(sock: socket.socket) -> bytes:
    """One whole response (the versions document is small), or b"" if the server closed."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = sock.recv(65536)
        if not piece:
            return data
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))  # fmt: skip
    while len(body) < length:
        body += sock.recv(65536)
    return head


def idle_then_ask(service: Service, idle: float) -> bytes:
    parts = urlsplit(service.base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(REQUEST)
        assert answer(sock).startswith(b"HTTP/1.1 300")  # Cinder's version choice
        time.sleep(idle)
        try:
            sock.sendall(REQUEST)
            return answer(sock)
        except ConnectionError:
            return b""


def test_an_idle_connection_outlives_uvicorns_five_seconds(start_service) -> None:
    service = start_service()
    assert idle_then_ask(service, 6.5).startswith(b"HTTP/1.1 300")


def test_client_socket_timeout_closes_idle_connections(start_service) -> None:
    service = start_service(defaults={"client_socket_timeout": "1"})
    assert idle_then_ask(service, 2.5) == b""
