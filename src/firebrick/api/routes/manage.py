"""Managing existing storage: ``/os-volume-manage``, ``/os-snapshot-manage`` (every
microversion) and ``/manageable_volumes``, ``/manageable_snapshots`` (from 3.8).

Unmanaging is an action (``os-unmanage``) of ``/volumes/{id}/action`` and
``/snapshots/{id}/action``; their routes call ``unmanage_*`` here.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from firebrick.api.deps import Call, CallDep, JsonBody
from firebrick.api.manage_api import ManageAPI
from firebrick.api.manage_requests import (
    parse_manage_snapshot,
    parse_manage_volume,
    parse_manageable_query,
)
from firebrick.api.microversion import APIVersion
from firebrick.api.views import snapshots as snapshot_views
from firebrick.api.views import volumes as volume_views
from firebrick.api.views.manageable import manageable_list
from firebrick.api.volume_api import VolumeAPI
from firebrick.context import RequestContext
from firebrick.domain.errors import NotFound

router = APIRouter()

MANAGE_EXISTING_LIST = APIVersion(3, 8)
# Cinder's manage answers are its legacy views, whatever the microversion.
LEGACY = APIVersion(3, 0)


def manage_api(request: Request) -> ManageAPI:
    """The service layer, from what the app already holds."""
    state = request.app.state
    volume_api: VolumeAPI = state.volume_api
    return ManageAPI(
        db=state.db, bus=state.bus, notifier=volume_api.notifier, host=volume_api.host,
        quota_defaults=state.quota_defaults, scheduler=state.scheduler,
        service_down_time=state.service_down_time,
        default_volume_type=volume_api.default_volume_type,
    )  # fmt: skip


def _from_3_8(c: Call) -> None:
    # Cinder's VersionNotFoundForAPIMethod: the method does not exist below 3.8.
    if c.version < MANAGE_EXISTING_LIST:
        raise NotFound("The resource could not be found.")


async def _manage_volume(request: Request, c: Call, payload: object) -> JSONResponse:
    req = parse_manage_volume(payload, c.version)
    volume = await manage_api(request).manage_volume(c.ctx, req)
    body = volume_views.detail(
        volume, version=LEGACY, base_url=c.base_url, project_in_url=c.project_in_url,
        is_admin=c.ctx.is_admin, extended=False, url_project_id=c.url_project_id,
    )  # fmt: skip
    return JSONResponse({"volume": body}, status_code=202)


async def _manage_snapshot(request: Request, c: Call, payload: object) -> JSONResponse:
    req = parse_manage_snapshot(payload)
    snapshot = await manage_api(request).manage_snapshot(c.ctx, req)
    body = snapshot_views.snapshot(snapshot, version=LEGACY, extended=False)
    return JSONResponse({"snapshot": body}, status_code=202)


async def _list(request: Request, c: Call, kind: str, *, detailed: bool) -> JSONResponse:
    query = parse_manageable_query(
        dict(request.query_params), c.version, max_limit=request.app.state.max_limit
    )
    entries = await manage_api(request).manageable(kind, query)
    return JSONResponse(manageable_list(entries, kind=kind, detailed=detailed))


# Volumes ------------------------------------------------------------------------------


@router.post("/os-volume-manage", status_code=202)
async def manage_volume_legacy(request: Request, c: CallDep, payload: JsonBody) -> JSONResponse:
    return await _manage_volume(request, c, payload)


@router.post("/manageable_volumes", status_code=202)
async def manage_volume(request: Request, c: CallDep, payload: JsonBody) -> JSONResponse:
    _from_3_8(c)
    return await _manage_volume(request, c, payload)


@router.get("/os-volume-manage")
async def list_manageable_volumes_legacy(request: Request, c: CallDep) -> JSONResponse:
    return await _list(request, c, "volume", detailed=False)


@router.get("/os-volume-manage/detail")
async def list_manageable_volumes_detail_legacy(request: Request, c: CallDep) -> JSONResponse:
    return await _list(request, c, "volume", detailed=True)


@router.get("/manageable_volumes")
async def list_manageable_volumes(request: Request, c: CallDep) -> JSONResponse:
    _from_3_8(c)
    return await _list(request, c, "volume", detailed=False)


@router.get("/manageable_volumes/detail")
async def list_manageable_volumes_detail(request: Request, c: CallDep) -> JSONResponse:
    _from_3_8(c)
    return await _list(request, c, "volume", detailed=True)


# Snapshots ----------------------------------------------------------------------------


@router.post("/os-snapshot-manage", status_code=202)
async def manage_snapshot_legacy(request: Request, c: CallDep, payload: JsonBody) -> JSONResponse:
    return await _manage_snapshot(request, c, payload)


@router.post("/manageable_snapshots", status_code=202)
async def manage_snapshot(request: Request, c: CallDep, payload: JsonBody) -> JSONResponse:
    _from_3_8(c)
    return await _manage_snapshot(request, c, payload)


@router.get("/os-snapshot-manage")
async def list_manageable_snapshots_legacy(request: Request, c: CallDep) -> JSONResponse:
    return await _list(request, c, "snapshot", detailed=False)


@router.get("/os-snapshot-manage/detail")
async def list_manageable_snapshots_detail_legacy(request: Request, c: CallDep) -> JSONResponse:
    return await _list(request, c, "snapshot", detailed=True)


@router.get("/manageable_snapshots")
async def list_manageable_snapshots(request: Request, c: CallDep) -> JSONResponse:
    _from_3_8(c)
    return await _list(request, c, "snapshot", detailed=False)


@router.get("/manageable_snapshots/detail")
async def list_manageable_snapshots_detail(request: Request, c: CallDep) -> JSONResponse:
    _from_3_8(c)
    return await _list(request, c, "snapshot", detailed=True)


# Unmanaging (actions) -------------------------------------------------------------------


def unmanage_volume(request: Request, ctx: RequestContext, volume_id: str) -> None:
    manage_api(request).unmanage_volume(ctx, volume_id)


def unmanage_snapshot(request: Request, ctx: RequestContext, snapshot_id: str) -> None:
    manage_api(request).unmanage_snapshot(ctx, snapshot_id)
