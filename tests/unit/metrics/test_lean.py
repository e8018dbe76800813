"""The lean counters and histograms: the same exposition as prometheus_client's, exact
counts from many threads, label sets checked."""

from __future__ import annotations

import threading

import prometheus_client
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from firebrick.metrics import lean

BUCKETS = (0.001, 0.0025, 0.01, 0.1, 1.0, 10.0)
DURATIONS = (0.0, 0.0005, 0.001, 0.0010001, 0.0025, 0.05, 1.0, 9.99, 10.0, 42.0)


def exposition(counter: type, histogram: type) -> str:
    registry = CollectorRegistry()
    requests = counter("fb_requests", "Requests.", ["route", "status"], registry=registry)
    latency = histogram(
        "fb_latency_seconds", "Latency.", ["route"], buckets=BUCKETS, registry=registry
    )
    idle = histogram("fb_idle_seconds", "Never observed.", ["kind"], buckets=BUCKETS,
                     registry=registry)  # fmt: skip
    for route in ("/v3/{project_id}/volumes", "/v3/volumes/{volume_id}"):
        for status in ("200", "202", "404"):
            requests.labels(route, status).inc()
        requests.labels(route, "200").inc(2.5)
        for value in DURATIONS:
            latency.labels(route).observe(value)
    idle.labels("read")  # a child with nothing observed is exported at zero
    return generate_latest(registry).decode()


def test_the_exposition_is_prometheus_clients_byte_for_byte(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As instruments.enable() has it: no _created series.
    monkeypatch.setattr(prometheus_client.metrics, "_use_created", False)
    ours = exposition(lean.Counter, lean.Histogram)
    theirs = exposition(prometheus_client.Counter, prometheus_client.Histogram)
    assert ours == theirs
    assert 'fb_latency_seconds_bucket{le="+Inf",route="/v3/volumes/{volume_id}"} 10.0' in ours


def test_label_values_of_other_types_are_the_same_series_as_their_strings() -> None:
    registry = CollectorRegistry()
    requests = lean.Counter("fb_requests", "Requests.", ["status"], registry=registry)
    requests.labels(200).inc()
    requests.labels("200").inc()
    assert registry.get_sample_value("fb_requests_total", {"status": "200"}) == 2
    assert generate_latest(registry).decode().count("fb_requests_total{") == 1


def test_counts_from_many_threads_are_exact() -> None:
    registry = CollectorRegistry()
    hits = lean.Counter("fb_hits", "Hits.", ["kind"], registry=registry)
    latency = lean.Histogram("fb_t_seconds", "T.", ["kind"], buckets=BUCKETS, registry=registry)

    def work() -> None:
        for i in range(20_000):
            hits.labels("x").inc()
            latency.labels("x").observe(0.002 if i % 2 else 5.0)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sample = registry.get_sample_value
    assert sample("fb_hits_total", {"kind": "x"}) == 80_000
    assert sample("fb_t_seconds_count", {"kind": "x"}) == 80_000
    assert sample("fb_t_seconds_bucket", {"kind": "x", "le": "0.0025"}) == 40_000
    assert sample("fb_t_seconds_sum", {"kind": "x"}) == pytest.approx(40_000 * 5.002)


def test_a_wrong_number_of_labels_or_a_negative_increment_is_refused() -> None:
    registry = CollectorRegistry()
    requests = lean.Counter("fb_requests", "Requests.", ["route", "status"], registry=registry)
    with pytest.raises(ValueError):
        requests.labels("/v3")
    with pytest.raises(ValueError):
        requests.labels("/v3", "200").inc(-1)
    assert registry.get_sample_value("fb_requests_total", {"route": "/v3", "status": "200"}) == 0


def test_a_name_already_registered_is_refused() -> None:
    registry = CollectorRegistry()
    lean.Counter("fb_requests", "Requests.", ["status"], registry=registry)
    with pytest.raises(ValueError):
        prometheus_client.Counter("fb_requests", "Again.", ["status"], registry=registry)
