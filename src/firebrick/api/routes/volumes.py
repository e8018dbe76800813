"""``/volumes``: create, list, show, update, delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from firebrick.api import listing, validation
from firebrick.api.deps import Call, CallDep, JsonBody
from firebrick.api.microversion import APIVersion
from firebrick.api.views import volumes as views
from firebrick.api.volume_api import VolumeAPI
from firebrick.config import parse_bool
from firebrick.db import volumes as volumes_db
from firebrick.domain.errors import Invalid, VolumeNotFound

router = APIRouter()

SUMMARY = APIVersion(3, 12)
FORCE_DELETE = APIVersion(3, 23)
SUMMARY_METADATA = APIVersion(3, 36)


def _api(request: Request) -> VolumeAPI:
    api: VolumeAPI = request.app.state.volume_api
    return api


def _list(request: Request, c: Call, *, detailed: bool) -> dict[str, Any]:
    max_limit: int = request.app.state.max_limit
    query = listing.parse_list_query(
        dict(request.query_params), c.version, c.ctx.is_admin, max_limit=max_limit
    )
    found, count = _api(request).list_volumes(c.ctx, query)
    if detailed:
        items = [
            views.detail(
                v, version=c.version, base_url=c.base_url, project_in_url=c.project_in_url,
                is_admin=c.ctx.is_admin, extended=True, url_project_id=c.url_project_id,
            )
            for v in found
        ]  # fmt: skip
    else:
        items = [
            views.summary(
                v, base_url=c.base_url, project_in_url=c.project_in_url,
                url_project_id=c.url_project_id,
            )
            for v in found
        ]  # fmt: skip
    next_url = None
    if listing.needs_next_link(query.limit, len(found), count):
        next_url = listing.next_link(
            c.base_url + request.url.path, dict(request.query_params), found[-1].id
        )
    return views.list_body(items, next_marker_url=next_url, count=count)


@router.get("/volumes")
async def list_volumes(request: Request, c: CallDep) -> JSONResponse:
    return JSONResponse(_list(request, c, detailed=False))


@router.get("/volumes/detail")
async def list_volumes_detail(request: Request, c: CallDep) -> JSONResponse:
    return JSONResponse(_list(request, c, detailed=True))


@router.get("/volumes/summary")
async def volumes_summary(request: Request, c: CallDep) -> JSONResponse:
    if c.version < SUMMARY:
        raise VolumeNotFound("summary")
    with _api(request).db.read() as conn:
        count, size, metadata = volumes_db.summary(conn, c.ctx.project_id)
    summary: dict[str, Any] = {"total_size": size, "total_count": count}
    if c.version >= SUMMARY_METADATA:
        summary["metadata"] = metadata
    return JSONResponse({"volume-summary": summary})


@router.post("/volumes", status_code=202)
async def create_volume(request: Request, c: CallDep, payload: JsonBody) -> JSONResponse:
    req = validation.parse_volume_create(payload, c.version)
    volume = _api(request).create(c.ctx, req)
    return JSONResponse({
        "volume": views.detail(
            volume, version=c.version, base_url=c.base_url, project_in_url=c.project_in_url,
            is_admin=c.ctx.is_admin, extended=False, url_project_id=c.url_project_id,
        )
    }, status_code=202)  # fmt: skip


@router.get("/volumes/{volume_id}")
async def show_volume(volume_id: str, request: Request, c: CallDep) -> JSONResponse:
    volume = _api(request).get(c.ctx, volume_id)
    return JSONResponse({
        "volume": views.detail(
            volume, version=c.version, base_url=c.base_url, project_in_url=c.project_in_url,
            is_admin=c.ctx.is_admin, extended=True, url_project_id=c.url_project_id,
        )
    })  # fmt: skip


@router.put("/volumes/{volume_id}")
async def update_volume(
    volume_id: str, request: Request, c: CallDep, payload: JsonBody
) -> JSONResponse:
    req = validation.parse_volume_update(payload, c.version)
    volume = _api(request).update(c.ctx, volume_id, req)
    return JSONResponse({
        "volume": views.detail(
            volume, version=c.version, base_url=c.base_url, project_in_url=c.project_in_url,
            is_admin=c.ctx.is_admin, extended=False, url_project_id=c.url_project_id,
        )
    })  # fmt: skip


def _flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name)
    if value is None:
        return False
    if value.strip().lower() not in {"true", "false", "1", "0", "yes", "no", "on", "off"}:
        raise Invalid(f"Invalid value '{value}' for {name}; it must be a boolean.")
    return parse_bool(value)


@router.delete("/volumes/{volume_id}", status_code=202)
async def delete_volume(volume_id: str, request: Request, c: CallDep) -> Response:
    force = _flag(request, "force") if c.version >= FORCE_DELETE else False
    _api(request).delete(c.ctx, volume_id, cascade=_flag(request, "cascade"), force=force)
    return Response(status_code=202)


@router.post("/volumes/{volume_id}/action")
async def volume_action(
    volume_id: str, request: Request, c: CallDep, payload: JsonBody
) -> Response:
    _api(request).get(c.ctx, volume_id)
    name = next(iter(payload), "") if isinstance(payload, dict) else ""
    raise Invalid(f"There is no such action: {name}")
