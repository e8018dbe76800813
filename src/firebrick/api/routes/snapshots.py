"""``/snapshots``: create, list, show, update, delete, metadata and admin actions."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from firebrick.api import listing, validation
from firebrick.api.deps import Call, CallDep, JsonBody
from firebrick.api.routes import manage as manage_routes
from firebrick.api.routes.metadata import add_metadata_routes
from firebrick.api.snapshot_api import SnapshotAPI
from firebrick.api.views import snapshots as views
from firebrick.api.views.volumes import list_body
from firebrick.db import snapshots as snapshots_db
from firebrick.domain.errors import Invalid
from firebrick.policy import authorize

router = APIRouter()

IDEMPOTENCY_HEADER = "idempotency-key"


def _api(request: Request) -> SnapshotAPI:
    api: SnapshotAPI = request.app.state.snapshot_api
    return api


def _list(request: Request, c: Call, *, detailed: bool) -> JSONResponse:
    params = dict(request.query_params)
    volume_id = params.pop("volume_id", None)
    query = listing.parse_list_query(
        params, c.version, c.ctx.is_admin, max_limit=request.app.state.max_limit
    )
    if volume_id is not None:
        query.filters["volume_id"] = volume_id
    found, count = _api(request).list_snapshots(c.ctx, query)
    items = [views.snapshot(s, version=c.version, extended=detailed) for s in found]
    next_url = None
    if listing.needs_next_link(query.limit, len(found), count):
        next_url = listing.next_link(
            c.base_url + request.url.path, dict(request.query_params), found[-1].id
        )
    return JSONResponse(list_body(items, next_marker_url=next_url, count=count, key="snapshots"))


@router.get("/snapshots")
async def list_snapshots(request: Request, c: CallDep) -> JSONResponse:
    return _list(request, c, detailed=False)


@router.get("/snapshots/detail")
async def list_snapshots_detail(request: Request, c: CallDep) -> JSONResponse:
    return _list(request, c, detailed=True)


@router.post("/snapshots", status_code=202)
async def create_snapshot(request: Request, c: CallDep, payload: JsonBody) -> JSONResponse:
    req = validation.parse_snapshot_create(payload, c.version)
    key = request.headers.get(IDEMPOTENCY_HEADER)
    snapshot = _api(request).create(c.ctx, req, c.version, key)
    return JSONResponse(
        {"snapshot": views.snapshot(snapshot, version=c.version, extended=False)}, status_code=202
    )


@router.get("/snapshots/{snapshot_id}")
async def show_snapshot(snapshot_id: str, request: Request, c: CallDep) -> JSONResponse:
    snapshot = _api(request).get(c.ctx, snapshot_id)
    return JSONResponse({"snapshot": views.snapshot(snapshot, version=c.version, extended=True)})


@router.put("/snapshots/{snapshot_id}")
async def update_snapshot(
    snapshot_id: str, request: Request, c: CallDep, payload: JsonBody
) -> JSONResponse:
    req = validation.parse_snapshot_update(payload)
    snapshot = _api(request).update(c.ctx, snapshot_id, req)
    return JSONResponse({"snapshot": views.snapshot(snapshot, version=c.version, extended=False)})


@router.delete("/snapshots/{snapshot_id}", status_code=202)
async def delete_snapshot(snapshot_id: str, request: Request, c: CallDep) -> Response:
    _api(request).delete(c.ctx, snapshot_id)
    return Response(status_code=202)


@router.post("/snapshots/{snapshot_id}/action")
async def snapshot_action(
    snapshot_id: str, request: Request, c: CallDep, payload: JsonBody
) -> Response:
    if not isinstance(payload, dict) or len(payload) != 1:
        raise Invalid("Malformed request body")
    ((name, body),) = payload.items()
    api = _api(request)
    if name == "os-reset_status":
        authorize(c.ctx, "volume_extension:snapshot_admin_actions:reset_status")
        status = body.get("status") if isinstance(body, dict) else None
        if not isinstance(status, str):
            raise Invalid("Must specify 'status'")
        api.reset_status(c.ctx, snapshot_id, status)
    elif name == "os-force_delete":
        authorize(c.ctx, "volume_extension:snapshot_admin_actions:force_delete")
        api.delete(c.ctx, snapshot_id, force=True)
    elif name == "os-update_snapshot_status":
        authorize(c.ctx, "snapshot_extension:snapshot_actions:update_snapshot_status")
        api.update_status(c.ctx, snapshot_id, body)
    elif name == "os-unmanage":
        authorize(c.ctx, "snapshot_extension:snapshot_unmanage")
        manage_routes.unmanage_snapshot(request, c.ctx, snapshot_id)
    else:
        api.get(c.ctx, snapshot_id)
        raise Invalid(f"There is no such action: {name}")
    return Response(status_code=202)


add_metadata_routes(router, "snapshots", "snapshot", snapshots_db.get, snapshots_db.METADATA)
