"""One ``/metrics`` for all the processes of ``firebrick serve`` with API workers.

Each process of the service (the roles' process and every API worker) answers on a Unix
socket of its own in the service's run directory with its registry's exposition; the API
worker that is scraped reads its siblings' and adds their samples to its own, so that
Prometheus sees one target with the service's totals, as with one process. Only when
scraped: nothing is shared on the hot path.

Counters and histograms are summed; gauges too (process memory and CPU are the service's
sums), except ``*_info`` and ``*_start_time_seconds``, which keep one value.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

LOG = logging.getLogger("firebrick.metrics")

READ_TIMEOUT = 2.0  # seconds a sibling has to answer a scrape


def _path(run_dir: Path, pid: int) -> Path:
    return run_dir / f"metrics-{pid}.sock"


def publish(run_dir: Path, registry: CollectorRegistry) -> None:
    """Answer this process's exposition on its socket in ``run_dir`` (a daemon thread)."""
    path = _path(run_dir, os.getpid())
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(8)

    def answer() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                try:
                    conn.sendall(generate_latest(registry))
                except OSError:
                    continue

    threading.Thread(target=answer, name="metrics-siblings", daemon=True).start()


def _read(path: Path) -> str | None:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(READ_TIMEOUT)
            conn.connect(str(path))
            chunks = []
            while chunk := conn.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()
    except (ConnectionRefusedError, FileNotFoundError):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # a process that is gone
        return None
    except OSError as exc:
        LOG.warning("No metrics from %s: %s", path.name, exc)
        return None


def sibling_families(run_dir: Path) -> Iterator[Metric]:
    own = _path(run_dir, os.getpid())
    for path in sorted(run_dir.glob("metrics-*.sock")):
        if path == own:
            continue
        text = _read(path)
        if text is not None:
            yield from text_string_to_metric_families(text)


def _keeps_one(name: str) -> bool:
    return name.endswith(("_info", "_start_time_seconds"))


def merge(families: Iterable[Metric]) -> list[Metric]:
    merged: dict[str, Metric] = {}
    values: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
    for family in families:
        if family.name not in merged:
            merged[family.name] = Metric(family.name, family.documentation, family.type,
                                         family.unit)  # fmt: skip
            values[family.name] = {}
        found = values[family.name]
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            if key not in found:
                found[key] = sample.value
            elif _keeps_one(sample.name):
                found[key] = max(found[key], sample.value)
            else:
                found[key] += sample.value
    for name, family in merged.items():
        for (sample_name, labels), value in values[name].items():
            family.add_sample(sample_name, dict(labels), value)
    return list(merged.values())


class ServiceRegistry:
    """What ``/metrics`` renders: this process's registry, its siblings', and ``extra``
    collectors of this process only (the database-derived gauges)."""

    def __init__(self, registry: CollectorRegistry, run_dir: Path, extra: list[Any]) -> None:
        self.registry = registry
        self.run_dir = run_dir
        self.extra = extra

    def collect(self) -> Iterator[Metric]:
        yield from merge([*self.registry.collect(), *sibling_families(self.run_dir)])
        for collector in self.extra:
            yield from collector.collect()
