"""``/os-hosts``: the services' hosts, and what each volume host holds per project.

Cinder marks the API deprecated but keeps it; Horizon and ``cinder host-list`` read it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from firebrick.api.deps import CallDep
from firebrick.api.views.volumes import timestamp
from firebrick.db import services, volumes
from firebrick.db.engine import Database
from firebrick.domain.errors import NotFound

router = APIRouter()


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


@router.get("/os-hosts")
async def list_hosts(request: Request, c: CallDep) -> JSONResponse:
    """Every enabled service as a host row (``service`` is Cinder's topic, its binary)."""
    zone = request.query_params.get("zone")
    down_time: float = request.app.state.service_down_time
    with _db(request).read() as conn:
        found = services.list_services(conn)
    hosts = [
        {
            "host_name": s.host,
            "service": s.binary,
            "zone": s.availability_zone,
            "service-status": "available" if s.is_up(down_time) else "unavailable",
            "service-state": "disabled" if s.disabled else "enabled",
            "last-update": timestamp(s.updated_at),
        }
        for s in found
        if not s.disabled and (not zone or s.availability_zone == zone)
    ]
    return JSONResponse({"hosts": hosts})


@router.get("/os-hosts/{host_name}")
async def show_host(host_name: str, request: Request, c: CallDep) -> JSONResponse:
    """Volumes and snapshots on a volume host: the total first, then one row per project."""
    with _db(request).read() as conn:
        known = {s.host for s in services.list_services(conn, services.VOLUME_BINARY)}
        if host_name not in known:
            raise NotFound(f"Host {host_name} could not be found.")
        volume_usage = volumes.usage_on_backend(conn, host_name)
        snapshot_usage = volumes.snapshot_usage_on_backend(conn, host_name)

    def row(project: str, v: tuple[int, int], s: tuple[int, int]) -> dict[str, Any]:
        return {"resource": {
            "host": host_name, "project": project,
            "volume_count": str(v[0]), "total_volume_gb": str(v[1]),
            "snapshot_count": str(s[0]), "total_snapshot_gb": str(s[1]),
        }}  # fmt: skip

    projects = sorted(set(volume_usage) | set(snapshot_usage))
    rows = [row("(total)", _total(volume_usage), _total(snapshot_usage))]
    rows += [row(p, volume_usage.get(p, (0, 0)), snapshot_usage.get(p, (0, 0))) for p in projects]
    return JSONResponse({"host": rows})


def _total(usage: dict[str, tuple[int, int]]) -> tuple[int, int]:
    return sum(n for n, _ in usage.values()), sum(gb for _, gb in usage.values())
