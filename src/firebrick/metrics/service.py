"""Turning metrics on in a process, and serving them.

Every role's process calls :func:`start` before its parts are built (``firebrick.cli``),
so that the database, the bus and the flows find the metrics on. The api answers
``GET /metrics`` itself (:func:`install_api`); the scheduler, volume and backup processes
serve the same exposition on ``metrics_listen:metrics_port`` (or ``--metrics-port``).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from fastapi import FastAPI, Request, Response
from prometheus_client import REGISTRY, start_http_server
from prometheus_client.exposition import choose_encoder

from firebrick.config import Config
from firebrick.db.engine import Database
from firebrick.metrics import siblings
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


_SIBLINGS: Path | None = None  # the run directory, in a process of a multi-process serve


def share(run_dir: Path) -> None:
    """In each process of ``firebrick serve`` with API workers: answer the siblings'
    scrapes, and have ``/metrics`` add theirs (:mod:`firebrick.metrics.siblings`)."""
    global _SIBLINGS
    metrics = active()
    if metrics is None:
        return
    siblings.publish(run_dir, metrics.registry)
    _SIBLINGS = run_dir


def install_api(app: FastAPI, db: Database, config: Config) -> None:
    """``GET /metrics`` on the api, its HTTP metrics, and the database-derived gauges."""
    metrics = active()
    if metrics is None:
        return
    collector = DatabaseCollector(
        db,
        service_down_time=config.service_down_time,
        project_labels=config.metrics_project_labels,
    )
    # Added last, so outermost: faults answered before routing are counted too.
    app.add_middleware(HttpMetrics, metrics=metrics)
    run_dir = _SIBLINGS
    if run_dir is not None:
        # The gauges from the database once, from the process scraped, not once a worker.
        merged = siblings.ServiceRegistry(metrics.registry, run_dir, [collector])

        async def exposition(request: Request) -> Response:
            encoder, content_type = choose_encoder(request.headers.get("accept", ""))
            body = await asyncio.to_thread(encoder, merged)  # reads the siblings' sockets
            return Response(body, headers={"Content-Type": content_type})

    else:
        metrics.registry.register(collector)
        registry = metrics.registry

        # On the event loop, as the other routes: a scrape's queries take about a
        # millisecond (10,000 volumes), less than a hop to a worker thread would add.
        async def exposition(request: Request) -> Response:
            encoder, content_type = choose_encoder(request.headers.get("accept", ""))
            return Response(encoder(registry), headers={"Content-Type": content_type})

    # Prometheus' text format, not the Block Storage API: not in the OpenAPI document.
    app.add_api_route("/metrics", exposition, methods=["GET"], include_in_schema=False)
