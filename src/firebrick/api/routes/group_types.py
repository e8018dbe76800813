"""``/group_types`` (3.11): group types and their group specs (changes are admin-only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from firebrick.api import group_listing
from firebrick.api.deps import Call, CallDep, JsonBody
from firebrick.api.group_schemas import parse_bool, validate
from firebrick.api.microversion import APIVersion
from firebrick.api.views.groups import group_type
from firebrick.db import group_types
from firebrick.db.engine import Database
from firebrick.domain.errors import Invalid, NotFound
from firebrick.domain.groups import GroupType, GroupTypeExists
from firebrick.notifier import Notifier
from firebrick.policy import Policy

router = APIRouter()

GROUP_TYPE = APIVersion(3, 11)
SPECS_RULE = "group:access_group_types_specs"


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _require(c: Call) -> None:
    if c.version < GROUP_TYPE:
        raise NotFound("The resource could not be found.")


def _with_specs(request: Request, c: Call) -> bool:
    policy: Policy = request.app.state.policy
    return policy.allows(c.ctx, SPECS_RULE)


def _notify(request: Request, event: str, payload: dict[str, Any], *, error: bool = False
            ) -> None:  # fmt: skip
    volume_api = request.app.state.volume_api
    notifier: Notifier = volume_api.notifier
    publisher = "groupTypeSpecs" if event.startswith("group_type_specs") else "groupType"
    notifier.emit(f"{publisher}.{volume_api.host}", event, payload,
                  priority="ERROR" if error else "INFO")  # fmt: skip


def _type_payload(t: GroupType) -> dict[str, Any]:
    return {"group_types": {**group_type(t, with_specs=True), "created_at": t.created_at}}


def _is_public_filter(raw: str | None) -> bool | None:
    """Cinder's ``_parse_is_public``: absent is public only, 'none' is every type."""
    if raw is None:
        return True
    if raw.strip().lower() == "none":
        return None
    if raw.strip().lower() in {"1", "t", "true", "on", "y", "yes"}:
        return True
    if raw.strip().lower() in {"0", "f", "false", "off", "n", "no"}:
        return False
    raise Invalid(f"Invalid is_public filter [{raw}]")


@router.get("/group_types")
async def list_group_types(request: Request, c: CallDep) -> JSONResponse:
    _require(c)
    params = dict(request.query_params)
    query = group_listing.parse(
        params, version=c.version, is_admin=True, sort_keys=group_types.SORT_COLUMNS,
        user_filters=(), max_limit=request.app.state.max_limit,
    )  # fmt: skip
    is_public = _is_public_filter(params.get("is_public")) if c.ctx.is_admin else True
    with _db(request).read() as conn:
        found = group_types.list_types(
            conn, is_public=is_public, sort=query.sort, limit=query.limit,
            marker=query.marker, offset=query.offset,
        )  # fmt: skip
    with_specs = _with_specs(request, c)
    items = [group_type(t, with_specs=with_specs) for t in found]
    body = group_listing.links_body(
        "group_types", items, limit=query.limit, links_key="group_type_links",
        url=c.base_url + request.url.path, params=params,
        last_id=found[-1].id if found else None,
    )  # fmt: skip
    return JSONResponse(body)


@router.get("/group_types/{group_type_id}")
async def show_group_type(group_type_id: str, request: Request, c: CallDep) -> JSONResponse:
    _require(c)
    with _db(request).read() as conn:
        if group_type_id == "default":
            name = getattr(request.app.state, "default_group_type", None)
            found = group_types.find_by_name(conn, name) if name else None
            if found is None:
                raise NotFound("Default group type can not be found.")
        else:
            found = group_types.get(conn, group_type_id, public_only=not c.ctx.is_admin)
    return JSONResponse({"group_type": group_type(found, with_specs=_with_specs(request, c))})


@router.post("/group_types", status_code=202)
async def create_group_type(request: Request, c: CallDep, payload: JsonBody) -> JSONResponse:
    _require(c)
    spec = validate("group_type_create", payload)["group_type"]
    name: str = spec["name"]
    is_public = parse_bool(spec.get("is_public", True))
    with _db(request).write() as conn:
        if group_types.name_taken(conn, name):
            _notify(request, "group_type.create", {"group_types": spec, "name": None,
                    "id": None, "error_message": f"Group Type {name} already exists."},
                    error=True)  # fmt: skip
            raise GroupTypeExists(name)
        created = group_types.create(
            conn, name, description=spec.get("description"), is_public=is_public,
            group_specs=spec.get("group_specs") or {},
        )  # fmt: skip
    _notify(request, "group_type.create", _type_payload(created))
    body = group_type(created, with_specs=_with_specs(request, c))
    return JSONResponse({"group_type": body}, status_code=202)


@router.put("/group_types/{group_type_id}")
async def update_group_type(
    group_type_id: str, request: Request, c: CallDep, payload: JsonBody
) -> JSONResponse:
    _require(c)
    spec = validate("group_type_update", payload)["group_type"]
    name, description = spec.get("name"), spec.get("description")
    is_public = spec.get("is_public")
    if name is not None and not name.strip():
        raise Invalid("Group type name can not be empty.")
    if name is None and description is None and is_public is None:
        raise Invalid("Specify group type name, description or a combination thereof.")
    values: dict[str, Any] = {}
    if name is not None:
        values["name"] = name
    if description is not None:
        values["description"] = description
    if is_public is not None:
        values["is_public"] = parse_bool(is_public)
    with _db(request).write() as conn:
        found = group_types.get(conn, group_type_id)
        if name is not None and group_types.name_taken(conn, name, other_than=found.id):
            raise GroupTypeExists(name)
        group_types.update_type(conn, found.id, values)
        updated = group_types.get(conn, found.id)
    _notify(request, "group_type.update", _type_payload(updated))
    return JSONResponse({"group_type": group_type(updated, with_specs=_with_specs(request, c))})


@router.delete("/group_types/{group_type_id}", status_code=202)
async def delete_group_type(group_type_id: str, request: Request, c: CallDep) -> Response:
    _require(c)
    with _db(request).write() as conn:
        found = group_types.get(conn, group_type_id)
        if group_types.in_use(conn, found.id):
            raise Invalid(
                f"Target group type is still in use. Group Type {found.id} deletion is not "
                "allowed with groups present with the type."
            )
        group_types.remove(conn, found.id)
    _notify(request, "group_type.delete", _type_payload(found))
    return Response(status_code=202)


# group specs ---------------------------------------------------------------------------


def _type(conn: Any, c: Call, group_type_id: str) -> GroupType:
    return group_types.get(conn, group_type_id, public_only=not c.ctx.is_admin)


@router.get("/group_types/{group_type_id}/group_specs")
async def list_group_specs(group_type_id: str, request: Request, c: CallDep) -> JSONResponse:
    _require(c)
    with _db(request).read() as conn:
        found = _type(conn, c, group_type_id)
    return JSONResponse({"group_specs": dict(found.group_specs)})


@router.post("/group_types/{group_type_id}/group_specs", status_code=202)
async def create_group_specs(
    group_type_id: str, request: Request, c: CallDep, payload: JsonBody
) -> JSONResponse:
    _require(c)
    body = validate("group_specs_create", payload)
    specs: dict[str, str | None] = body["group_specs"]
    with _db(request).write() as conn:
        _type(conn, c, group_type_id)
        if specs:
            group_types.set_specs(conn, group_type_id, specs)
    _notify(request, "group_type_specs.create", {"type_id": group_type_id, "specs": specs})
    return JSONResponse(body, status_code=202)


@router.get("/group_types/{group_type_id}/group_specs/{spec_id}")
async def show_group_spec(
    group_type_id: str, spec_id: str, request: Request, c: CallDep
) -> JSONResponse:
    _require(c)
    with _db(request).read() as conn:
        found = _type(conn, c, group_type_id)
    if spec_id not in found.group_specs:
        raise NotFound(f"Group Type {group_type_id} has no extra spec with key {spec_id}.")
    return JSONResponse({spec_id: found.group_specs[spec_id]})


@router.put("/group_types/{group_type_id}/group_specs/{spec_id}")
async def update_group_spec(
    group_type_id: str, spec_id: str, request: Request, c: CallDep, payload: JsonBody
) -> JSONResponse:
    _require(c)
    body = validate("group_specs_update", payload)
    with _db(request).write() as conn:
        _type(conn, c, group_type_id)
        if spec_id not in body:
            raise Invalid("Request body and URI mismatch")
        group_types.set_specs(conn, group_type_id, body)
    _notify(request, "group_type_specs.update", {"type_id": group_type_id, "id": spec_id})
    return JSONResponse(body)


@router.delete("/group_types/{group_type_id}/group_specs/{spec_id}", status_code=202)
async def delete_group_spec(
    group_type_id: str, spec_id: str, request: Request, c: CallDep
) -> Response:
    _require(c)
    with _db(request).write() as conn:
        _type(conn, c, group_type_id)
        group_types.delete_spec(conn, group_type_id, spec_id)
    _notify(request, "group_type_specs.delete", {"type_id": group_type_id, "id": spec_id})
    return Response(status_code=202)
