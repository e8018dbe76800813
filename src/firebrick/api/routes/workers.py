"""``POST /workers/cleanup`` (3.24, admin): recover the work of volume services that died.

Volumes a dead service was creating are sent back to the scheduler, which places them on
a live backend; volumes it was deleting are queued for that backend again, to finish when
it (or another process serving the same backend) comes back. Services that are up clean
up after themselves when they start, so they are listed as unavailable for cleanup.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from firebrick.api.deps import CallDep, JsonBody
from firebrick.api.microversion import APIVersion
from firebrick.db import recovery, services, volumes
from firebrick.db.engine import Database
from firebrick.domain import statuses
from firebrick.domain.errors import Invalid, NotFound
from firebrick.metrics.instruments import count_cleanup
from firebrick.rpc.bus import SCHEDULER_TOPIC, Bus, cast_or_defer, volume_topic

router = APIRouter()

WORKERS_CLEANUP = APIVersion(3, 24)
_FILTERS = {"service_id", "cluster_name", "host", "binary", "is_up", "disabled",
            "resource_id", "resource_type"}  # fmt: skip


def _view(s: services.ServiceRecord) -> dict[str, Any]:
    return {"id": s.id, "host": s.host, "binary": s.binary, "cluster_name": None}


@router.post("/workers/cleanup")
async def cleanup(request: Request, c: CallDep, payload: JsonBody) -> JSONResponse:
    if c.version < WORKERS_CLEANUP:
        raise NotFound("The resource could not be found.")
    body = payload if isinstance(payload, dict) else {}
    unknown = set(body) - _FILTERS
    if unknown:
        raise Invalid(f"Invalid input received: unknown filters {', '.join(sorted(unknown))}")
    db: Database = request.app.state.db
    bus: Bus = request.app.state.bus
    down_time: float = request.app.state.service_down_time
    with db.read() as conn:
        candidates = [
            s
            for s in services.list_services(conn, "cinder-volume")
            if (
                "host" not in body
                or s.host == body["host"]
                or s.host.startswith(f"{body['host']}@")
            )
            and ("service_id" not in body or s.id == body["service_id"])
        ]
    cleaning, unavailable = [], []
    for service in candidates:
        if service.is_up(down_time):
            unavailable.append(_view(service))
            continue
        _recover(db, bus, service.host)
        cleaning.append(_view(service))
    return JSONResponse({"cleaning": cleaning, "unavailable": unavailable}, status_code=202)


def _recover(db: Database, bus: Bus, backend: str) -> None:
    with db.read() as conn:
        pending = recovery.on_backend(conn, backend, [statuses.CREATING, statuses.DELETING])
    for item in pending:
        if item.status == statuses.DELETING:
            cast_or_defer(
                bus, volume_topic(backend), "delete_volume", {"volume_id": item.volume_id}
            )
            count_cleanup("delete_resent")
            continue
        with db.write() as conn:
            moved = volumes.update(
                conn, item.volume_id, {"host": None, "task_state": "rescheduling"},
                expected={"status": statuses.CREATING, "host": item.host},
            )  # fmt: skip
            if moved and item.host:
                services.add_allocation(conn, item.host, -item.size)
        if moved:
            retry = {"num_attempts": 1, "backends": [backend], "last_error": "service down"}
            retried = {"volume_id": item.volume_id, "retry": retry}
            cast_or_defer(bus, SCHEDULER_TOPIC, "create_volume", retried)
            count_cleanup("create_rescheduled")
