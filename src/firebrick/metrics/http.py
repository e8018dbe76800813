"""HTTP metrics of the api: requests by route template, method and status, and latency.

An ASGI middleware outside every other one, so that faults answered before routing (a bad
microversion, a token Keystone refused) are counted too. The route is the template the
router matched (``/v3/{project_id}/volumes/{volume_id}``), read after the request, never
the raw path: ids would make every request a series of its own.
"""

from __future__ import annotations

import time
from typing import Any

from firebrick.metrics.instruments import UNMATCHED_ROUTE, Metrics

Scope = dict[str, Any]

# A client may send any method name; the rest are counted as one.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_template(scope: Scope) -> str:
    """The path template of the route that answered, or ``unmatched``.

    Every resource router is mounted at ``/v3`` and ``/v3/{project_id}``; FastAPI names
    the route by its path below the mount, so the mount is put back in front.
    """
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return UNMATCHED_ROUTE
    if scope["path"].startswith("/v3/") and not path.startswith("/v3"):
        project_in_url = "project_id" in scope.get("path_params", {})
        return ("/v3/{project_id}" if project_in_url else "/v3") + path
    return path


class HttpMetrics:
    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        # (route object, under /v3/, project in the URL, method, status) -> the latency
        # histogram's and the counter's children: one dict lookup a request instead of a
        # template built and two label tuples looked up. Bounded as the labels are (routes
        # live as long as the app; methods are folded into METHODS first).
        self._children: dict[tuple[int, bool, bool, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers when the app raised before it started one

        async def send_noting_status(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            elapsed = time.perf_counter() - started
            # The router writes the matched route into this same scope dict.
            method = scope["method"] if scope["method"] in METHODS else "other"
            key = (
                id(scope.get("route")),
                scope["path"].startswith("/v3/"),
                "project_id" in scope.get("path_params", ()),
                method,
                status,
            )
            children = self._children.get(key)
            if children is None:
                children = self._children.setdefault(key, self._children_for(scope, method, status))
            children[0].observe(elapsed)
            children[1].inc()

    def _children_for(self, scope: Scope, method: str, status: int) -> tuple[Any, Any]:
        route, metrics = route_template(scope), self.metrics
        return (
            metrics.child(metrics.http_duration, route, method),
            metrics.child(metrics.http_requests, route, method, str(status)),
        )
