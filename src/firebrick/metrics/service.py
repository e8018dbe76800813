"""Turning metrics on in a process, and serving them.

Every role's process calls :func:`start` before its parts are built (``firebrick.cli``),
so that the database, the bus and the flows find the metrics on. The api answers
``GET /metrics`` itself (:func:`install_api`); the scheduler, volume and backup processes
serve the same exposition on ``metrics_listen:metrics_port`` (or ``--metrics-port``).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, Response
from prometheus_client import REGISTRY, start_http_server
from prometheus_client.exposition import choose_encoder

from firebrick.config import Config
from firebrick.db.engine import Database
from firebrick.metrics.collector import DatabaseCollector
from firebrick.metrics.http import HttpMetrics
from firebrick.metrics.instruments import Metrics, active, enable

LOG = logging.getLogger("firebrick.metrics")


def start(config: Config, roles: list[str], port: int | None = None) -> Metrics | None:
    """Turn metrics on for this process (unless ``metrics_enabled = false``) and serve them
    on ``port`` (default: ``metrics_port``) when one is given.

    A backup process calls this as every role does: ``start(conf, ["backup"], port)``.
    """
    if not config.metrics_enabled:
        if port:
            LOG.warning("metrics_enabled = false: not serving metrics on port %d", port)
        return None
    metrics = enable(REGISTRY, tuple(roles))
    port = port or config.metrics_port
    if port:
        serve(config.metrics_listen, port)
    return metrics


def serve(listen: str, port: int) -> None:
    """Serve this process's metrics at ``http://listen:port/metrics`` (a daemon thread)."""
    start_http_server(port, addr=listen, registry=REGISTRY)
    LOG.info("Metrics at http://%s:%d/metrics", listen, port)


def install_api(app: FastAPI, db: Database, config: Config) -> None:
    """``GET /metrics`` on the api, its HTTP metrics, and the database-derived gauges."""
    metrics = active()
    if metrics is None:
        return
    metrics.registry.register(
        DatabaseCollector(
            db,
            service_down_time=config.service_down_time,
            project_labels=config.metrics_project_labels,
        )
    )
    # Added last, so outermost: faults answered before routing are counted too.
    app.add_middleware(HttpMetrics, metrics=metrics)
    registry = metrics.registry

    # On the event loop, as the other routes: a scrape's queries take about a millisecond
    # (10,000 volumes), less than a hop to a worker thread and back would add.
    async def exposition(request: Request) -> Response:
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encoder(registry), headers={"Content-Type": content_type})

    # Prometheus' text format, not the Block Storage API: not in the OpenAPI document.
    app.add_api_route("/metrics", exposition, methods=["GET"], include_in_schema=False)
