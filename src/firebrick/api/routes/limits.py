"""``/limits``: a project's absolute limits and what it uses of them."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from firebrick.api.deps import CallDep
from firebrick.db import quotas
from firebrick.db.engine import Database
from firebrick.domain import quota

router = APIRouter()


@router.get("/limits")
async def limits(request: Request, c: CallDep) -> JSONResponse:
    db: Database = request.app.state.db
    defaults = quota.defaults_dict(request.app.state.quota_defaults)
    with db.read() as conn:
        limit = quotas.limits(conn, c.ctx.project_id, defaults)
        usage = quotas.usage(conn, c.ctx.project_id)
    return JSONResponse(
        {
            "limits": {
                "rate": [],
                "absolute": {
                    "maxTotalVolumes": limit["volumes"],
                    "maxTotalSnapshots": limit["snapshots"],
                    "maxTotalVolumeGigabytes": limit["gigabytes"],
                    "maxTotalBackups": 10,
                    "maxTotalBackupGigabytes": 1000,
                    "totalVolumesUsed": usage.get("volumes", 0),
                    "totalGigabytesUsed": usage.get("gigabytes", 0),
                    "totalSnapshotsUsed": usage.get("snapshots", 0),
                    "totalBackupsUsed": 0,
                    "totalBackupGigabytesUsed": 0,
                },
            }
        }
    )
