"""Gauges read from the database at scrape time: what exists, not what happened.

Volumes, snapshots and backups by status, each pool's capacity, quota usage and the age
of every service's heartbeat are counted with a few grouped queries when Prometheus
scrapes, instead of being kept up to date on the create path. The api serves them: every
api process reads the same database, so a query over several of them takes ``max``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Connection, func, select

from firebrick.db import services
from firebrick.db.engine import Database
from firebrick.db.schema import metadata, quota_usages, snapshots, volumes
from firebrick.db.volumes import now
from firebrick.domain import statuses

GIB: Final = 1024**3
# Statuses reported even at zero, so that a query for one never finds nothing.
SNAPSHOT_STATUSES: Final = ("creating", "available", "deleting", "error", "error_deleting")
BACKUP_STATUSES: Final = ("creating", "available", "deleting", "error", "restoring")
POOL_CAPACITIES: Final = {
    "total": ("total_capacity_gb", "Capacity of the pool."),
    "free": ("free_capacity_gb", "Free capacity of the pool, as last reported and since moved "
             "by placements and deletes."),
    "provisioned": ("provisioned_capacity_gb", "Capacity provisioned on the pool (thin "
                    "volumes count their whole size)."),
}  # fmt: skip


class DatabaseCollector(Collector):
    """The database-derived gauges; ``project_labels`` adds quota usage per project."""

    def __init__(self, db: Database, *, service_down_time: float, project_labels: bool) -> None:
        self.db = db
        self.service_down_time = service_down_time
        self.project_labels = project_labels

    def describe(self) -> Iterable[Any]:
        # No description up front: registering must not query the database.
        return ()

    def collect(self) -> Iterator[Any]:
        started = time.perf_counter()
        with self.db.read() as conn:
            families = [
                _by_status(conn, volumes, "firebrick_volumes", "Volumes by status.",
                           sorted(statuses.ALL)),
                _by_status(conn, snapshots, "firebrick_snapshots", "Snapshots by status.",
                           SNAPSHOT_STATUSES),
            ]  # fmt: skip
            backups = metadata.tables.get("backups")
            if backups is not None:
                families.append(_by_status(conn, backups, "firebrick_backups",
                                           "Backups by status.", BACKUP_STATUSES))  # fmt: skip
            families += _pools(conn)
            families.append(self._quota_usage(conn))
            families += self._services(conn)
        yield from families
        took = GaugeMetricFamily(
            "firebrick_metrics_collect_duration_seconds",
            "Time this scrape spent reading the database-derived gauges.",
        )
        took.add_metric([], time.perf_counter() - started)
        yield took

    def _quota_usage(self, conn: Connection) -> GaugeMetricFamily:
        labels = ["project_id", "resource"] if self.project_labels else ["resource"]
        family = GaugeMetricFamily(
            "firebrick_quota_usage",
            "Quota usage, in Cinder's units (gigabytes in GiB), summed over projects unless "
            "metrics_project_labels is set.",
            labels=labels,
        )
        columns = [quota_usages.c.resource]
        if self.project_labels:
            columns.insert(0, quota_usages.c.project_id)
        query = select(*columns, func.sum(quota_usages.c.in_use)).group_by(*columns)
        for row in conn.execute(query):
            family.add_metric([str(v) for v in row[:-1]], float(row[-1] or 0))
        return family

    def _services(self, conn: Connection) -> list[GaugeMetricFamily]:
        age = GaugeMetricFamily(
            "firebrick_service_heartbeat_age_seconds",
            "Seconds since each service's last heartbeat.", labels=["binary", "host"],
        )  # fmt: skip
        up = GaugeMetricFamily(
            "firebrick_service_up",
            "1 when the service's heartbeat is younger than service_down_time, else 0.",
            labels=["binary", "host"],
        )
        at = now()
        for service in services.list_services(conn):
            seen = service.updated_at or service.created_at
            age.add_metric([service.binary, service.host], (at - seen).total_seconds())
            up.add_metric(
                [service.binary, service.host],
                1.0 if service.is_up(self.service_down_time, at) else 0.0,
            )
        return [age, up]


def _by_status(
    conn: Connection, table: Any, name: str, help_text: str, known: Iterable[str]
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, help_text, labels=["status"])
    counts: dict[str, float] = dict.fromkeys(known, 0.0)
    query = select(table.c.status, func.count()).group_by(table.c.status)
    for status, count in conn.execute(query):
        counts[str(status)] = float(count)
    for status, count in sorted(counts.items()):
        family.add_metric([status], count)
    return family


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None  # "infinite", "unknown", "auto"


def _pools(conn: Connection) -> list[GaugeMetricFamily]:
    labels = ["pool", "backend"]
    families: dict[str, GaugeMetricFamily] = {
        kind: GaugeMetricFamily(f"firebrick_pool_{kind}_capacity_bytes", text, labels=labels)
        for kind, (_, text) in POOL_CAPACITIES.items()
    }
    allocated = GaugeMetricFamily(
        "firebrick_pool_allocated_capacity_bytes",
        "Capacity the scheduler has placed on the pool (exact, counted in the database).",
        labels=labels,
    )
    ratio = GaugeMetricFamily(
        "firebrick_pool_max_over_subscription_ratio",
        "How far the pool may be over-subscribed (thin provisioning).", labels=labels,
    )  # fmt: skip
    for pool in services.pool_states(conn):
        caps: Mapping[str, Any] = pool.capabilities
        values = [pool.name, pool.backend]
        for kind, (key, _) in POOL_CAPACITIES.items():
            gb = _number(caps.get(key))
            if gb is not None:
                families[kind].add_metric(values, gb * GIB)
        allocated.add_metric(values, pool.allocated_capacity_gb * GIB)
        found = _number(caps.get("max_over_subscription_ratio"))
        if found is not None:
            ratio.add_metric(values, found)
    return [*families.values(), allocated, ratio]
