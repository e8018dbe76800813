"""The metadata endpoints of a resource (volumes, snapshots): ``/<collection>/{id}/metadata``.

GET the whole set, POST merges, PUT replaces; ``/metadata/{key}`` gets, sets or deletes one
item (``{"meta": {key: value}}``). Each call first checks that the caller may see the
resource (404 otherwise), in the same transaction as the change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import Connection

from firebrick.api import validation
from firebrick.api.deps import Call, CallDep, JsonBody
from firebrick.db.engine import Database
from firebrick.db.keyvalue import KeyValues
from firebrick.domain.errors import NotFound

# get(conn, resource id, project or None) -> the resource; raises NotFound when not visible.
Getter = Callable[[Connection, str, str | None], Any]


def add_metadata_routes(
    router: APIRouter, collection: str, resource: str, get: Getter, store: KeyValues
) -> None:
    base = f"/{collection}/{{owner_id}}/metadata"

    def db(request: Request) -> Database:
        database: Database = request.app.state.db
        return database

    def project(c: Call) -> str | None:
        return None if c.ctx.is_admin else c.ctx.project_id

    def missing(owner_id: str, key: str) -> NotFound:
        return NotFound(f"Metadata item was not found for {resource} {owner_id} key {key}.")

    def current(request: Request, c: Call, owner_id: str) -> dict[str, str]:
        with db(request).read() as conn:
            get(conn, owner_id, project(c))
            return store.of(conn, [owner_id])[owner_id]

    def write(
        request: Request, c: Call, owner_id: str, items: dict[str, str], *, replace: bool
    ) -> dict[str, str]:
        with db(request).write() as conn:
            get(conn, owner_id, project(c))
            store.set(conn, owner_id, items, replace=replace)
            return store.of(conn, [owner_id])[owner_id]

    @router.get(base)
    async def show_all(owner_id: str, request: Request, c: CallDep) -> JSONResponse:
        return JSONResponse({"metadata": current(request, c, owner_id)})

    @router.post(base)
    async def merge(owner_id: str, request: Request, c: CallDep, payload: JsonBody) -> JSONResponse:
        items = validation.parse_metadata(payload)
        return JSONResponse({"metadata": write(request, c, owner_id, items, replace=False)})

    @router.put(base)
    async def replace(
        owner_id: str, request: Request, c: CallDep, payload: JsonBody
    ) -> JSONResponse:
        items = validation.parse_metadata(payload)
        return JSONResponse({"metadata": write(request, c, owner_id, items, replace=True)})

    @router.get(base + "/{key}")
    async def show_one(owner_id: str, key: str, request: Request, c: CallDep) -> JSONResponse:
        metadata = current(request, c, owner_id)
        if key not in metadata:
            raise missing(owner_id, key)
        return JSONResponse({"meta": {key: metadata[key]}})

    @router.put(base + "/{key}")
    async def set_one(
        owner_id: str, key: str, request: Request, c: CallDep, payload: JsonBody
    ) -> JSONResponse:
        item = validation.parse_meta_item(payload, key)
        write(request, c, owner_id, item, replace=False)
        return JSONResponse({"meta": item})

    @router.delete(base + "/{key}")
    async def delete_one(owner_id: str, key: str, request: Request, c: CallDep) -> Response:
        with db(request).write() as conn:
            get(conn, owner_id, project(c))
            if not store.delete_key(conn, owner_id, key):
                raise missing(owner_id, key)
        return Response(status_code=200)
