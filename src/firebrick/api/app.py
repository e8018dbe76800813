"""The FastAPI application of the api role: routes, faults and OpenStack plumbing."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException

from firebrick.api import openapi
from firebrick.api.attachment_api import AttachmentAPI
from firebrick.api.auth import KeystoneAuth, TokenValidator
from firebrick.api.faults import fault_body, fault_for, fault_headers
from firebrick.api.legacy_attach import LegacyAttach
from firebrick.api.middleware import OpenStackMiddleware
from firebrick.api.routes import ROUTERS
from firebrick.api.shape_index import ShapeIndex, flatten
from firebrick.api.snapshot_api import SnapshotAPI
from firebrick.api.versions import versions_document
from firebrick.api.volume_actions import VolumeActions
from firebrick.api.volume_api import VolumeAPI
from firebrick.config import QuotaDefaults
from firebrick.db.engine import Database
from firebrick.db.outage import is_outage
from firebrick.domain.errors import FirebrickError
from firebrick.policy import Policy, default_policy
from firebrick.rpc.bus import BusUnavailable
from firebrick.scheduler.filter_scheduler import FilterScheduler

LOG = logging.getLogger("firebrick.api")

_STARLETTE_MESSAGES = {
    404: "The resource could not be found.",
    405: "The method is not allowed for this resource.",
}


def _fault(code: int, message: str) -> JSONResponse:
    return JSONResponse(fault_body(code, message), status_code=code, headers=fault_headers(code))


def create_app(
    *,
    volume_api: VolumeAPI,
    snapshot_api: SnapshotAPI,
    volume_actions: VolumeActions,
    attachment_api: AttachmentAPI,
    db: Database,
    default_volume_type: str,
    max_limit: int,
    service_down_time: float,
    quota_defaults: QuotaDefaults,
    scheduler: FilterScheduler,
    public_endpoint: str | None = None,
    policy: Policy | None = None,
    validator: TokenValidator | None = None,
) -> FastAPI:
    """The app; ``validator`` set means ``auth_strategy = keystone``, else noauth."""
    app = FastAPI(
        title="Firebrick Block Storage API",
        version="3.71",
        description="The OpenStack Block Storage (Cinder) API v3, as Firebrick serves it.",
        docs_url=None,
        redoc_url=None,
        # ``/volumes/`` is not ``/volumes``: an empty id is a 404, as in Cinder (Starlette
        # would redirect a GET and answer 405 to DELETE and PUT).
        redirect_slashes=False,
    )
    app.state.volume_api = volume_api
    app.state.snapshot_api = snapshot_api
    app.state.volume_actions = volume_actions
    app.state.attachment_api = attachment_api
    app.state.legacy_attach = LegacyAttach(attachment_api)
    app.state.db = db
    app.state.bus = volume_api.bus
    app.state.default_volume_type = default_volume_type
    app.state.max_limit = max_limit
    app.state.service_down_time = service_down_time
    app.state.quota_defaults = quota_defaults
    app.state.scheduler = scheduler  # to answer get_pools?volume_type=, without placing
    app.state.public_endpoint = public_endpoint
    app.state.policy = policy if policy is not None else default_policy()
    app.state.auth_strategy = "keystone" if validator is not None else "noauth"

    def base_url(request: Request) -> str:
        return (public_endpoint or str(request.base_url)).rstrip("/")

    @app.get("/", status_code=300)
    def root(request: Request) -> JSONResponse:
        return JSONResponse(versions_document(base_url(request)), status_code=300)

    @app.get("/v3/")
    @app.get("/v3")
    def v3_root(request: Request) -> dict[str, Any]:
        return versions_document(base_url(request))

    @app.get("/healthcheck")
    def healthcheck() -> dict[str, str]:
        return {"status": "OK"}

    # Every resource router under both prefixes, as one route found by the path's shape.
    app.router.routes.append(
        ShapeIndex(flatten(ROUTERS, ("/v3", "/v3/{project_id}"), provider=app))
    )

    @app.exception_handler(FirebrickError)
    async def on_error(_request: Request, exc: FirebrickError) -> JSONResponse:
        code, body, headers = fault_for(exc)
        return JSONResponse(body, status_code=code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def on_validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return _fault(400, f"Invalid input received: {exc.errors()[0].get('msg', 'invalid')}")

    @app.exception_handler(HTTPException)
    async def on_http(_request: Request, exc: HTTPException) -> JSONResponse:
        return _fault(exc.status_code, _STARLETTE_MESSAGES.get(exc.status_code, str(exc.detail)))

    async def on_database_error(request: Request, exc: Exception) -> JSONResponse:
        # Registered for the database's and the bus's exceptions, so that an outage is
        # answered here (503) and not re-raised by Starlette's last-resort 500 handler.
        if is_outage(exc):
            LOG.warning("%s %s during an outage: %s", request.method, request.url.path, exc)
        else:
            LOG.exception("Unexpected error on %s %s", request.method, request.url.path)
        code, body, headers = fault_for(exc)
        return JSONResponse(body, status_code=code, headers=headers)

    app.add_exception_handler(SQLAlchemyError, on_database_error)
    app.add_exception_handler(BusUnavailable, on_database_error)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        if is_outage(exc):
            LOG.warning("%s %s during an outage: %s", request.method, request.url.path, exc)
        else:
            LOG.exception("Unexpected error on %s %s", request.method, request.url.path)
        code, body, headers = fault_for(exc)
        return JSONResponse(body, status_code=code, headers=headers)

    if validator is not None:
        app.add_middleware(KeystoneAuth, validator=validator)
    app.add_middleware(OpenStackMiddleware)  # outermost: every answer has a request id
    app.openapi = lambda: openapi.document(app)  # type: ignore[method-assign]
    return app
