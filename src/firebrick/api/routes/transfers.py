"""``/os-volume-transfer`` (every microversion) and ``/volume-transfers`` (Cinder's v3
controller): create, list, detail, show, accept, delete.

The two collections differ as Cinder's two controllers do: only ``/volume-transfers``
takes ``no_snapshots`` (3.55) and pages in the database (3.59).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from firebrick.api import listing
from firebrick.api.deps import Call, CallDep, JsonBody
from firebrick.api.transfer_api import TransferAPI
from firebrick.api.transfer_requests import (
    SUPPORT_TRANSFER_PAGINATION,
    parse_accept,
    parse_create,
    parse_list,
)
from firebrick.api.views import transfers as views

router = APIRouter()

LEGACY = "/os-volume-transfer"
CURRENT = "/volume-transfers"


def _api(request: Request) -> TransferAPI:
    state = request.app.state
    return TransferAPI(
        db=state.db,
        notifier=state.volume_api.notifier,
        host=state.volume_api.host,
        quota_defaults=state.quota_defaults,
    )


def _list(request: Request, c: Call, *, legacy: bool, detailed: bool) -> JSONResponse:
    query = parse_list(
        request.query_params, c.version, legacy=legacy, is_admin=c.ctx.is_admin,
        max_limit=request.app.state.max_limit,
    )  # fmt: skip
    api = _api(request)
    found = api.list_transfers(c.ctx, query)
    view = views.detail if detailed else views.summary
    body: dict[str, object] = {"transfers": [view(t, c) for t in found]}
    # Cinder's next-link rule, against the page (paged in the database) or the whole list.
    paged = not legacy and c.version >= SUPPORT_TRANSFER_PAGINATION
    total = len(found) if paged or not found else api.count(c.ctx, query)
    if listing.needs_next_link(query.limit, len(found), total):
        href = listing.next_link(
            c.base_url + request.url.path, dict(request.query_params), found[-1].id
        )
        body["transfers_links"] = [{"rel": "next", "href": href}]
    return JSONResponse(body)


def _add_routes(collection: str, *, legacy: bool) -> None:
    @router.get(collection, name=f"list{collection}")
    async def list_transfers(request: Request, c: CallDep) -> JSONResponse:
        return _list(request, c, legacy=legacy, detailed=False)

    @router.get(collection + "/detail", name=f"detail{collection}")
    async def list_transfers_detail(request: Request, c: CallDep) -> JSONResponse:
        return _list(request, c, legacy=legacy, detailed=True)

    @router.post(collection, status_code=202, name=f"create{collection}")
    async def create_transfer(request: Request, c: CallDep, payload: JsonBody) -> JSONResponse:
        req = parse_create(payload, c.version, legacy=legacy)
        made = _api(request).create(c.ctx, req)
        return JSONResponse(
            {"transfer": views.created(made.transfer, made.auth_key, c)}, status_code=202
        )

    @router.get(collection + "/{transfer_id}", name=f"show{collection}")
    async def show_transfer(transfer_id: str, request: Request, c: CallDep) -> JSONResponse:
        return JSONResponse({"transfer": views.detail(_api(request).get(c.ctx, transfer_id), c)})

    @router.post(collection + "/{transfer_id}/accept", status_code=202, name=f"accept{collection}")
    async def accept_transfer(
        transfer_id: str, request: Request, c: CallDep, payload: JsonBody
    ) -> JSONResponse:
        auth_key = parse_accept(payload)
        taken = _api(request).accept(c.ctx, transfer_id, auth_key)
        return JSONResponse({"transfer": views.summary(taken, c)}, status_code=202)

    @router.delete(collection + "/{transfer_id}", status_code=202, name=f"delete{collection}")
    async def delete_transfer(transfer_id: str, request: Request, c: CallDep) -> Response:
        _api(request).delete(c.ctx, transfer_id)
        return Response(status_code=202)


_add_routes(LEGACY, legacy=True)
_add_routes(CURRENT, legacy=False)
