"""What operators look at: availability zones, services, pools."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from firebrick.api.deps import CallDep, JsonBody
from firebrick.api.microversion import APIVersion
from firebrick.api.views.volumes import timestamp
from firebrick.db import services, types
from firebrick.db.engine import Database
from firebrick.domain.errors import Invalid, NotFound
from firebrick.domain.extra_specs import bool_from_string
from firebrick.domain.model import RequestSpec

router = APIRouter()

CLUSTERS = APIVersion(3, 7)
POOL_FILTERS = APIVersion(3, 28)
POOL_TYPE_FILTER = APIVersion(3, 35)
BACKEND_STATE = APIVersion(3, 49)


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


@router.get("/os-availability-zone")
async def availability_zones(request: Request, c: CallDep) -> JSONResponse:
    zones: dict[str, bool] = {}
    with _db(request).read() as conn:
        for service in services.list_services(conn, "cinder-volume"):
            zones[service.availability_zone] = (
                zones.get(service.availability_zone, False) or not service.disabled
            )
    return JSONResponse(
        {
            "availabilityZoneInfo": [
                {"zoneName": name, "zoneState": {"available": up}}
                for name, up in sorted(zones.items())
            ]
        }
    )


@router.get("/os-services")
async def list_services(request: Request, c: CallDep) -> JSONResponse:
    host = request.query_params.get("host")
    binary = request.query_params.get("binary")
    down_time: float = request.app.state.service_down_time
    with _db(request).read() as conn:
        found = services.list_services(conn, binary)
        # A service can be alive while its storage is not (a directory gone read-only).
        storage_down = {p.backend for p in services.pool_states(conn)
                        if p.capabilities.get("backend_state") == "down"}  # fmt: skip
    body = []
    for s in found:
        if host and not s.on_host(host):
            continue
        up = s.is_up(down_time)
        entry: dict[str, Any] = {
            "binary": s.binary,
            "host": s.host,
            "zone": s.availability_zone,
            "status": "disabled" if s.disabled else "enabled",
            "state": "up" if up else "down",
            "updated_at": timestamp(s.updated_at),
            "disabled_reason": s.disabled_reason,
        }
        if c.version >= CLUSTERS:
            entry["cluster"] = None
        if s.binary == "cinder-volume":
            entry.update(replication_status="disabled", active_backend_id=None, frozen=s.frozen)
            if c.version >= BACKEND_STATE:
                entry["backend_state"] = "up" if up and s.host not in storage_down else "down"
        body.append(entry)
    return JSONResponse({"services": body})


@router.put("/os-services/freeze")
async def freeze(request: Request, c: CallDep, payload: JsonBody) -> Response:
    body = payload if isinstance(payload, dict) else {}
    _freeze(_db(request), body.get("host"), frozen=True)
    return Response(status_code=200)


@router.put("/os-services/thaw")
async def thaw(request: Request, c: CallDep, payload: JsonBody) -> Response:
    body = payload if isinstance(payload, dict) else {}
    _freeze(_db(request), body.get("host"), frozen=False)
    return Response(status_code=200)


@router.put("/os-services/{action}")
async def change_service(
    action: str, request: Request, c: CallDep, payload: JsonBody
) -> JSONResponse:
    """enable, disable and disable-log-reason, as Cinder's os-services actions."""
    body = payload if isinstance(payload, dict) else {}
    if action not in ("enable", "disable", "disable-log-reason"):
        raise NotFound("The resource could not be found.")
    host, binary = body.get("host"), body.get("binary")
    if not isinstance(host, str) or not isinstance(binary, str):
        raise Invalid("Invalid input received: host and binary must be given.")
    reason = body.get("disabled_reason")
    if action == "disable-log-reason" and (not isinstance(reason, str) or not reason.strip()):
        raise Invalid("Disabled reason contains invalid characters or is too long")
    if reason is not None and (not isinstance(reason, str) or len(reason) > 255):
        raise Invalid("Disabled reason contains invalid characters or is too long")
    disabled = action != "enable"
    with _db(request).write() as conn:
        if not services.set_disabled(conn, host, binary, disabled, reason if disabled else None):
            raise NotFound(f"Service {binary} on host {host} could not be found.")
    return JSONResponse({
        "host": host, "service": binary, "binary": binary,
        "status": "disabled" if disabled else "enabled", "disabled": disabled,
        "disabled_reason": reason if disabled else None,
    })  # fmt: skip


def _freeze(db: Database, host: object, *, frozen: bool) -> None:
    """A frozen volume service keeps serving its volumes but takes no changes to them."""
    if not isinstance(host, str) or not host:
        raise Invalid("Invalid input received: host must be given.")
    with db.write() as conn:
        found = [s.host for s in services.list_services(conn, services.VOLUME_BINARY)
                 if s.on_host(host)]  # fmt: skip
        if not found:
            raise Invalid(f"Invalid input received: No service found with host={host}")
        if not services.set_frozen(conn, found, frozen):
            state = "thawed" if frozen else "frozen"
            raise Invalid(
                f"Invalid input received: the volume services of {host} must be {state} "
                f"to be {'frozen' if frozen else 'thawed'}."
            )


def _matches(capabilities: dict[str, Any], key: str, wanted: str) -> bool:
    if key not in capabilities:
        return False
    value = capabilities[key]
    if isinstance(value, bool):
        return value == bool_from_string(wanted)
    return str(value) == wanted


@router.get("/scheduler-stats/get_pools")
async def get_pools(request: Request, c: CallDep) -> JSONResponse:
    params = dict(request.query_params)
    detail = bool_from_string(params.pop("detail", "false"))
    filters = params if c.version >= POOL_FILTERS else {}
    type_name = filters.pop("volume_type", None) if c.version >= POOL_TYPE_FILTER else None
    name = filters.pop("name", None)
    with _db(request).read() as conn:
        pools = services.pool_states(conn)
        volume_type = types.get(conn, type_name) if type_name else None
    if volume_type is not None:
        verdicts = request.app.state.scheduler.explain(
            pools, RequestSpec(volume_id="", size=0, volume_type=volume_type)
        )
        pools = [p for p in pools if verdicts.get(p.name) is None]
    body = []
    for pool in pools:
        caps = dict(pool.capabilities)
        if name and pool.name != name:
            continue
        if not all(_matches(caps, k, v) for k, v in filters.items()):
            continue
        entry: dict[str, Any] = {"name": pool.name}
        if detail:
            entry["capabilities"] = caps
        body.append(entry)
    return JSONResponse({"pools": body})
