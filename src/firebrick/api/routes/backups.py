"""``/backups``: create, list, detail, show, update (3.9), delete, restore, export and
import records, and the admin actions ``os-reset_status`` and ``os-force_delete``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from firebrick.api import backup_requests as parse
from firebrick.api import listing
from firebrick.api.backup_api import BackupAPI
from firebrick.api.deps import Call, CallDep, JsonBody
from firebrick.api.validation import VolumeCreateRequest
from firebrick.api.views import backups as views
from firebrick.api.volume_api import VolumeAPI
from firebrick.domain.errors import Invalid, NotFound
from firebrick.policy import allowed, authorize

router = APIRouter()

PROJECT_ATTRIBUTE = "backup:backup_project_attribute"
ACTION_RULES = {
    "os-reset_status": "volume_extension:backup_admin_actions:reset_status",
    "os-force_delete": "volume_extension:backup_admin_actions:force_delete",
}


def _api(request: Request) -> BackupAPI:
    state = request.app.state
    volume_api: VolumeAPI = state.volume_api
    return BackupAPI(
        db=state.db, bus=volume_api.bus, notifier=volume_api.notifier, host=volume_api.host,
        quota_defaults=state.quota_defaults, service_down_time=state.service_down_time,
    )  # fmt: skip


def _project_attribute(c: Call) -> bool:
    return allowed(c.ctx, PROJECT_ATTRIBUTE)


def _list(request: Request, c: Call, *, detailed: bool) -> JSONResponse:
    query = parse.parse_list(request.query_params, c.version, is_admin=c.ctx.is_admin,
                             max_limit=request.app.state.max_limit)  # fmt: skip
    found, count = _api(request).list_backups(c.ctx, query)
    if detailed:
        shown = _project_attribute(c)
        items = [views.detail(b, c, project_attribute=shown) for b in found]
    else:
        items = [views.summary(b, c) for b in found]
    next_url = None
    if listing.needs_next_link(query.limit, len(found), count):
        next_url = listing.next_link(
            c.base_url + request.url.path, dict(request.query_params), found[-1].id
        )
    return JSONResponse(views.list_body(items, next_url, count))


@router.get("/backups")
async def list_backups(request: Request, c: CallDep) -> JSONResponse:
    return _list(request, c, detailed=False)


@router.get("/backups/detail")
async def list_backups_detail(request: Request, c: CallDep) -> JSONResponse:
    return _list(request, c, detailed=True)


@router.post("/backups", status_code=202)
async def create_backup(request: Request, c: CallDep, payload: JsonBody) -> JSONResponse:
    req = parse.parse_create(payload, c.version)
    made = _api(request).create(c.ctx, req)
    return JSONResponse({"backup": views.summary(made, c)}, status_code=202)


@router.post("/backups/import_record", status_code=201)
async def import_record(request: Request, c: CallDep, payload: JsonBody) -> JSONResponse:
    service, url = parse.parse_import(payload)
    made = _api(request).import_record(c.ctx, service, url)
    return JSONResponse({"backup": views.summary(made, c)}, status_code=201)


@router.get("/backups/{backup_id}")
async def show_backup(backup_id: str, request: Request, c: CallDep) -> JSONResponse:
    found = _api(request).get(c.ctx, backup_id)
    body = views.detail(found, c, project_attribute=_project_attribute(c))
    return JSONResponse({"backup": body})


@router.put("/backups/{backup_id}")
async def update_backup(
    backup_id: str, request: Request, c: CallDep, payload: JsonBody
) -> JSONResponse:
    if c.version < parse.BACKUP_UPDATE:
        raise NotFound("The resource could not be found.")
    changes = parse.parse_update(payload, c.version)
    updated = _api(request).update(c.ctx, backup_id, changes)
    return JSONResponse({"backup": views.summary(updated, c)})


@router.delete("/backups/{backup_id}", status_code=202)
async def delete_backup(backup_id: str, request: Request, c: CallDep) -> Response:
    _api(request).delete(c.ctx, backup_id)
    return Response(status_code=202)


@router.post("/backups/{backup_id}/restore", status_code=202)
async def restore_backup(
    backup_id: str, request: Request, c: CallDep, payload: JsonBody
) -> JSONResponse:
    volume_id, name = parse.parse_restore(payload)
    api = _api(request)
    if volume_id is not None:
        volume = api.restore_onto(c.ctx, backup_id, volume_id)
        return JSONResponse(views.restore_summary(backup_id, volume.id, volume.name),
                            status_code=202)  # fmt: skip
    # A new volume, made from the backup as POST /volumes with backup_id makes it.
    found = api.get(c.ctx, backup_id)
    authorize(c.ctx, "volume:create", c.ctx.project_id)
    req = VolumeCreateRequest(
        size=found.size, name=name or f"restore_backup_{backup_id}",
        description="auto-created_from_restore_from_backup", backup_id=backup_id,
    )  # fmt: skip
    volume_api: VolumeAPI = request.app.state.volume_api
    volume = volume_api.create(c.ctx, req)
    return JSONResponse(views.restore_summary(backup_id, volume.id, volume.name),
                        status_code=202)  # fmt: skip


@router.get("/backups/{backup_id}/export_record")
async def export_record(backup_id: str, request: Request, c: CallDep) -> JSONResponse:
    return JSONResponse({"backup-record": _api(request).export_record(c.ctx, backup_id)})


@router.post("/backups/{backup_id}/action", status_code=202)
async def backup_action(
    backup_id: str, request: Request, c: CallDep, payload: JsonBody
) -> Response:
    if not isinstance(payload, dict) or len(payload) != 1:
        raise Invalid("Malformed request body")
    ((name, body),) = payload.items()
    rule = ACTION_RULES.get(name)
    if rule is None:
        _api(request).get(c.ctx, backup_id)
        raise Invalid(f"There is no such action: {name}")
    authorize(c.ctx, rule)
    if name == "os-reset_status":
        _api(request).reset_status(c.ctx, backup_id, parse.parse_reset_status(body))
    else:
        if body not in (None, {}):
            raise Invalid("os-force_delete takes no arguments")
        _api(request).delete(c.ctx, backup_id, force=True)
    return Response(status_code=202)
