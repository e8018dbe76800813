"""``GET /metrics`` on the api: its HTTP metrics, the database-derived gauges, and (under
``firebrick serve`` with API workers) the sibling processes' metrics."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI, Request, Response
from prometheus_client.exposition import choose_encoder

from firebrick.config import Config
from firebrick.db.engine import Database
from firebrick.metrics import siblings
from firebrick.metrics.collector import DatabaseCollector
from firebrick.metrics.http import HttpMetrics
from firebrick.metrics.instruments import active
from firebrick.metrics.service import shared_run_dir


def install(app: FastAPI, db: Database, config: Config) -> None:
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
    run_dir = shared_run_dir()
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
