"""The sample Grafana dashboard asks only for metrics Firebrick exposes."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import CollectorRegistry

from firebrick.db.engine import Database
from firebrick.metrics.collector import DatabaseCollector
from firebrick.metrics.instruments import Metrics

DASHBOARD = Path(__file__).resolve().parents[3] / "etc" / "grafana-dashboard.json"
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def exposed(db: Database) -> set[str]:
    registry = CollectorRegistry()
    Metrics(registry)
    names = set()
    for family in [
        *registry.collect(),
        *DatabaseCollector(db, service_down_time=60, project_labels=False).collect(),
    ]:
        names |= {family.name + suffix for suffix in SUFFIXES.get(family.type, ("",))}
    names.add("firebrick_backups")  # once the backups table exists (the backup role)
    return names


def expressions() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    exprs += [v["query"]["query"] for v in board["templating"]["list"]]
    return exprs


def test_every_expression_names_an_exposed_metric(db: Database) -> None:
    names = exposed(db)
    used = {m for expr in expressions() for m in re.findall(r"\bfirebrick_[a-z_]+", expr)}
    assert used - names == set()
    # And the dashboard covers what the issue asks to see.
    for wanted in ("firebrick_http_requests_total", "firebrick_flow_duration_seconds_bucket",
                   "firebrick_flow_task_duration_seconds_bucket", "firebrick_reschedules_total",
                   "firebrick_volumes", "firebrick_pool_free_capacity_bytes",
                   "firebrick_quota_usage", "firebrick_bus_messages_redelivered_total",
                   "firebrick_db_transaction_duration_seconds_bucket",
                   "firebrick_reconciler_resent_total", "firebrick_cleanup_actions_total",
                   "firebrick_service_heartbeat_age_seconds"):  # fmt: skip
        assert wanted in used, wanted
