"""OpenStack's request plumbing as one ASGI middleware: request ids, microversions and
the size limit of request bodies.

Every ``/v3`` response, success or fault, echoes the effective microversion with
``Vary``; a malformed or unsupported version is answered here in Cinder's fault format.
A body longer than ``MAX_BODY`` (oslo.middleware's sizelimit, as Cinder's) is refused with
413 before it is read when its ``Content-Length`` says so, and otherwise as soon as the
bytes received pass the limit: no request makes the service hold more than that.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from firebrick.api import microversion
from firebrick.api.faults import fault_body
from firebrick.api.validation import NUL_REJECTED
from firebrick.context import new_request_id, working_for
from firebrick.domain.errors import FirebrickError

Scope = dict[str, Any]
Message = dict[str, Any]

MAX_BODY = 114688
TOO_LARGE = "Request is too large."


class RequestTooLarge(FirebrickError):
    code = 413

    def __init__(self) -> None:
        super().__init__(TOO_LARGE)


class OpenStackMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        headers: list[tuple[bytes, bytes]] = [
            (b"x-openstack-request-id", request_id.encode()),
            (b"x-compute-request-id", request_id.encode()),
        ]
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        if scope["path"].startswith("/v3"):
            raw = _header(scope, b"openstack-api-version")
            try:
                version = microversion.negotiate(raw)
            except microversion.VersionError as exc:
                await _fault(send, exc.code, exc.message, headers, echo=raw is not None)
                return
            state["api_version"] = version
            headers += [
                (b"openstack-api-version", f"volume {version}".encode()),
                (b"vary", b"OpenStack-API-Version"),
            ]
            if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
                # No id, name or filter holds a NUL (PostgreSQL could not even compare one).
                await _fault(send, 400, NUL_REJECTED, headers, echo=False)
                return

        length = (_header(scope, b"content-length") or "").strip()
        if length.isdigit() and int(length) > MAX_BODY:
            await _fault(send, 413, TOO_LARGE, headers, echo=False)
            return
        receive = _limited(receive)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + headers
            await send(message)

        with working_for(request_id):
            await self.app(scope, receive, send_with_headers)


class BodyTimedOut(FirebrickError):
    code = 408

    def __init__(self, seconds: float) -> None:
        super().__init__(f"The request body did not arrive within {seconds:g} seconds.")


class BodyDeadline:
    """The embedded server's bound on how long a request body may take to arrive.

    uvicorn has none (Cinder's Apache or uwsgi front has one): a client dripping a body a
    byte at a time would hold its connection for ever. Past ``seconds`` after the request
    began the app's ``receive`` raises ``BodyTimedOut`` (answered 408), and any answer
    sent before the body has all arrived (408, 413, an early 401) closes the connection,
    so the rest of the body is not waited for. ``seconds`` <= 0: no bound. Slow headers
    are not covered: put a proxy with its own timeouts in front on a hostile network.
    """

    def __init__(self, app: Any, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or self.seconds <= 0:
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.seconds
        complete = not _has_body(scope)

        async def receive_by_deadline() -> Message:
            nonlocal complete
            if complete:  # after the body: only a disconnect is waited for
                return await receive()  # type: ignore[no-any-return]
            try:
                message: Message = await asyncio.wait_for(receive(), deadline - loop.time())
            except TimeoutError:
                raise BodyTimedOut(self.seconds) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                complete = True
            return message

        async def send_closing_early(message: Message) -> None:
            if message["type"] == "http.response.start" and not complete:
                message["headers"] = [*message.get("headers", []), (b"connection", b"close")]
            await send(message)

        await self.app(scope, receive_by_deadline, send_closing_early)


def _has_body(scope: Scope) -> bool:
    length = (_header(scope, b"content-length") or "0").strip()
    return _header(scope, b"transfer-encoding") is not None or length not in ("", "0")


def _limited(receive: Any) -> Any:
    """``receive`` that raises RequestTooLarge once the body passes ``MAX_BODY`` bytes
    (a chunked body, or one longer than its ``Content-Length`` said)."""
    received = 0

    async def receive_within_limit() -> Message:
        nonlocal received
        message: Message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > MAX_BODY:
                raise RequestTooLarge()
        return message

    return receive_within_limit


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


async def _fault(
    send: Any, code: int, message: str, headers: list[tuple[bytes, bytes]], *, echo: bool
) -> None:
    body = json.dumps(fault_body(code, message)).encode()
    extra = [(b"vary", b"OpenStack-API-Version")] if echo else []
    await send(
        {
            "type": "http.response.start",
            "status": code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
