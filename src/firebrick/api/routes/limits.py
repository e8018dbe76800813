"""``/limits``: a project's absolute limits and what it uses of them."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from firebrick.api.deps import CallDep
from firebrick.api.microversion import APIVersion
from firebrick.db import quotas
from firebrick.db.engine import Database
from firebrick.domain import quota
from firebrick.domain.errors import Forbidden

router = APIRouter()

ADMIN_PROJECT_FILTER = APIVersion(3, 39)


@router.get("/limits")
async def limits(request: Request, c: CallDep) -> JSONResponse:
    db: Database = request.app.state.db
    defaults = quota.defaults_dict(request.app.state.quota_defaults)
    project = c.ctx.project_id
    if c.version >= ADMIN_PROJECT_FILTER:
        project = request.query_params.get("project_id", project)
        if project != c.ctx.project_id and not c.ctx.is_admin:
            raise Forbidden("Policy doesn't allow limits_extension:used_limits to be performed.")
    with db.read() as conn:
        limit = quotas.limits(conn, project, defaults)
        usage = quotas.usage(conn, project)
    return JSONResponse(
        {
            "limits": {
                "rate": [],
                "absolute": {
                    "maxTotalVolumes": limit["volumes"],
                    "maxTotalSnapshots": limit["snapshots"],
                    "maxTotalVolumeGigabytes": limit["gigabytes"],
                    "maxTotalBackups": limit["backups"],
                    "maxTotalBackupGigabytes": limit["backup_gigabytes"],
                    "totalVolumesUsed": usage.get("volumes", 0),
                    "totalGigabytesUsed": usage.get("gigabytes", 0),
                    "totalSnapshotsUsed": usage.get("snapshots", 0),
                    "totalBackupsUsed": usage.get("backups", 0),
                    "totalBackupGigabytesUsed": usage.get("backup_gigabytes", 0),
                },
            }
        }
    )
