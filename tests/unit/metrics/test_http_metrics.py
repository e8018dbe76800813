"""HTTP metrics: route templates (never raw paths), methods bounded, statuses as answered."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from firebrick.metrics.http import HttpMetrics, route_template
from firebrick.metrics.instruments import Metrics


def app_with(metrics: Metrics) -> FastAPI:
    router = APIRouter()

    @router.get("/volumes/{volume_id}")
    def show(volume_id: str) -> JSONResponse:
        if volume_id == "boom":
            raise RuntimeError("boom")
        return JSONResponse({"id": volume_id}, status_code=200 if volume_id != "x" else 404)

    app = FastAPI()
    for prefix in ("/v3", "/v3/{project_id}"):
        app.include_router(router, prefix=prefix)

    @app.get("/healthcheck")
    def health() -> dict[str, str]:
        return {"status": "OK"}

    app.add_middleware(HttpMetrics, metrics=metrics)
    return app


def count(metrics: Metrics, route: str, method: str, status: str) -> float | None:
    return metrics.registry.get_sample_value(
        "firebrick_http_requests_total", {"route": route, "method": method, "status": status}
    )


def test_requests_are_counted_by_template_method_and_status(metrics: Metrics) -> None:
    client = TestClient(app_with(metrics), raise_server_exceptions=False)
    for path in ("/v3/p1/volumes/a", "/v3/p2/volumes/b", "/v3/volumes/c", "/v3/p1/volumes/x"):
        client.get(path)
    client.get("/healthcheck")
    client.get("/no/such/thing")
    client.request("BREW", "/v3/p1/volumes/a")
    client.get("/v3/p1/volumes/boom")
    assert count(metrics, "/v3/{project_id}/volumes/{volume_id}", "GET", "200") == 2
    assert count(metrics, "/v3/volumes/{volume_id}", "GET", "200") == 1
    assert count(metrics, "/v3/{project_id}/volumes/{volume_id}", "GET", "404") == 1
    assert count(metrics, "/v3/{project_id}/volumes/{volume_id}", "GET", "500") == 1
    assert count(metrics, "/healthcheck", "GET", "200") == 1
    assert count(metrics, "unmatched", "GET", "404") == 1
    assert count(metrics, "/v3/{project_id}/volumes/{volume_id}", "other", "405") == 1
    latency = metrics.registry.get_sample_value(
        "firebrick_http_request_duration_seconds_count",
        {"route": "/v3/{project_id}/volumes/{volume_id}", "method": "GET"},
    )
    assert latency == 4


def test_route_template_of_a_scope() -> None:
    class Route:
        path = "/volumes/{volume_id}"

    scope = {"path": "/v3/p/volumes/1", "route": Route(), "path_params": {"project_id": "p"}}
    assert route_template(scope) == "/v3/{project_id}/volumes/{volume_id}"
    assert route_template({"path": "/v3/volumes/1", "route": Route()}) == "/v3/volumes/{volume_id}"
    assert route_template({"path": "/nothing"}) == "unmatched"
