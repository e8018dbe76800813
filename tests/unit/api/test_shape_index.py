"""The shape index finds the route a linear scan of the same routes would find."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.routing import Match

from firebrick.api.routes import ROUTERS
from firebrick.api.shape_index import ShapeIndex, flatten

PREFIXES = ("/v3", "/v3/{project_id}")
METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH")


def _scan(index: ShapeIndex, scope: dict[str, Any]) -> tuple[Match, Any, dict[str, Any]]:
    """Starlette's rule over the whole list: the first full match, else the first partial."""
    partial = None
    for route in index.routes:
        match, child = route.matches(scope)
        if match == Match.FULL:
            return match, route, child.get("path_params", {})
        if match == Match.PARTIAL and partial is None:
            partial = (match, route, child.get("path_params", {}))
    return partial or (Match.NONE, None, {})


def _scope(method: str, path: str) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "root_path": ""}


def _paths(index: ShapeIndex) -> set[str]:
    """Every template filled with ids, with names of collections (the ambiguous cases),
    with empty segments, and with a segment more or less."""
    fillers = ("abc123", "volumes", "detail", "types", "os-quota-sets", "")
    paths: set[str] = set()
    for route in index.routes:
        template = route.path
        params = re.findall(r"{[^}]+}", template)
        for values in itertools.product(fillers[:3], repeat=min(len(params), 2)):
            path = template
            for param, value in zip(params, [*values, *["x"] * len(params)], strict=False):
                path = path.replace(param, value, 1)
            paths |= {path, path + "/", path + "/extra", path.rsplit("/", 1)[0]}
        for filler in fillers:
            paths.add(re.sub(r"{[^}]+}", filler, template))
    return paths


@pytest.fixture(scope="module")
def index() -> ShapeIndex:
    return ShapeIndex(flatten(ROUTERS, PREFIXES, provider=FastAPI()))


def test_the_index_holds_both_prefixes_of_every_route(index: ShapeIndex) -> None:
    count = sum(len(router.routes) for router in ROUTERS)
    assert len(index.routes) == 2 * count
    assert [r.path for r in index.routes[:count]] == [
        "/v3" + r.path for router in ROUTERS for r in router.routes
    ]


def test_every_path_finds_what_a_linear_scan_finds(index: ShapeIndex) -> None:
    paths = _paths(index)
    assert len(paths) > 1000
    for path, method in itertools.product(sorted(paths), METHODS):
        scope = _scope(method, path)
        want_match, want_route, want_params = _scan(index, scope)
        match, child = index.matches(scope)
        got = child.get("firebrick.route")
        assert (match, got, child.get("path_params", {})) == (
            want_match, want_route, want_params,
        ), f"{method} {path}"  # fmt: skip


def test_a_project_path_is_not_taken_for_a_collection(index: ShapeIndex) -> None:
    match, child = index.matches(_scope("GET", "/v3/p1/volumes/v1"))
    assert match == Match.FULL
    assert child["route"].path == "/v3/{project_id}/volumes/{volume_id}"
    assert child["path_params"] == {"project_id": "p1", "volume_id": "v1"}
    # The same text without a project: the /v3 route, as FastAPI tried those first.
    match, child = index.matches(_scope("GET", "/v3/volumes/detail"))
    assert child["route"].path == "/v3/volumes/detail"
    # A method the path has no route for: the first partial match (Starlette's 405).
    match, child = index.matches(_scope("PATCH", "/v3/p1/volumes/v1"))
    assert match == Match.PARTIAL


def test_the_app_routes_through_one_index(app: FastAPI) -> None:
    indexes = [r for r in app.router.routes if isinstance(r, ShapeIndex)]
    assert len(indexes) == 1
    assert all(r.dependency_overrides_provider is app for r in indexes[0].routes)
