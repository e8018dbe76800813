"""``/volumes``: create, list, show, update, delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import Connection

from firebrick.api import listing, validation
from firebrick.api.deps import Call, CallDep, JsonBody
from firebrick.api.fast_json import FastJSONResponse
from firebrick.api.legacy_attach import LegacyAttach
from firebrick.api.microversion import APIVersion
from firebrick.api.routes import images as image_routes
from firebrick.api.routes import manage as manage_routes
from firebrick.api.routes import migration
from firebrick.api.routes.metadata import add_metadata_routes
from firebrick.api.rules import VOLUME_ACTION_RULES
from firebrick.api.views import volumes as views
from firebrick.api.views.volumes import timestamp
from firebrick.api.volume_actions import VolumeActions
from firebrick.api.volume_api import VolumeAPI
from firebrick.config import parse_bool
from firebrick.db import attachments as attachments_db
from firebrick.db import volumes as volumes_db
from firebrick.domain.errors import Invalid, VolumeNotFound
from firebrick.policy import authorize

router = APIRouter()

SUMMARY = APIVersion(3, 12)
_LEGACY_ATTACH = {
    "os-reserve", "os-unreserve", "os-initialize_connection", "os-terminate_connection",
    "os-attach", "os-detach", "os-begin_detaching", "os-roll_detaching",
}  # fmt: skip
FORCE_DELETE = APIVersion(3, 23)
SUMMARY_METADATA = APIVersion(3, 36)


def _api(request: Request) -> VolumeAPI:
    api: VolumeAPI = request.app.state.volume_api
    return api


def _attachments(
    c: Call, conn: Connection, volume_ids: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """The attached attachments of each volume, in the volume detail's shape (read in
    ``conn``, the transaction that read the volumes)."""
    found = attachments_db.attached_to(conn, volume_ids)
    return {
        vid: [
            {
                "id": vid, "attachment_id": a.id, "volume_id": vid,
                "server_id": a.instance_uuid,
                "host_name": a.attached_host if c.ctx.is_admin else None,
                "device": a.mountpoint, "attached_at": timestamp(a.attach_time),
            }
            for a in items
        ]
        for vid, items in found.items()
    }  # fmt: skip


def _list(request: Request, c: Call, *, detailed: bool) -> dict[str, Any]:
    max_limit: int = request.app.state.max_limit
    query = listing.parse_list_query(
        dict(request.query_params), c.version, c.ctx.is_admin, max_limit=max_limit
    )
    api = _api(request)
    # One read transaction for the page and what its details add.
    with api.db.read() as conn:
        found, count = api.list_in(conn, c.ctx, query)
        if detailed:
            ids = [v.id for v in found]
            attached = _attachments(c, conn, ids)
            image_meta = image_routes.image_metadata_of(request, c, conn, ids)
    if detailed:
        items = [
            views.detail(
                v, version=c.version, base_url=c.base_url, project_in_url=c.project_in_url,
                is_admin=c.ctx.is_admin, extended=True, url_project_id=c.url_project_id,
                attachments=attached.get(v.id, ()), image_metadata=image_meta.get(v.id),
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
    return FastJSONResponse(_list(request, c, detailed=False))


@router.get("/volumes/detail")
async def list_volumes_detail(request: Request, c: CallDep) -> JSONResponse:
    return FastJSONResponse(_list(request, c, detailed=True))


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
    image, image_spec = await image_routes.image_for_create(request, c, req)
    volume = _api(request).create(
        c.ctx, req, request.headers.get("idempotency-key"), image, image_spec
    )
    return JSONResponse({
        "volume": views.detail(
            volume, version=c.version, base_url=c.base_url, project_in_url=c.project_in_url,
            is_admin=c.ctx.is_admin, extended=False, url_project_id=c.url_project_id,
        )
    }, status_code=202)  # fmt: skip


@router.get("/volumes/{volume_id}")
async def show_volume(volume_id: str, request: Request, c: CallDep) -> JSONResponse:
    api = _api(request)
    with api.db.read() as conn:  # one transaction: the volume and what its detail adds
        volume = api.get_in(conn, c.ctx, volume_id)
        attached = _attachments(c, conn, [volume.id]).get(volume.id, [])
        image_meta = image_routes.image_metadata_of(request, c, conn, [volume.id]).get(volume.id)
    return FastJSONResponse({
        "volume": views.detail(
            volume, version=c.version, base_url=c.base_url, project_in_url=c.project_in_url,
            is_admin=c.ctx.is_admin, extended=True, url_project_id=c.url_project_id,
            attachments=attached, image_metadata=image_meta,
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
    if not isinstance(payload, dict) or len(payload) != 1:
        raise Invalid("Malformed request body")
    ((name, body),) = payload.items()
    rule = VOLUME_ACTION_RULES.get(name)
    if rule is not None:
        authorize(c.ctx, rule)
    actions: VolumeActions = request.app.state.volume_actions
    if name == "os-extend":
        actions.extend(c.ctx, volume_id, body, c.version)
    elif name == "os-retype":
        actions.retype(c.ctx, volume_id, body)
    elif name == "os-set_bootable":
        actions.set_bootable(c.ctx, volume_id, body)
        return Response(status_code=200)
    elif name == "os-update_readonly_flag":
        actions.set_readonly(c.ctx, volume_id, body)
    elif name == "os-reset_status":
        actions.reset_status(c.ctx, volume_id, body)
    elif name in _LEGACY_ATTACH:
        legacy: LegacyAttach = request.app.state.legacy_attach
        if name == "os-reserve":
            legacy.reserve(c.ctx, volume_id)
        elif name == "os-unreserve":
            legacy.unreserve(c.ctx, volume_id)
        elif name == "os-initialize_connection":
            info = await legacy.initialize_connection(c.ctx, volume_id, body)
            return JSONResponse(info)
        elif name == "os-terminate_connection":
            await legacy.terminate_connection(c.ctx, volume_id, body)
        elif name == "os-attach":
            legacy.attach(c.ctx, volume_id, body)
        elif name == "os-detach":
            await legacy.detach(c.ctx, volume_id, body)
        elif name == "os-begin_detaching":
            legacy.begin_detaching(c.ctx, volume_id)
        else:
            legacy.roll_detaching(c.ctx, volume_id)
    elif name == "os-force_delete":
        _api(request).delete(c.ctx, volume_id, cascade=False, force=True)
    # [qos]

    # [transfers]

    # [groups]

    # [manage]
    elif name == "os-unmanage":
        manage_routes.unmanage_volume(request, c.ctx, volume_id)

    # [migration]
    elif name == "os-migrate_volume":
        migration.migration_api(request).migrate(c.ctx, volume_id, body, c.version)
    elif name == "os-migrate_volume_completion":
        saved = migration.migration_api(request).complete(c.ctx, volume_id, body)
        return JSONResponse({"save_volume_id": saved})
    elif name == "revert":
        migration.revert_api(request).revert(c.ctx, volume_id, body, c.version)

    # [images]
    elif name in image_routes.IMAGE_ACTIONS:
        return await image_routes.volume_image_action(request, c, volume_id, name, body)

    # [backups]

    # [rbd]

    # [notifications]

    # [metrics]

    # [core]
    else:
        _api(request).get(c.ctx, volume_id)
        raise Invalid(f"There is no such action: {name}")
    return Response(status_code=202)


add_metadata_routes(router, "volumes", "volume", volumes_db.get, volumes_db.METADATA)
