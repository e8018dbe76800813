"""``/types``: volume types and their extra specs (changes are admin-only)."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from firebrick.api.deps import Call, CallDep, JsonBody
from firebrick.api.type_notifications import notify, notify_type, type_errors
from firebrick.api.views.types import (
    created_type,
    updated_type,
    visible_extra_specs,
    volume_type,
)
from firebrick.db import groups, quotas, types, volumes
from firebrick.db.engine import Database
from firebrick.domain.errors import Conflict, Invalid, NotFound
from firebrick.policy import allowed

router = APIRouter()

# Who sees a type's os-volume-type-access:is_public.
TYPE_ACCESS = "volume_extension:volume_type_access"

_SPEC_KEY = re.compile(r"^[a-zA-Z0-9-_:. /]{1,255}$")


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _object(payload: object, key: str) -> dict[str, Any]:
    if not isinstance(payload, dict) or not isinstance(payload.get(key), dict):
        raise Invalid(f"Missing required element '{key}' in request body.")
    inner: dict[str, Any] = payload[key]
    return inner


def _specs(raw: object) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise Invalid("Invalid input received: extra_specs must be an object.")
    specs: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not _SPEC_KEY.match(key):
            raise Invalid(f"Invalid input received: invalid extra spec key {key!r}.")
        if not isinstance(value, (str, int, float, bool)) or len(str(value)) > 255:
            raise Invalid(f"Invalid input received: invalid value for extra spec {key}.")
        specs[key] = str(value)
    return specs


def _seen_by(c: Call) -> str | None:
    """The project whose view of types applies: None for admins, who see every type."""
    return None if c.ctx.is_admin else c.ctx.project_id


@router.get("/types")
async def list_types(request: Request, c: CallDep) -> JSONResponse:
    is_public: bool | None = True
    if c.ctx.is_admin:
        raw = request.query_params.get("is_public")
        if raw is not None:
            is_public = None if raw.lower() == "none" else raw.lower() in ("true", "1", "yes")
    with _db(request).read() as conn:
        found = types.list_types(conn, is_public=is_public, project_id=_seen_by(c))
    access = allowed(c.ctx, TYPE_ACCESS)
    return JSONResponse(
        {"volume_types": [volume_type(t, is_admin=c.ctx.is_admin, access=access) for t in found]}
    )


@router.get("/types/{type_id}")
async def show_type(type_id: str, request: Request, c: CallDep) -> JSONResponse:
    with _db(request).read() as conn:
        if type_id == "default":
            type_id = request.app.state.default_volume_type
        found = types.get(conn, type_id, _seen_by(c))
    access = allowed(c.ctx, TYPE_ACCESS)
    return JSONResponse({"volume_type": volume_type(found, is_admin=c.ctx.is_admin, access=access)})


@router.post("/types")
async def create_type(request: Request, c: CallDep, payload: JsonBody) -> JSONResponse:
    spec = _object(payload, "volume_type")
    name = spec.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise Invalid("Invalid input received: Volume type name can not be empty.")
    description = spec.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > 255):
        raise Invalid("Invalid input received: Volume type description is invalid.")
    is_public = spec.get("os-volume-type-access:is_public", spec.get("is_public", True))
    extra_specs = _specs(spec.get("extra_specs") or {})
    with type_errors(request, "volume_type.create", volume_types=spec), \
            _db(request).write() as conn:  # fmt: skip
        if types.name_taken(conn, name.strip()):
            raise Conflict(f"Volume Type {name} already exists.")
        created = types.create(
            conn, name.strip(), description=description,
            is_public=str(is_public).lower() in ("true", "1"), extra_specs=extra_specs,
        )  # fmt: skip
    notify_type(request, "volume_type.create", created)
    return JSONResponse({"volume_type": created_type(created)})


@router.put("/types/{type_id}")
async def update_type(
    type_id: str, request: Request, c: CallDep, payload: JsonBody
) -> JSONResponse:
    spec = _object(payload, "volume_type")
    values: dict[str, Any] = {}
    if "name" in spec:
        name = spec["name"]
        if not isinstance(name, str) or not name.strip() or len(name) > 255:
            raise Invalid("Invalid input received: Volume type name can not be empty.")
        values["name"] = name.strip()
    if "description" in spec:
        description = spec["description"]
        if description is not None and (not isinstance(description, str) or len(description) > 255):
            raise Invalid("Invalid input received: Volume type description is invalid.")
        values["description"] = description
    if "is_public" in spec:
        values["is_public"] = str(spec["is_public"]).lower() in ("true", "1")
    if not values:
        raise Invalid(
            "Invalid input received: Specify volume type name, description, is_public or "
            "a combination thereof."
        )
    with type_errors(request, "volume_type.update", id=type_id), \
            _db(request).write() as conn:  # fmt: skip
        found = types.get(conn, type_id)
        if "name" in values and types.name_taken(conn, values["name"], other_than=found.id):
            raise Conflict(f"Volume Type {values['name']} already exists.")
        types.update_type(conn, found.id, values)
        if "name" in values and values["name"] != found.name:
            # Per-type quotas are keyed by the type's name.
            quotas.rename_type(conn, found.name, values["name"])
        updated = types.get(conn, found.id)
    notify_type(request, "volume_type.update", updated)
    return JSONResponse({"volume_type": updated_type(updated)})


@router.delete("/types/{type_id}", status_code=202)
async def delete_type(type_id: str, request: Request, c: CallDep) -> Response:
    with type_errors(request, "volume_type.delete", id=type_id), _db(request).write() as conn:
        found = types.get(conn, type_id)
        if found.name in (types.DEFAULT_TYPE_NAME, request.app.state.default_volume_type):
            raise Invalid("Invalid volume type: Default volume type can not be deleted.")
        if volumes.uses_type(conn, found.id) or groups.uses_volume_type(conn, found.id):
            raise Invalid("Invalid volume type: Target volume type is still in use.")
        types.remove(conn, found.id)
    notify_type(request, "volume_type.delete", found)
    return Response(status_code=202)


@router.get("/types/{type_id}/extra_specs")
async def list_extra_specs(type_id: str, request: Request, c: CallDep) -> JSONResponse:
    with _db(request).read() as conn:
        found = types.get(conn, type_id, _seen_by(c))
    return JSONResponse(
        {"extra_specs": visible_extra_specs(found.extra_specs, is_admin=c.ctx.is_admin)}
    )


@router.post("/types/{type_id}/extra_specs")
async def set_extra_specs(
    type_id: str, request: Request, c: CallDep, payload: JsonBody
) -> JSONResponse:
    if not isinstance(payload, dict) or "extra_specs" not in payload:
        raise Invalid("Missing required element 'extra_specs' in request body.")
    specs = _specs(payload["extra_specs"])
    with _db(request).write() as conn:
        found = types.get(conn, type_id)
        if volumes.uses_type(conn, found.id):
            raise Invalid("Invalid volume type: Volume Type is currently in use.")
        if specs:
            types.set_extra_specs(conn, found.id, specs)
    notify(request, "volumeTypeExtraSpecs", "volume_type_extra_specs.create",
           {"type_id": found.id, "specs": specs})  # fmt: skip
    return JSONResponse({"extra_specs": specs})


@router.get("/types/{type_id}/extra_specs/{key}")
async def show_extra_spec(type_id: str, key: str, request: Request, c: CallDep) -> JSONResponse:
    with _db(request).read() as conn:
        found = types.get(conn, type_id, _seen_by(c))
    visible = visible_extra_specs(found.extra_specs, is_admin=c.ctx.is_admin)
    if key not in visible:
        raise NotFound(f"Volume Type {type_id} has no extra specs with key {key}.")
    return JSONResponse({key: visible[key]})


@router.put("/types/{type_id}/extra_specs/{key}")
async def update_extra_spec(
    type_id: str,
    key: str,
    request: Request,
    c: CallDep,
    payload: JsonBody,
) -> JSONResponse:
    if not isinstance(payload, dict) or list(payload) != [key]:
        raise Invalid("Request body and URI mismatch")
    specs = _specs(payload)
    with _db(request).write() as conn:
        found = types.get(conn, type_id)
        if volumes.uses_type(conn, found.id):
            raise Invalid("Invalid volume type: Volume Type is currently in use.")
        types.set_extra_specs(conn, found.id, specs)
    notify(request, "volumeTypeExtraSpecs", "volume_type_extra_specs.update",
           {"type_id": found.id, "id": key})  # fmt: skip
    return JSONResponse(specs)


@router.delete("/types/{type_id}/extra_specs/{key}", status_code=202)
async def delete_extra_spec(type_id: str, key: str, request: Request, c: CallDep) -> Response:
    with _db(request).write() as conn:
        found = types.get(conn, type_id)
        if not types.delete_extra_spec(conn, found.id, key):
            raise NotFound(f"Volume Type {type_id} has no extra specs with key {key}.")
    notify(request, "volumeTypeExtraSpecs", "volume_type_extra_specs.delete",
           {"type_id": found.id, "id": key})  # fmt: skip
    return Response(status_code=202)
