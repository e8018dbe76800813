"""``/qos-specs``: QoS specs and their association with volume types (admin-only by
default; Cinder's ``qos_specs_manage`` extension, its routes and status codes)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from firebrick.api import spec_requests
from firebrick.api.deps import Call, CallDep, JsonBody
from firebrick.api.listing import needs_next_link, next_link, strict_bool
from firebrick.api.qos_api import QosSpecsAPI
from firebrick.api.views import qos_specs as views
from firebrick.db.qos import COLUMNS
from firebrick.domain.errors import Invalid, InvalidInput
from firebrick.domain.qos import QosSpecs

router = APIRouter()

PAGING = frozenset({"limit", "marker", "offset", "sort", "sort_key", "sort_dir"})
DB_MAX_INT = 2**31 - 1


def _api(request: Request) -> QosSpecsAPI:
    volume_api = request.app.state.volume_api
    return QosSpecsAPI(request.app.state.db, volume_api.notifier, volume_api.host)


def _detail(request: Request, c: Call, specs_id: str) -> JSONResponse:
    found = _api(request).get(specs_id)
    return JSONResponse(_view(c, found))


def _view(c: Call, found: QosSpecs) -> dict[str, object]:
    return views.detail(
        found,
        base_url=c.base_url,
        project_id=c.url_project_id or c.ctx.project_id,
        project_in_url=c.project_in_url,
    )


@dataclass(frozen=True)
class QosListQuery:
    limit: int
    marker: str | None = None
    offset: int = 0
    sort: list[tuple[str, str]] = field(default_factory=lambda: [("created_at", "desc")])
    filters: dict[str, str] = field(default_factory=dict)


def parse_list(params: Mapping[str, str], max_limit: int) -> QosListQuery:
    """Paging and sorting as Cinder's other lists; any other parameter is a filter."""
    limit = max_limit
    if "limit" in params:
        try:
            limit = int(params["limit"])
        except ValueError:
            raise Invalid("limit param must be an integer") from None
        if limit < 0:
            raise Invalid("limit param must be positive")
        limit = min(limit, max_limit)
    try:
        offset = int(params.get("offset", "0"))
    except ValueError:
        raise Invalid("offset must be an integer") from None
    if offset < 0:
        raise Invalid("offset must be >= 0")
    if offset > DB_MAX_INT:
        raise Invalid(f"offset must be <= {DB_MAX_INT}")
    if params.get("sort") and ("sort_key" in params or "sort_dir" in params):
        raise Invalid(
            "The 'sort_key' and 'sort_dir' parameters are deprecated and cannot be used with "
            "the 'sort' parameter."
        )
    if params.get("sort"):
        pairs = [item.partition(":")[::2] for item in params["sort"].split(",")]
    else:
        pairs = [(params.get("sort_key", "created_at"), params.get("sort_dir", ""))]
    sort = []
    for key, direction in pairs:
        key, direction = key.strip(), direction.strip() or "desc"
        if key not in COLUMNS:
            raise InvalidInput("Invalid sort key")
        if direction not in ("asc", "desc"):
            raise InvalidInput("Unknown sort direction, must be 'desc' or 'asc'.")
        sort.append((key, direction))
    filters = {k: v for k, v in params.items() if k not in PAGING}
    return QosListQuery(limit, params.get("marker"), offset, sort, filters)


@router.get("/qos-specs")
async def list_qos_specs(request: Request, c: CallDep) -> JSONResponse:
    query = parse_list(request.query_params, request.app.state.max_limit)
    found = _api(request).list_specs(
        filters=query.filters, sort=query.sort, limit=query.limit, marker=query.marker,
        offset=query.offset,
    )  # fmt: skip
    body: dict[str, object] = {"qos_specs": [views.qos_specs(q) for q in found]}
    if needs_next_link(query.limit, len(found)):
        url = f"{c.base_url}{request.url.path}"
        body["qos_specs_links"] = [
            {"rel": "next", "href": next_link(url, request.query_params, found[-1].id)}
        ]
    return JSONResponse(body)


@router.post("/qos-specs")
async def create_qos_specs(request: Request, c: CallDep, payload: JsonBody) -> JSONResponse:
    name, specs = spec_requests.qos_create(payload)
    created = _api(request).create(name, specs)
    return JSONResponse(_view(c, created))


@router.get("/qos-specs/{qos_id}")
async def show_qos_specs(qos_id: str, request: Request, c: CallDep) -> JSONResponse:
    return _detail(request, c, qos_id)


@router.put("/qos-specs/{qos_id}")
async def set_qos_keys(
    qos_id: str, request: Request, c: CallDep, payload: JsonBody
) -> JSONResponse:
    specs = spec_requests.qos_set(payload)
    _api(request).set_keys(qos_id, specs)
    return JSONResponse({"qos_specs": specs})


@router.delete("/qos-specs/{qos_id}", status_code=202)
async def delete_qos_specs(qos_id: str, request: Request, c: CallDep) -> Response:
    force = strict_bool("force", request.query_params.get("force", "false"))
    _api(request).delete(qos_id, force=force)
    return Response(status_code=202)


@router.put("/qos-specs/{qos_id}/delete_keys", status_code=202)
async def unset_qos_keys(qos_id: str, request: Request, c: CallDep, payload: JsonBody) -> Response:
    keys = spec_requests.qos_unset(payload)
    _api(request).unset_keys(qos_id, keys)
    return Response(status_code=202)


@router.get("/qos-specs/{qos_id}/associations")
async def qos_associations(qos_id: str, request: Request, c: CallDep) -> JSONResponse:
    return JSONResponse(views.associations(_api(request).associations(qos_id)))


def _type_id(request: Request) -> str:
    type_id = request.query_params.get("vol_type_id")
    if not type_id:
        raise Invalid("Volume Type id must not be None.")
    return type_id


@router.get("/qos-specs/{qos_id}/associate", status_code=202)
async def associate_qos(qos_id: str, request: Request, c: CallDep) -> Response:
    _api(request).associate(qos_id, _type_id(request))
    return Response(status_code=202)


@router.get("/qos-specs/{qos_id}/disassociate", status_code=202)
async def disassociate_qos(qos_id: str, request: Request, c: CallDep) -> Response:
    _api(request).disassociate(qos_id, _type_id(request))
    return Response(status_code=202)


@router.get("/qos-specs/{qos_id}/disassociate_all", status_code=202)
async def disassociate_all_qos(qos_id: str, request: Request, c: CallDep) -> Response:
    _api(request).disassociate_all(qos_id)
    return Response(status_code=202)
