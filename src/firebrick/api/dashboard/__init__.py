"""The web dashboard the api serves at ``/dashboard``: plain HTML, CSS and JavaScript.

Nothing to build and nothing fetched from elsewhere: the three files in ``static/`` are
the whole client. The page itself holds no data and needs no token; it signs in as any
client does (the noauth ``user:project`` token, or a Keystone login through
``POST /dashboard/login``) and then reads the Block Storage API with that token, so
policy decides what it shows: a member sees their project, an admin every project, the
pools and the services.
"""

from __future__ import annotations

from importlib import resources
from typing import Any, Final

import anyio.to_thread
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from firebrick.api.dashboard import login
from firebrick.api.deps import body as json_body
from firebrick.config import Config
from firebrick.domain.errors import NotFound

# The dashboard's files: name -> content type. Only these are served.
ASSETS: Final = {
    "dashboard.js": "text/javascript; charset=utf-8",
    "views.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}
# The page is small and changes with the package: browsers revalidate it every time.
_NO_STORE: Final = {"Cache-Control": "no-cache"}
# Where the page and its files may load from: here, and nowhere else.
_CSP: Final = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'"
)


def _read(name: str) -> bytes:
    return resources.files(__package__).joinpath("static", name).read_bytes()


def install(app: FastAPI, config: Config) -> None:
    """Add the dashboard's routes to the api (not part of its OpenAPI document: a UI)."""
    tokens_url = login.tokens_url(config.keystone_authtoken)
    page = _read("index.html")
    assets = {name: _read(name) for name in ASSETS}
    headers = {**_NO_STORE, "Content-Security-Policy": _CSP, "X-Frame-Options": "DENY"}

    def index() -> Response:
        return Response(page, media_type="text/html; charset=utf-8", headers=headers)

    def asset(name: str) -> Response:
        if name not in assets:
            raise NotFound("The resource could not be found.")
        return Response(assets[name], media_type=ASSETS[name], headers=_NO_STORE)

    def settings(request: Request) -> dict[str, Any]:
        strategy: str = request.app.state.auth_strategy
        return {"auth_strategy": strategy, "keystone_login": tokens_url is not None}

    async def sign_in(request: Request) -> JSONResponse:
        if request.app.state.auth_strategy != "keystone" or tokens_url is None:
            raise NotFound("The Keystone login is for auth_strategy = keystone.")
        form = login.LoginForm.parse(await json_body(request))
        session = await anyio.to_thread.run_sync(login.login, tokens_url, form)
        return JSONResponse(session.as_dict(), headers={"Cache-Control": "no-store"})

    for path in ("/dashboard", "/dashboard/"):
        app.add_api_route(path, index, methods=["GET"], include_in_schema=False)
    app.add_api_route("/dashboard/static/{name}", asset, methods=["GET"], include_in_schema=False)
    app.add_api_route("/dashboard/config", settings, methods=["GET"], include_in_schema=False)
    app.add_api_route("/dashboard/login", sign_in, methods=["POST"], include_in_schema=False)
