"""Routing by the shape of the path: a request's candidate routes in a few dict lookups.

Every resource router is served under ``/v3`` and ``/v3/{project_id}``: about 280 routes.
FastAPI tries them in order, and an included router's routes twice (once to find the
router, once to find the route in it), each try a regular expression and a few dict
operations; ``/v3/{project_id}/volumes/{volume_id}``, what clients send, came after
every ``/v3`` route had failed. That was a sixth of the API worker's CPU in a create's
requests.

The routes here are the routers' routes with the prefix in their path, one flat list in
the order FastAPI tried them. The index keys each by its number of segments and by its
second and third segments after the leading ``/`` (a literal, or any value for a
parameter); a request's candidates are the routes under the four keys its path can meet,
still in that order, and Starlette's own ``matches`` decides among them. As a parameter
matches any one non-empty segment and a literal only itself, every route that can match
a path is a candidate, so the first full match (and, failing one, the first partial one,
Starlette's 405) is the same route as before.
"""

from __future__ import annotations

import heapq
import inspect
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette._utils import get_route_path  # what Route.matches matches against
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

ANY = "{}"  # a parameter's segment in a key (no literal segment contains braces)
NONE = ""  # a segment the path does not have
_SELECTED = "firebrick.route"


def _key_part(segments: Sequence[str], at: int) -> str:
    if at >= len(segments):
        return NONE
    return ANY if "{" in segments[at] else segments[at]


def _key(path: str) -> tuple[int, str, str]:
    segments = path.split("/")
    return len(segments), _key_part(segments, 2), _key_part(segments, 3)


def flatten(routers: Iterable[APIRouter], prefixes: Sequence[str], provider: Any) -> list[APIRoute]:
    """Each router's routes under each prefix, in the order ``include_router`` tried them
    (every router under the first prefix, then under the next); ``provider`` is the app,
    whose ``dependency_overrides`` they follow, as included routes do."""
    flat: list[APIRoute] = []
    for prefix in prefixes:
        for router in routers:
            for route in router.routes:
                if not isinstance(route, APIRoute) or ":" in route.path:
                    raise TypeError(f"not indexable: {route!r}")  # a mount, a {x:path}
                flat.append(_prefixed(route, prefix, provider))
    return flat


# What an APIRoute is built with, past its path and endpoint: a copy takes each as is.
_SETTINGS = tuple(inspect.signature(APIRoute.__init__).parameters)[3:]


def _prefixed(route: APIRoute, prefix: str, provider: Any) -> APIRoute:
    settings = {name: getattr(route, name) for name in _SETTINGS}
    settings["dependency_overrides_provider"] = provider
    return APIRoute(prefix + route.path, route.endpoint, **settings)


class ShapeIndex(BaseRoute):
    """``routes`` as one route of the app's router, found by their paths' shape."""

    def __init__(self, routes: Sequence[APIRoute]) -> None:
        self.routes = list(routes)
        self._by_key: dict[tuple[int, str, str], list[int]] = {}
        for position, route in enumerate(self.routes):
            self._by_key.setdefault(_key(route.path), []).append(position)

    def candidates(self, path: str) -> list[APIRoute]:
        """The routes that can match ``path``, in order."""
        segments = path.split("/")
        count = len(segments)
        second = segments[2] if count > 2 else NONE
        third = segments[3] if count > 3 else NONE
        keys = (
            (count, second, third),
            (count, second, ANY),
            (count, ANY, third),
            (count, ANY, ANY),
        )
        found = [positions for key in keys if (positions := self._by_key.get(key))]
        if len(found) == 1:
            return [self.routes[p] for p in found[0]]
        return [self.routes[p] for p in heapq.merge(*found)]

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http":
            return Match.NONE, {}
        partial: tuple[APIRoute, Scope] | None = None
        for route in self.candidates(get_route_path(scope)):
            match, child_scope = route.matches(scope)
            if match == Match.FULL:
                return match, {**child_scope, _SELECTED: route}
            if match == Match.PARTIAL and partial is None:
                partial = (route, child_scope)
        if partial is not None:
            return Match.PARTIAL, {**partial[1], _SELECTED: partial[0]}
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        route: APIRoute = scope[_SELECTED]
        await route.handle(scope, receive, send)


def expanded(routes: Iterable[BaseRoute]) -> list[Any]:
    """``routes`` with each index replaced by the routes it holds (for OpenAPI)."""
    out: list[Any] = []
    for route in routes:
        out.extend(route.routes if isinstance(route, ShapeIndex) else [route])
    return out
