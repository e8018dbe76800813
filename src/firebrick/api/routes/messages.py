"""``/messages`` (3.3+): why an asynchronous request failed, in words a user can act on."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from firebrick.api.deps import Call, CallDep
from firebrick.api.microversion import APIVersion
from firebrick.api.views.volumes import timestamp
from firebrick.db import messages
from firebrick.db.engine import Database
from firebrick.domain.errors import NotFound
from firebrick.domain.user_messages import user_message

router = APIRouter()

MESSAGES = APIVersion(3, 3)


class MessageNotFound(NotFound):
    def __init__(self, message_id: str) -> None:
        super().__init__(f"Message {message_id} could not be found.")


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _require(c: Call) -> None:
    if c.version < MESSAGES:
        raise NotFound("The resource could not be found.")


def _view(m: messages.Message, c: Call) -> dict[str, Any]:
    prefix = f"{c.base_url}/v3/{m.project_id}" if c.project_in_url else f"{c.base_url}/v3"
    return {
        "id": m.id,
        "event_id": m.event_id,
        "user_message": user_message(m.event_id, m.detail),
        "message_level": m.message_level,
        "resource_type": m.resource_type,
        "resource_uuid": m.resource_uuid,
        "created_at": timestamp(m.created_at),
        "guaranteed_until": timestamp(m.expires_at),
        "request_id": m.request_id,
        "links": [
            {"rel": "self", "href": f"{prefix}/messages/{m.id}"},
            {"rel": "bookmark", "href": f"{prefix.replace('/v3', '', 1)}/messages/{m.id}"},
        ],
    }


@router.get("/messages")
async def list_messages(request: Request, c: CallDep) -> JSONResponse:
    _require(c)
    with _db(request).read() as conn:
        found = messages.list_messages(
            conn, c.ctx.project_id, request.query_params.get("resource_uuid")
        )
    return JSONResponse({"messages": [_view(m, c) for m in found]})


@router.get("/messages/{message_id}")
async def show_message(message_id: str, request: Request, c: CallDep) -> JSONResponse:
    _require(c)
    with _db(request).read() as conn:
        found = messages.get(conn, message_id, c.ctx.project_id)
    if found is None:
        raise MessageNotFound(message_id)
    return JSONResponse({"message": _view(found, c)})


@router.delete("/messages/{message_id}", status_code=204)
async def delete_message(message_id: str, request: Request, c: CallDep) -> Response:
    _require(c)
    with _db(request).write() as conn:
        if messages.get(conn, message_id, c.ctx.project_id) is None:
            raise MessageNotFound(message_id)
        messages.remove(conn, message_id)
    return Response(status_code=204)
