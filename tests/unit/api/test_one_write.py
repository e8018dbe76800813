"""The API's responses leave in one write: the writes of one event-loop step, joined."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import uvicorn

from firebrick.api.one_write import OneWriteHttpToolsProtocol, _OneWriteTransport


class Recorder(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True


def test_the_writes_of_one_step_leave_together_in_order() -> None:
    async def scenario() -> Recorder:
        inner = Recorder()
        transport = _OneWriteTransport(inner, asyncio.get_running_loop())
        transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        transport.write(b"{}")
        assert inner.writes == []  # held until the step ends
        await asyncio.sleep(0)
        transport.writelines([b"a", bytearray(b"b")])
        await asyncio.sleep(0)
        return inner

    inner = asyncio.run(scenario())
    assert inner.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}", b"ab"]


def test_close_sends_what_is_held_and_abort_drops_it() -> None:
    async def scenario() -> tuple[Recorder, Recorder]:
        loop = asyncio.get_running_loop()
        closing, aborting = Recorder(), Recorder()
        first, second = _OneWriteTransport(closing, loop), _OneWriteTransport(aborting, loop)
        first.write(b"last words")
        first.close()
        second.write(b"never sent")
        second.abort()
        await asyncio.sleep(0)
        return closing, aborting

    closing, aborting = asyncio.run(scenario())
    assert closing.writes == [b"last words"] and closing.closed
    assert aborting.writes == [] and aborting.aborted


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    body = b'{"ok": true}' * 1000
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})


@pytest.mark.parametrize("keep_alive", [True, False])
def test_uvicorn_answers_through_it(unused_port: int, keep_alive: bool) -> None:
    """Whole answers, on a kept connection and on one closed after each answer."""

    async def scenario() -> list[httpx.Response]:
        config = uvicorn.Config(_app, host="127.0.0.1", port=unused_port, log_config=None,
                                lifespan="off", http=OneWriteHttpToolsProtocol)  # fmt: skip
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        headers = {} if keep_alive else {"connection": "close"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{unused_port}") as client:
            answers = [await client.get("/", headers=headers) for _ in range(3)]
        server.should_exit = True
        await serving
        return answers

    for answer in asyncio.run(scenario()):
        assert answer.status_code == 200
        assert answer.content == b'{"ok": true}' * 1000


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
