"""``GET /volumes/{volume_id}/timeline`` (Firebrick's own): what happened to a volume.

The dashboard's per-volume timeline: when the API accepted the volume and the scheduler
placed it, each run of its create flow (every task with start, end and outcome; a
reschedule with the pool that failed and why) and the user messages about it (the
scheduler's verdict on each pool). Readers of the volume's project may see it, as they may
see the volume.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from firebrick.api.deps import CallDep
from firebrick.api.views import timeline as views
from firebrick.api.volume_api import VolumeAPI
from firebrick.db import flow_runs, messages

router = APIRouter()


@router.get("/volumes/{volume_id}/timeline")
async def show_timeline(request: Request, volume_id: str, c: CallDep) -> JSONResponse:
    api: VolumeAPI = request.app.state.volume_api
    volume = api.get(c.ctx, volume_id)
    with api.db.read() as conn:
        placed = flow_runs.placement(conn, volume.id)
        runs = flow_runs.of_volume(conn, volume.id)
        notes = messages.list_messages(
            conn, None if c.ctx.is_admin else c.ctx.project_id, resource_uuid=volume.id
        )
    body = views.timeline(volume, placed, runs, notes, is_admin=c.ctx.is_admin)
    return JSONResponse({"timeline": body})
