"""``/group_snapshots`` (3.14): a snapshot of every volume of a group, taken together."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from firebrick.api import group_listing
from firebrick.api.deps import Call, CallDep, JsonBody
from firebrick.api.group_snapshot_api import GroupSnapshotAPI
from firebrick.api.microversion import APIVersion
from firebrick.api.views.groups import group_snapshot_detail, group_snapshot_summary
from firebrick.api.volume_api import VolumeAPI
from firebrick.db import group_snapshots
from firebrick.domain.errors import Invalid, NotFound
from firebrick.policy import Policy, authorize

router = APIRouter()

GROUP_SNAPSHOTS = APIVersion(3, 14)
GROUP_SNAPSHOT_RESET_STATUS = APIVersion(3, 19)
GROUP_SNAPSHOT_PAGINATION = APIVersion(3, 29)
PROJECT_RULE = "group:group_snapshot_project_attribute"
RESET_STATUS_RULE = "group:reset_group_snapshot_status"
_USER_FILTERS = ("name", "status", "group_id")


def group_snapshot_api(request: Request) -> GroupSnapshotAPI:
    """The app's GroupSnapshotAPI, built once from what the app already holds."""
    state = request.app.state
    api: GroupSnapshotAPI | None = getattr(state, "group_snapshot_api", None)
    if api is None:
        volume_api: VolumeAPI = state.volume_api
        api = GroupSnapshotAPI(
            db=state.db,
            bus=state.bus,
            notifier=volume_api.notifier,
            host=volume_api.host,
            quota_defaults=state.quota_defaults,
        )
        state.group_snapshot_api = api
    return api


def _require(c: Call, minimum: APIVersion = GROUP_SNAPSHOTS) -> None:
    if c.version < minimum:
        raise NotFound("The resource could not be found.")


def _show_project(request: Request, c: Call) -> bool:
    policy: Policy = request.app.state.policy
    return policy.allows(c.ctx, PROJECT_RULE)


def _list(request: Request, c: Call, *, detailed: bool) -> JSONResponse:
    _require(c)
    # Before 3.29 Cinder reads no paging, sorting or filters here.
    params = dict(request.query_params) if c.version >= GROUP_SNAPSHOT_PAGINATION else {}
    query = group_listing.parse(
        params, version=c.version, is_admin=c.ctx.is_admin,
        sort_keys=group_snapshots.COLUMNS, user_filters=_USER_FILTERS,
        max_limit=request.app.state.max_limit,
    )  # fmt: skip
    found = group_snapshot_api(request).list_group_snapshots(c.ctx, query)
    if detailed:
        show_project = _show_project(request, c)
        items = [group_snapshot_detail(s, version=c.version, show_project=show_project)
                 for s in found]  # fmt: skip
    else:
        items = [{"id": s.id, "name": s.name} for s in found]
    return JSONResponse(group_listing.links_body(
        "group_snapshots", items, limit=query.limit, links_key="group_snapshot_links",
        url=c.base_url + request.url.path, params=params,
        last_id=found[-1].id if found else None,
    ))  # fmt: skip


@router.get("/group_snapshots")
async def list_group_snapshots(request: Request, c: CallDep) -> JSONResponse:
    return _list(request, c, detailed=False)


@router.get("/group_snapshots/detail")
async def list_group_snapshots_detail(request: Request, c: CallDep) -> JSONResponse:
    return _list(request, c, detailed=True)


@router.post("/group_snapshots", status_code=202)
async def create_group_snapshot(request: Request, c: CallDep, payload: JsonBody) -> JSONResponse:
    _require(c)
    created = group_snapshot_api(request).create(c.ctx, payload)
    return JSONResponse({"group_snapshot": group_snapshot_summary(created)}, status_code=202)


@router.get("/group_snapshots/{group_snapshot_id}")
async def show_group_snapshot(group_snapshot_id: str, request: Request, c: CallDep
                              ) -> JSONResponse:  # fmt: skip
    _require(c)
    found = group_snapshot_api(request).get(c.ctx, group_snapshot_id)
    body = group_snapshot_detail(found, version=c.version, show_project=_show_project(request, c))
    return JSONResponse({"group_snapshot": body})


@router.delete("/group_snapshots/{group_snapshot_id}", status_code=202)
async def delete_group_snapshot(group_snapshot_id: str, request: Request, c: CallDep) -> Response:
    _require(c)
    group_snapshot_api(request).delete(c.ctx, group_snapshot_id)
    return Response(status_code=202)


@router.post("/group_snapshots/{group_snapshot_id}/action", status_code=202)
async def group_snapshot_action(
    group_snapshot_id: str, request: Request, c: CallDep, payload: JsonBody
) -> Response:
    _require(c)
    if not isinstance(payload, dict) or len(payload) != 1:
        raise Invalid("Malformed request body")
    name = next(iter(payload))
    api = group_snapshot_api(request)
    if name == "reset_status":
        _require(c, GROUP_SNAPSHOT_RESET_STATUS)
        authorize(c.ctx, RESET_STATUS_RULE)
        api.reset_status(c.ctx, group_snapshot_id, payload)
    else:
        api.get(c.ctx, group_snapshot_id)
        raise Invalid(f"There is no such action: {name}")
    return Response(status_code=202)
