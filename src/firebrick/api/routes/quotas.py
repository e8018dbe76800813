"""``/os-quota-sets`` and ``/os-quota-class-sets``: limits per project and per quota class.

The path parameter is ``target_project`` because every route is also mounted under
``/v3/{project_id}``, where ``project_id`` is the caller's own project.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import Connection

from firebrick.api.deps import CallDep, JsonBody
from firebrick.api.listing import strict_bool
from firebrick.db import quotas, types
from firebrick.db.engine import Database
from firebrick.domain import quota
from firebrick.domain.errors import Invalid, InvalidInput
from firebrick.policy import authorize

router = APIRouter()

SHOW = "volume_extension:quotas:show"
UPDATE = "volume_extension:quotas:update"
DELETE = "volume_extension:quotas:delete"

MAX_NAME = 255


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _check_name(name: str, what: str) -> None:
    if len(name) > MAX_NAME:
        raise InvalidInput(f"{what} has more than {MAX_NAME} characters.")


def _object(payload: object, key: str) -> dict[str, Any]:
    if not isinstance(payload, dict) or key not in payload:
        raise Invalid(f"Missing required element '{key}' in request body.")
    inner = payload[key]
    if not isinstance(inner, dict):
        raise InvalidInput(f"{key} must be an object.")
    found: dict[str, Any] = inner
    return found


def _resources(conn: Connection) -> list[str]:
    return quota.resource_names(t.name for t in types.list_types(conn, is_public=None))


def _defaults(request: Request) -> dict[str, int]:
    return quota.defaults_dict(request.app.state.quota_defaults)


def _limit_set(resources: list[str], limits: dict[str, int]) -> dict[str, Any]:
    """Each resource's limit; per-type resources without a limit anywhere are unlimited."""
    return {r: limits.get(r, quota.UNLIMITED) for r in resources}


def _usage_set(
    resources: list[str], limits: dict[str, int], usage: dict[str, int]
) -> dict[str, Any]:
    return {
        r: {
            "limit": limits.get(r, quota.UNLIMITED),
            "in_use": 0 if r in quota.PER_REQUEST else usage.get(r, 0),
            "reserved": 0,
        }
        for r in resources
    }


@router.get("/os-quota-sets/{target_project}")
async def show_quota_set(target_project: str, request: Request, c: CallDep) -> JSONResponse:
    authorize(c.ctx, SHOW, target_project)
    raw = request.query_params.get("usage")
    with_usage = strict_bool("usage", raw) if raw is not None else False
    with _db(request).read() as conn:
        resources = _resources(conn)
        limits = quotas.limits(conn, target_project, _defaults(request))
        usage = quotas.usage(conn, target_project) if with_usage else {}
    body = _usage_set(resources, limits, usage) if with_usage else _limit_set(resources, limits)
    return JSONResponse({"quota_set": {"id": target_project, **body}})


@router.get("/os-quota-sets/{target_project}/defaults")
async def show_defaults(target_project: str, request: Request, c: CallDep) -> JSONResponse:
    authorize(c.ctx, SHOW, target_project)
    with _db(request).read() as conn:
        resources = _resources(conn)
        defaults = quotas.class_limits(conn, quotas.DEFAULT_CLASS, _defaults(request))
    return JSONResponse({"quota_set": {"id": target_project, **_limit_set(resources, defaults)}})


@router.put("/os-quota-sets/{target_project}")
async def update_quota_set(
    target_project: str, request: Request, c: CallDep, payload: JsonBody
) -> JSONResponse:
    authorize(c.ctx, UPDATE, target_project)
    _check_name(target_project, "quota_set_name")
    requested = _object(payload, "quota_set")
    with _db(request).write() as conn:
        resources = _resources(conn)
        new_limits = quota.parse_limits(requested, resources, ignored=quota.NON_QUOTA_KEYS)
        if not new_limits:
            raise InvalidInput("quota_set must name at least one quota.")
        quota.check_not_below_usage(new_limits, quotas.usage(conn, target_project, lock=True))
        quotas.set_limits(conn, target_project, new_limits)
        limits = quotas.limits(conn, target_project, _defaults(request))
    # Like Cinder, the answer to an update carries no "id".
    return JSONResponse({"quota_set": _limit_set(resources, limits)})


@router.delete("/os-quota-sets/{target_project}")
async def delete_quota_set(target_project: str, request: Request, c: CallDep) -> Response:
    authorize(c.ctx, DELETE, target_project)
    with _db(request).write() as conn:
        quotas.delete_limits(conn, target_project)
    return Response(status_code=200)


@router.get("/os-quota-class-sets/{class_name}")
async def show_quota_class_set(class_name: str, request: Request, c: CallDep) -> JSONResponse:
    with _db(request).read() as conn:
        resources = _resources(conn)
        limits = quotas.class_limits(conn, class_name, _defaults(request))
    return JSONResponse({"quota_class_set": {"id": class_name, **_limit_set(resources, limits)}})


@router.put("/os-quota-class-sets/{class_name}")
async def update_quota_class_set(
    class_name: str, request: Request, c: CallDep, payload: JsonBody
) -> JSONResponse:
    _check_name(class_name, "quota_class_name")
    requested = _object(payload, "quota_class_set")
    with _db(request).write() as conn:
        resources = _resources(conn)
        new_limits = quota.parse_limits(requested, resources, what="quota class set")
        quotas.set_class_limits(conn, class_name, new_limits)
        limits = quotas.class_limits(conn, class_name, _defaults(request))
    return JSONResponse({"quota_class_set": _limit_set(resources, limits)})
