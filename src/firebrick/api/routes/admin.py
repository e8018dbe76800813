"""What operators look at: availability zones, services, pools."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from firebrick.api.deps import CallDep
from firebrick.api.microversion import APIVersion
from firebrick.api.views.volumes import timestamp
from firebrick.db import services
from firebrick.db.engine import Database
from firebrick.policy import authorize

router = APIRouter()

CLUSTERS = APIVersion(3, 7)
BACKEND_STATE = APIVersion(3, 49)


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


@router.get("/os-availability-zone")
def availability_zones(request: Request, c: CallDep) -> dict[str, Any]:
    zones: dict[str, bool] = {}
    with _db(request).read() as conn:
        for service in services.list_services(conn, "cinder-volume"):
            zones[service.availability_zone] = (
                zones.get(service.availability_zone, False) or not service.disabled
            )
    return {
        "availabilityZoneInfo": [
            {"zoneName": name, "zoneState": {"available": up}} for name, up in sorted(zones.items())
        ]
    }


@router.get("/os-services")
def list_services(request: Request, c: CallDep) -> dict[str, Any]:
    authorize(c.ctx, "volume_extension:services:index")
    host = request.query_params.get("host")
    binary = request.query_params.get("binary")
    down_time: float = request.app.state.service_down_time
    with _db(request).read() as conn:
        found = services.list_services(conn, binary)
    body = []
    for s in found:
        if host and s.host != host:
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
            entry.update(replication_status="disabled", active_backend_id=None, frozen=False)
            if c.version >= BACKEND_STATE:
                entry["backend_state"] = "up" if up else "down"
        body.append(entry)
    return {"services": body}


@router.get("/scheduler-stats/get_pools")
def get_pools(request: Request, c: CallDep) -> dict[str, Any]:
    authorize(c.ctx, "scheduler_extension:scheduler_stats:get_pools")
    detail = request.query_params.get("detail", "false").lower() in ("true", "1", "yes")
    name = request.query_params.get("name")
    with _db(request).read() as conn:
        pools = services.pool_states(conn)
    body = []
    for pool in pools:
        if name and pool.name != name:
            continue
        entry: dict[str, Any] = {"name": pool.name}
        if detail:
            caps = dict(pool.capabilities)
            caps["allocated_capacity_gb"] = pool.allocated_capacity_gb
            caps["provisioned_capacity_gb"] = pool.provisioned_capacity_gb
            entry["capabilities"] = caps
        body.append(entry)
    return {"pools": body}


@router.get("/extensions")
def extensions(c: CallDep) -> dict[str, Any]:
    return {"extensions": []}
