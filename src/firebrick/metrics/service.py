"""Turning metrics on in a process, and serving them.

Every role's process calls :func:`start` before its parts are built (``firebrick.cli``),
so that the database, the bus and the flows find the metrics on. The api answers
``GET /metrics`` itself (:mod:`firebrick.metrics.api_route`); the scheduler, volume and
backup processes serve the same exposition on ``metrics_listen:metrics_port`` (or
``--metrics-port``). Nothing here imports the web framework, which only the api needs.
"""

from __future__ import annotations

import logging
from pathlib import Path

from prometheus_client import REGISTRY, start_http_server

from firebrick.config import Config
from firebrick.metrics import siblings
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


def shared_run_dir() -> Path | None:
    """The run directory whose siblings' metrics ``/metrics`` adds (after :func:`share`)."""
    return _SIBLINGS
