"""``/attachments`` (3.27+): reserve, connect, complete and delete volume attachments."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from firebrick.api.attachment_api import AttachmentAPI
from firebrick.api.deps import Call, CallDep, JsonBody
from firebrick.api.microversion import APIVersion
from firebrick.api.validation import is_uuid_like
from firebrick.api.views.volumes import timestamp
from firebrick.db.attachments import Attachment
from firebrick.domain.errors import Invalid, NotFound

router = APIRouter()

ATTACHMENTS = APIVersion(3, 27)
COMPLETE = APIVersion(3, 44)
ATTACH_MODE = APIVersion(3, 54)


def _api(request: Request) -> AttachmentAPI:
    api: AttachmentAPI = request.app.state.attachment_api
    return api


def _require(c: Call, minimum: APIVersion = ATTACHMENTS) -> None:
    if c.version < minimum:
        raise NotFound("The resource could not be found.")


def summary(a: Attachment) -> dict[str, Any]:
    return {"id": a.id, "status": a.attach_status, "instance": a.instance_uuid,
            "volume_id": a.volume_id}  # fmt: skip


def detail(a: Attachment) -> dict[str, Any]:
    info = a.connection_info or {}
    flat: dict[str, Any] = {}
    if info:
        # The attachments API flattens Cinder's connection_info.
        flat = {**info.get("data", {}), "driver_volume_type": info.get("driver_volume_type"),
                "attachment_id": a.id}  # fmt: skip
    return {
        **summary(a),
        "attached_at": timestamp(a.attach_time) or "",
        "detached_at": "",
        "attach_mode": a.attach_mode,
        "connection_info": flat,
    }


def _body(payload: object) -> dict[str, Any]:
    if not isinstance(payload, dict) or not isinstance(payload.get("attachment"), dict):
        raise Invalid("Missing required element 'attachment' in request body.")
    inner: dict[str, Any] = payload["attachment"]
    return inner


@router.get("/attachments")
async def list_attachments(request: Request, c: CallDep) -> JSONResponse:
    _require(c)
    found = _api(request).list_attachments(c.ctx, dict(request.query_params))
    return JSONResponse({"attachments": [summary(a) for a in found]})


@router.get("/attachments/detail")
async def list_attachments_detail(request: Request, c: CallDep) -> JSONResponse:
    _require(c)
    found = _api(request).list_attachments(c.ctx, dict(request.query_params))
    return JSONResponse({"attachments": [detail(a) for a in found]})


@router.get("/attachments/{attachment_id}")
async def show_attachment(attachment_id: str, request: Request, c: CallDep) -> JSONResponse:
    _require(c)
    return JSONResponse({"attachment": detail(_api(request).get(c.ctx, attachment_id))})


@router.post("/attachments")
async def create_attachment(request: Request, c: CallDep, payload: JsonBody) -> JSONResponse:
    _require(c)
    body = _body(payload)
    volume_id = body.get("volume_uuid")
    if not isinstance(volume_id, str):
        raise Invalid("Invalid input received: volume_uuid is required.")
    mode = body.get("mode", "null") if c.version >= ATTACH_MODE else "null"
    if mode not in ("rw", "ro", "null"):
        raise Invalid(f"Invalid input received: invalid attach mode {mode!r}.")
    connector = body.get("connector")
    if connector is not None and not isinstance(connector, dict):
        raise Invalid("Invalid input received: connector must be an object.")
    instance = body.get("instance_uuid")
    if instance is not None and not (isinstance(instance, str) and is_uuid_like(instance)):
        raise Invalid(f"Invalid input received: instance_uuid {instance!r} is not a UUID.")
    api = _api(request)
    attachment = api.reserve(c.ctx, volume_id, instance, mode)
    if connector:
        try:
            api.request_export(c.ctx, attachment.id, connector)
            attachment = await api.wait_exported(attachment.id)
        except Exception:
            # The client never learns this attachment's id: it must not linger.
            api.forget(attachment.id)
            raise
    return JSONResponse({"attachment": detail(attachment)})


@router.put("/attachments/{attachment_id}")
async def update_attachment(
    attachment_id: str, request: Request, c: CallDep, payload: JsonBody
) -> JSONResponse:
    _require(c)
    connector = _body(payload).get("connector")
    if not isinstance(connector, dict) or not connector:
        raise Invalid("Invalid input received: connector with at least one key is required.")
    api = _api(request)
    api.request_export(c.ctx, attachment_id, connector)
    attachment = await api.wait_exported(attachment_id)
    return JSONResponse({"attachment": detail(attachment)})


@router.post("/attachments/{attachment_id}/action")
async def attachment_action(
    attachment_id: str, request: Request, c: CallDep, payload: JsonBody
) -> Response:
    _require(c, COMPLETE)
    if not isinstance(payload, dict) or "os-complete" not in payload:
        raise Invalid("There is no such action.")
    _api(request).complete(c.ctx, attachment_id)
    return Response(status_code=204)


@router.delete("/attachments/{attachment_id}")
async def delete_attachment(attachment_id: str, request: Request, c: CallDep) -> JSONResponse:
    _require(c)
    api = _api(request)
    volume_id, remote = api.request_delete(c.ctx, attachment_id)
    if remote:
        await api.wait_deleted(attachment_id)
    left = api.finish_detach(volume_id)
    return JSONResponse({"attachments": [summary(a) for a in left]})
