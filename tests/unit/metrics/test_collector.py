"""The database-derived gauges, read at scrape time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import insert, update

from firebrick.db import services
from firebrick.db.engine import Database
from firebrick.db.schema import pools, quota_usages, snapshots, volumes
from firebrick.db.schema import services as table
from firebrick.db.volumes import now
from firebrick.metrics.collector import GIB, DatabaseCollector


def fill(db: Database) -> None:
    stamp = now()
    with db.write() as conn:
        for n, status in enumerate(["available", "available", "error", "creating"]):
            conn.execute(insert(volumes).values(
                id=f"v-{n}", project_id=f"p{n % 2}", user_id="u", size=1, status=status,
                created_at=stamp))  # fmt: skip
        conn.execute(insert(snapshots).values(
            id="s-1", volume_id="v-0", project_id="p0", user_id="u", volume_size=1,
            status="available", created_at=stamp))  # fmt: skip
        caps = {"total_capacity_gb": 100.0, "free_capacity_gb": 80.0,
                "allocated_capacity_gb": 3.0, "provisioned_capacity_gb": 5.0,
                "max_over_subscription_ratio": "20.0"}  # fmt: skip
        conn.execute(insert(pools).values(
            name="h@b#p", backend="h@b", availability_zone="nova", capabilities=caps,
            allocated_capacity_gb=4.0, updated_at=stamp))  # fmt: skip
        conn.execute(insert(pools).values(
            name="h@c#p", backend="h@c", availability_zone="nova",
            capabilities={"total_capacity_gb": "infinite", "max_over_subscription_ratio": "auto"},
            allocated_capacity_gb=0.0, updated_at=stamp))  # fmt: skip
        for project, resource, used in (
            ("p0", "volumes", 2),
            ("p1", "volumes", 2),
            ("p0", "gigabytes", 2),
            ("p1", "gigabytes", 5),
        ):
            conn.execute(insert(quota_usages).values(
                project_id=project, resource=resource, in_use=used))  # fmt: skip
        services.heartbeat(conn, "h@b", "cinder-volume", "volume.h@b", "nova")
        services.heartbeat(conn, "h", "cinder-scheduler", "scheduler", "nova")
    with db.write() as conn:
        conn.execute(update(table).where(table.c.binary == "cinder-scheduler")
                     .values(updated_at=stamp - timedelta(seconds=300)))  # fmt: skip


def values(db: Database, *, project_labels: bool = False) -> dict[tuple[str, Any], float]:
    registry = CollectorRegistry()
    registry.register(DatabaseCollector(db, service_down_time=60, project_labels=project_labels))
    found = {}
    for family in registry.collect():
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def test_counts_pools_quotas_and_heartbeats(db: Database) -> None:
    fill(db)
    got = values(db)
    assert got[("firebrick_volumes", (("status", "available"),))] == 2
    assert got[("firebrick_volumes", (("status", "error"),))] == 1
    assert got[("firebrick_volumes", (("status", "deleting"),))] == 0  # known, none
    assert got[("firebrick_snapshots", (("status", "available"),))] == 1
    pool = (("backend", "h@b"), ("pool", "h@b#p"))
    assert got[("firebrick_pool_total_capacity_bytes", pool)] == 100 * GIB
    # Placed since the report (4 GiB now, 3 at the report): free moved by the difference.
    assert got[("firebrick_pool_free_capacity_bytes", pool)] == 79 * GIB
    assert got[("firebrick_pool_allocated_capacity_bytes", pool)] == 4 * GIB
    assert got[("firebrick_pool_provisioned_capacity_bytes", pool)] == 5 * GIB
    assert got[("firebrick_pool_max_over_subscription_ratio", pool)] == 20
    other = (("backend", "h@c"), ("pool", "h@c#p"))
    assert ("firebrick_pool_total_capacity_bytes", other) not in got  # "infinite"
    assert ("firebrick_pool_max_over_subscription_ratio", other) not in got  # "auto"
    assert got[("firebrick_quota_usage", (("resource", "volumes"),))] == 4
    assert got[("firebrick_quota_usage", (("resource", "gigabytes"),))] == 7
    volume = (("binary", "cinder-volume"), ("host", "h@b"))
    scheduler = (("binary", "cinder-scheduler"), ("host", "h"))
    assert got[("firebrick_service_up", volume)] == 1
    assert got[("firebrick_service_up", scheduler)] == 0
    assert 299 <= got[("firebrick_service_heartbeat_age_seconds", scheduler)] < 330
    assert got[("firebrick_backups", (("status", "available"),))] == 0  # none made
    assert got[("firebrick_metrics_collect_duration_seconds", ())] > 0


def test_project_labels_only_when_asked(db: Database) -> None:
    fill(db)
    assert not any("project_id" in dict(labels) for _, labels in values(db))
    got = values(db, project_labels=True)
    assert got[("firebrick_quota_usage", (("project_id", "p1"), ("resource", "gigabytes")))] == 5


def test_the_exposition_is_valid_text(db: Database) -> None:
    fill(db)
    registry = CollectorRegistry()
    registry.register(DatabaseCollector(db, service_down_time=60, project_labels=False))
    text = generate_latest(registry).decode()
    assert "# TYPE firebrick_volumes gauge" in text
    assert 'firebrick_volumes{status="available"} 2.0' in text
