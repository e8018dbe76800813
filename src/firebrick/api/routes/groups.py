"""``/groups`` (3.13): generic volume groups; ``/groups/action`` creates one from a source."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from firebrick.api import group_listing
from firebrick.api.deps import Call, CallDep, JsonBody
from firebrick.api.group_api import GroupAPI
from firebrick.api.group_from_src import create_from_src
from firebrick.api.listing import strict_bool
from firebrick.api.microversion import APIVersion
from firebrick.api.views.groups import GROUP_VOLUME_LIST, group_detail, group_summary
from firebrick.api.volume_api import VolumeAPI
from firebrick.db import group_types, groups
from firebrick.domain.errors import Invalid, NotFound
from firebrick.domain.groups import InvalidGroup, InvalidGroupType
from firebrick.policy import Policy, authorize

router = APIRouter()

GROUP_VOLUME = APIVersion(3, 13)
GROUP_SNAPSHOTS = APIVersion(3, 14)
GROUP_RESET_STATUS = APIVersion(3, 20)
GROUP_REPLICATION = APIVersion(3, 38)
PROJECT_RULE = "group:group_project_attribute"
_USER_FILTERS = ("name",)
_REPLICATION_ACTIONS = ("enable_replication", "disable_replication", "failover_replication",
                        "list_replication_targets")  # fmt: skip
# POST /groups/{id}/action: the rule of each action, by the body's one key.
GROUP_ACTION_RULES = {
    "delete": "group:delete",
    "reset_status": "group:reset_status",
    "enable_replication": "group:enable_replication",
    "disable_replication": "group:disable_replication",
    "failover_replication": "group:failover_replication",
    "list_replication_targets": "group:list_replication_targets",
}


def group_api(request: Request) -> GroupAPI:
    """The app's GroupAPI, built once from what the app already holds."""
    state = request.app.state
    api: GroupAPI | None = getattr(state, "group_api", None)
    if api is None:
        volume_api: VolumeAPI = state.volume_api
        api = GroupAPI(
            db=state.db, bus=state.bus, notifier=volume_api.notifier, host=volume_api.host,
            default_availability_zone=volume_api.default_availability_zone,
            quota_defaults=state.quota_defaults,
        )  # fmt: skip
        state.group_api = api
    return api


def _require(c: Call, minimum: APIVersion = GROUP_VOLUME) -> None:
    if c.version < minimum:
        raise NotFound("The resource could not be found.")


def _list_volume(request: Request, c: Call) -> bool:
    raw = request.query_params.get("list_volume")
    return c.version >= GROUP_VOLUME_LIST and raw is not None and strict_bool("list_volume", raw)


def _show_project(request: Request, c: Call) -> bool:
    policy: Policy = request.app.state.policy
    return policy.allows(c.ctx, PROJECT_RULE)


def _list(request: Request, c: Call, *, detailed: bool) -> JSONResponse:
    _require(c)
    params = dict(request.query_params)
    query = group_listing.parse(
        params, version=c.version, is_admin=c.ctx.is_admin, sort_keys=groups.COLUMNS,
        user_filters=_USER_FILTERS, max_limit=request.app.state.max_limit,
        ignored=("list_volume",),
    )  # fmt: skip
    found, members = group_api(request).list_groups(c.ctx, query)
    if detailed:
        show_volumes = _list_volume(request, c)
        show_project = _show_project(request, c)
        items = [group_detail(g, version=c.version, show_project=show_project,
                              volume_ids=members[g.id] if show_volumes else None)
                 for g in found]  # fmt: skip
    else:
        items = [group_summary(g) for g in found]
    return JSONResponse(group_listing.links_body(
        "groups", items, limit=query.limit, links_key="group_links",
        url=c.base_url + request.url.path, params=params,
        last_id=found[-1].id if found else None,
    ))  # fmt: skip


@router.get("/groups")
async def list_groups(request: Request, c: CallDep) -> JSONResponse:
    return _list(request, c, detailed=False)


@router.get("/groups/detail")
async def list_groups_detail(request: Request, c: CallDep) -> JSONResponse:
    return _list(request, c, detailed=True)


@router.post("/groups", status_code=202)
async def create_group(request: Request, c: CallDep, payload: JsonBody) -> JSONResponse:
    _require(c)
    group = group_api(request).create(c.ctx, payload)
    return JSONResponse({"group": group_summary(group)}, status_code=202)


@router.post("/groups/action", status_code=202)
async def create_group_from_src(request: Request, c: CallDep, payload: JsonBody) -> JSONResponse:
    _require(c, GROUP_SNAPSHOTS)
    group = create_from_src(group_api(request), request.app.state.scheduler, c.ctx, payload)
    return JSONResponse({"group": group_summary(group)}, status_code=202)


@router.get("/groups/{group_id}")
async def show_group(group_id: str, request: Request, c: CallDep) -> JSONResponse:
    _require(c)
    group, members = group_api(request).get(c.ctx, group_id)
    body = group_detail(
        group, version=c.version, show_project=_show_project(request, c),
        volume_ids=members if _list_volume(request, c) else None,
    )  # fmt: skip
    return JSONResponse({"group": body})


@router.put("/groups/{group_id}", status_code=202)
async def update_group(group_id: str, request: Request, c: CallDep, payload: JsonBody) -> Response:
    _require(c)
    group_api(request).update(c.ctx, group_id, payload)
    return Response(status_code=202)


@router.post("/groups/{group_id}/action", status_code=202)
async def group_action(group_id: str, request: Request, c: CallDep, payload: JsonBody) -> Response:
    _require(c)
    if not isinstance(payload, dict) or len(payload) != 1:
        raise Invalid("Malformed request body")
    name = next(iter(payload))
    rule = GROUP_ACTION_RULES.get(name)
    if rule is not None:
        authorize(c.ctx, rule)
    api = group_api(request)
    if name == "delete":
        api.delete(c.ctx, group_id, payload)
    elif name == "reset_status":
        _require(c, GROUP_RESET_STATUS)
        api.reset_status(c.ctx, group_id, payload)
    elif name in _REPLICATION_ACTIONS:
        _require(c, GROUP_REPLICATION)
        group, _members = api.get(c.ctx, group_id)
        with api.db.read() as conn:
            specs = group_types.get(conn, group.group_type_id).group_specs
        if specs.get("group_replication_enabled") != "<is> True":
            raise InvalidGroupType(f"Group {group.id} is not a replication group type.")
        raise InvalidGroup("replication is not supported by the group's backend.")
    else:
        api.get(c.ctx, group_id)
        raise Invalid(f"There is no such action: {name}")
    return Response(status_code=202)
