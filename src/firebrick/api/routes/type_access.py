"""Private volume types shared with projects (Cinder's ``os-volume-type-access``).

A private type is invisible to every project it is not shared with: listing skips it,
showing it or creating a volume of it is a 404, as if it did not exist.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from firebrick.api.deps import CallDep, JsonBody
from firebrick.api.type_notifications import notify
from firebrick.db import types
from firebrick.db.engine import Database
from firebrick.domain.errors import Conflict, Invalid, NotFound
from firebrick.policy import authorize

router = APIRouter()

_PROJECT = re.compile(r"^[^\x00-\x1f]{1,255}$")
_ACTIONS = {
    "addProjectAccess": "volume_extension:volume_type_access:addProjectAccess",
    "removeProjectAccess": "volume_extension:volume_type_access:removeProjectAccess",
}


class TypeAccessNotFound(NotFound):
    pass


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


@router.get("/types/{type_id}/os-volume-type-access")
async def list_access(type_id: str, request: Request, c: CallDep) -> JSONResponse:
    with _db(request).read() as conn:
        found = types.get(conn, type_id)
        if found.is_public:
            raise TypeAccessNotFound("Access list not available for public volume types.")
        projects = types.projects_of(conn, found.id)
    return JSONResponse({
        "volume_type_access": [{"volume_type_id": found.id, "project_id": p} for p in projects]
    })  # fmt: skip


@router.post("/types/{type_id}/action")
async def type_action(type_id: str, request: Request, c: CallDep, payload: JsonBody) -> Response:
    if not isinstance(payload, dict) or len(payload) != 1:
        raise Invalid("Malformed request body")
    ((name, body),) = payload.items()
    if name not in _ACTIONS:
        raise Invalid(f"There is no such action: {name}")
    authorize(c.ctx, _ACTIONS[name])
    project = body.get("project") if isinstance(body, dict) else None
    if not isinstance(project, str) or not _PROJECT.match(project):
        raise Invalid(f"Invalid input for field/attribute project: {project!r}")
    with _db(request).write() as conn:
        found = types.get(conn, type_id)
        if name == "addProjectAccess":
            if found.is_public:
                raise Invalid(
                    "Invalid volume type: Type access modification is not applicable to "
                    "public volume type."
                )
            if not types.share(conn, found.id, project):
                raise Conflict(
                    f"Volume type access for {found.id} / {project} combination already exists."
                )
        elif not types.unshare(conn, found.id, project):
            raise TypeAccessNotFound(
                f"Volume type access not found for {found.id} / {project} combination."
            )
    suffix = "add" if name == "addProjectAccess" else "remove"
    notify(request, "volume_type_project", f"volume_type_project.access.{suffix}",
           {"volume_type_id": found.id, "project_id": project})  # fmt: skip
    return Response(status_code=202)
