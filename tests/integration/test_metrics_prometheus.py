"""A real Prometheus scrapes Firebrick; PromQL sees the counters and histograms move.

Embedded: one ``firebrick serve``, its api's ``/metrics`` carrying every role. Scaled out:
api, scheduler and volume as separate processes on RabbitMQ and PostgreSQL, each scraped
on its own (the api at ``/metrics``, the scheduler on ``metrics_port``, the volume service
on ``--metrics-port``).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import httpx
import pytest
from harness import free_port
from infra import prometheus
from infra.prometheus import PrometheusServer

pytest_plugins = ["distributed"]

GIB = 1024**3
CREATE_FLOW = "volume_create_manager"
BACKENDS = {
    # The failing backend has the most room, so the scheduler tries it first every time.
    "file-bad": {"file_fail_create": "true", "file_capacity_gb": "1000"},
    "file-good": {"file_capacity_gb": "10"},
}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-")
GRAFANA = Path(__file__).resolve().parents[2] / "etc" / "grafana-dashboard.json"

StartPrometheus = Callable[[Mapping[str, Sequence[str]]], PrometheusServer]


@pytest.fixture
def start_prometheus(tmp_path: Path) -> Iterator[StartPrometheus]:
    if not prometheus.available():
        if os.environ.get("CI"):
            pytest.fail(prometheus.unavailable_reason(), pytrace=False)
        pytest.skip(prometheus.unavailable_reason())
    started: list[PrometheusServer] = []

    def start(jobs: Mapping[str, Sequence[str]]) -> PrometheusServer:
        server = PrometheusServer(tmp_path / f"prometheus{len(started)}", jobs)
        started.append(server)
        server.start()
        return server

    yield start
    for server in started:
        server.stop()


def grafana_expressions() -> list[str]:
    board = json.loads(GRAFANA.read_text())
    return [t["expr"] for panel in board["panels"] for t in panel.get("targets", [])]


def target(base_url: str) -> str:
    return base_url.removeprefix("http://")


def wait_equal(prom: PrometheusServer, expr: str, expected: float, timeout: float = 30.0) -> None:
    prom.wait_for(expr, lambda v: v == expected, timeout)


def test_promql_follows_creates_reschedules_failures_and_deletes(start_service, start_prometheus):
    svc = start_service(backends=BACKENDS, defaults={
        "scheduler_max_attempts": "2", "metrics_project_labels": "true"})  # fmt: skip
    prom = start_prometheus({"firebrick": [target(svc.base_url)]})
    prom.wait_for('up{job="firebrick"}', lambda v: v == 1)
    wait_equal(prom, 'firebrick_volumes{status="available"}', 0)
    pinned = "pinned-to-bad"
    with svc.client() as api:
        created = api.post("/types", json={"volume_type": {
            "name": pinned, "extra_specs": {"volume_backend_name": "file-bad"}}})  # fmt: skip
        assert created.status_code == 200, created.text
        good = [api.create_volume()["id"] for _ in range(3)]
        # Fails on its only backend, is rescheduled, and fits nowhere else: error.
        failed = api.create_volume(volume_type=pinned, wait="error")["id"]
        api.delete_volume(good[0])
        project = api.project

    # Each create went to file-bad first, failed there and was rescheduled.
    wait_equal(prom, f'firebrick_flows_total{{flow="{CREATE_FLOW}",outcome="success"}}', 3)
    wait_equal(prom, f'firebrick_flows_total{{flow="{CREATE_FLOW}",outcome="rescheduled"}}', 4)
    reschedules = 'firebrick_reschedules_total{backend="itest@file-bad",reason="DriverError"}'
    wait_equal(prom, reschedules, 4)
    wait_equal(
        prom,
        'firebrick_flow_task_duration_seconds_count{task="CreateVolumeFromSpecTask",'
        'outcome="failure"}',
        4,
    )
    for task in ("ExtractVolumeRefTask", "OnFailureRescheduleTask", "ExtractVolumeSpecTask",
                 "NotifyVolumeActionTask", "CreateVolumeFromSpecTask",
                 "CreateVolumeOnFinishTask"):  # fmt: skip
        wait_equal(
            prom,
            f'firebrick_flow_task_duration_seconds_count{{task="{task}",outcome="success"}}',
            3 if task in ("CreateVolumeFromSpecTask", "CreateVolumeOnFinishTask") else 7,
        )
    median = prom.value(
        "histogram_quantile(0.5, sum by (le) "
        f'(firebrick_flow_duration_seconds_bucket{{flow="{CREATE_FLOW}",outcome="success"}}))'
    )
    assert median is not None and 0 < median < 5, median

    # What exists, read from the database at scrape time.
    wait_equal(prom, 'firebrick_volumes{status="available"}', 2)
    wait_equal(prom, 'firebrick_volumes{status="error"}', 1)
    wait_equal(prom, 'firebrick_volumes{status="creating"}', 0)
    good_pool = 'pool="itest@file-good#file-good"'
    wait_equal(prom, f"firebrick_pool_allocated_capacity_bytes{{{good_pool}}}", 2 * GIB)
    wait_equal(prom, f"firebrick_pool_total_capacity_bytes{{{good_pool}}}", 10 * GIB)
    assert prom.value(f"firebrick_pool_max_over_subscription_ratio{{{good_pool}}}") == 20
    wait_equal(prom, f'firebrick_quota_usage{{project_id="{project}",resource="volumes"}}', 3)
    wait_equal(prom, f'firebrick_quota_usage{{project_id="{project}",resource="gigabytes"}}', 3)
    wait_equal(prom, 'count(firebrick_service_up{binary="cinder-volume"} == 1)', 2)
    age = prom.value('max(firebrick_service_heartbeat_age_seconds{binary="cinder-scheduler"})')
    assert age is not None and 0 <= age < 10, age

    # HTTP by route template, the bus and the database.
    wait_equal(
        prom,
        'firebrick_http_requests_total{route="/v3/{project_id}/volumes",method="POST",'
        'status="202"}',
        4,
    )
    wait_equal(
        prom,
        'firebrick_http_requests_total{route="/v3/{project_id}/volumes/{volume_id}",'
        'method="DELETE",status="202"}',
        1,
    )
    for series in prom.query("firebrick_http_requests_total"):
        assert not UUID.search(series["metric"]["route"]), series
    p50 = prom.value(
        "histogram_quantile(0.5, sum by (le) (firebrick_http_request_duration_seconds_bucket"
        '{route="/v3/{project_id}/volumes",method="POST"}))'
    )
    assert p50 is not None and 0 < p50 < 2.5, p50
    # The api cast four creates to the scheduler and the bad backend four reschedules, each
    # counted once (the roles' process does not count again what the API worker sent it).
    wait_equal(prom, 'firebrick_bus_messages_published_total{topic="scheduler"}', 8)
    wait_equal(prom, 'firebrick_bus_messages_consumed_total{topic="volume.itest@file-bad"}', 4)
    prom.wait_for(
        'firebrick_db_transaction_duration_seconds_count{kind="write"}', lambda v: v >= 10
    )

    # Every query of the sample Grafana dashboard is valid PromQL and most find data here
    # (the rate() ones once two scrapes in their window have seen the counters move).
    def answered() -> int:
        return sum(bool(prom.query(expr.replace("$__rate_interval", "1m")
                                   .replace("$job", ".*")))
                   for expr in grafana_expressions())  # fmt: skip

    deadline = time.monotonic() + 30
    while (found := answered()) < 25 and time.monotonic() < deadline:
        time.sleep(1)
    assert found >= 25, found
    # No volume id is ever a label value: every series stays bounded.
    labels = [v for series in prom.query('{__name__=~"firebrick_.*"}')
              for v in series["metric"].values()]  # fmt: skip
    assert len(labels) > 100
    assert not [v for v in labels if any(i in v for i in [*good, failed])]


def test_every_role_is_scraped_when_scaled_out(cluster_factory, start_prometheus):
    cluster = cluster_factory(backends={"file-1": {}}, roles=())
    scheduler_port, volume_port = free_port(), free_port()
    # The scheduler takes its port from the configuration, the volume service from the flag.
    cluster.overrides["scheduler"] = {"DEFAULT": {"metrics_port": str(scheduler_port)}}
    cluster.extra_args["volume-file-1"] = ["--metrics-port", str(volume_port)]
    cluster.start("volume-file-1", "scheduler", "api")
    cluster.wait_for_pools("file-1")
    prom = start_prometheus({
        "api": [target(cluster.base_url)],
        "scheduler": [f"127.0.0.1:{scheduler_port}"],
        "volume": [f"127.0.0.1:{volume_port}"],
    })  # fmt: skip
    for job in ("api", "scheduler", "volume"):
        prom.wait_for(f'up{{job="{job}"}}', lambda v: v == 1)
    with cluster.client() as client:
        ids = [client.create(1) for _ in range(3)]
        for volume_id in ids:
            client.wait_for_volume(volume_id)
        client.delete(f"/volumes/{ids[0]}")
        client.wait_for_gone(ids[0])

    wait_equal(prom, 'firebrick_info{job="scheduler",roles="scheduler"}', 1)
    wait_equal(prom, 'firebrick_info{job="volume",roles="volume"}', 1)
    # The api casts to the scheduler, which consumes and casts to the volume service.
    wait_equal(prom, 'firebrick_bus_messages_published_total{job="api",topic="scheduler"}', 3)
    wait_equal(prom, 'firebrick_bus_messages_consumed_total{job="scheduler",topic="scheduler"}', 3)
    volume_topic = f"volume.{cluster.host}@file-1"
    wait_equal(prom, f'sum(firebrick_bus_messages_consumed_total{{job="volume",'
                     f'topic="{volume_topic}"}})', 4)  # fmt: skip
    wait_equal(prom, f'firebrick_flows_total{{job="volume",flow="{CREATE_FLOW}",'
                     'outcome="success"}', 3)  # fmt: skip
    # Every process measures its own database transactions (PostgreSQL here).
    for job in ("api", "scheduler", "volume"):
        prom.wait_for(
            f'sum(firebrick_db_transaction_duration_seconds_count{{job="{job}"}})', lambda v: v > 0
        )
    # The database-derived gauges come from the api alone, so nothing is counted twice.
    wait_equal(prom, 'count(firebrick_volumes{status="available"})', 1)
    wait_equal(prom, 'firebrick_volumes{job="api",status="available"}', 2)
    assert prom.query('firebrick_http_requests_total{job!="api"}') == []


def test_without_project_labels_no_project_id_is_exposed(service, api):
    api.create_volume()
    text = httpx.get(f"{service.base_url}/metrics", timeout=10).text
    assert "firebrick_quota_usage{" in text
    assert "project_id=" not in text
    assert api.project not in text


def test_metrics_and_timelines_can_be_turned_off(start_service):
    svc = start_service(defaults={"metrics_enabled": "false", "record_flow_timelines": "false"})
    with svc.client() as api:
        volume = api.create_volume()
        resp = httpx.get(f"{svc.base_url}/metrics", timeout=10)
        assert resp.status_code == 404
        timeline = api.get(f"/volumes/{volume['id']}/timeline")
        assert timeline.status_code == 200, timeline.text
        assert timeline.json()["timeline"]["runs"] == []
