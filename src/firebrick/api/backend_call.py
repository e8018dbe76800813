"""A call to one volume service, made of a cast and the database.

Some answers only the volume service of a backend can give (what files its directory
holds, how big the one a manage request names is), and the bus only casts. So the API
records the question in ``backend_calls``, casts ``backend_call`` with the row's id to the
service's topic, and polls the row (without blocking the event loop) until the service has
written its answer there; then the row goes. It works the same over the in-process bus and
RabbitMQ, as the attachments' export does. A service that does not answer in time gets a
500, as Cinder's RPC timeout; the row of a caller that gave up is purged later.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from typing import Any

from firebrick.db import backend_calls, volumes
from firebrick.db.engine import Database
from firebrick.domain.errors import FirebrickError, Invalid, NotFound
from firebrick.rpc.bus import Bus, BusUnavailable, volume_topic

WAIT_SECONDS = 60.0
FORGET_AFTER = timedelta(hours=1)


class ServiceUnavailable(Invalid):
    """Cinder's ServiceUnavailable (an Invalid: 400)."""

    def __init__(self, message: str = "Service is unavailable at this time.") -> None:
        super().__init__(message)


class BackendCallFailed(FirebrickError):
    """The volume service failed to answer (or not in time): HTTP 500."""

    code = 500


def _raised(code: int | None, message: str | None) -> FirebrickError:
    text = message or "The volume service could not answer."
    if code == 404:
        return NotFound(text)
    if code is not None and 400 <= code < 500:
        return Invalid(text)
    return BackendCallFailed(text)


async def call(
    db: Database,
    bus: Bus,
    backend: str,
    method: str,
    args: dict[str, Any],
    *,
    timeout: float = WAIT_SECONDS,
) -> Any:
    """``method(args)`` on the volume service of ``backend`` (``host@backend``); its answer.

    An error the service raised comes back as the same kind of fault (400, 404, 500).
    """
    call_id = str(uuid.uuid4())
    with db.write() as conn:
        backend_calls.purge(conn, volumes.now() - FORGET_AFTER)
        backend_calls.start(conn, call_id, backend, method)
    try:
        try:
            bus.cast(volume_topic(backend), backend_calls.CALL,
                     {"call_id": call_id, "method": method, "args": args})  # fmt: skip
        except BusUnavailable:
            raise ServiceUnavailable() from None
        answer = await _answer(db, call_id, timeout)
    finally:
        with db.write() as conn:
            backend_calls.remove(conn, call_id)
    if answer.error_code is not None:
        raise _raised(answer.error_code, answer.error)
    return answer.result


async def _answer(db: Database, call_id: str, timeout: float) -> backend_calls.Answer:
    deadline = time.monotonic() + timeout
    delay = 0.002
    while time.monotonic() < deadline:
        with db.read() as conn:
            found = backend_calls.answer(conn, call_id)
        if found is not None and found.finished:
            return found
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 0.05)
    raise BackendCallFailed(f"The volume service did not answer within {timeout:.0f} s.")
