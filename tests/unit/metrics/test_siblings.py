"""Merging the metrics of the processes of one service into one exposition."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from firebrick.metrics import siblings


def process_registry(requests: int, roles: str) -> CollectorRegistry:
    registry = CollectorRegistry()
    counter = Counter("t_requests", "r", ["route"], registry=registry)
    counter.labels("/v").inc(requests)
    hist = Histogram("t_seconds", "s", buckets=(0.1, 1.0), registry=registry)
    hist.observe(0.05 * requests)
    Gauge("t_info", "i", ["roles"], registry=registry).labels(roles).set(1)
    return registry


def samples(registry: object) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry).decode()  # type: ignore[arg-type]
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_counters_and_histograms_add_up_and_info_keeps_one(tmp_path):
    one, two = process_registry(3, "api"), process_registry(4, "api")
    parsed = text_string_to_metric_families(generate_latest(two).decode())
    merged = siblings.merge([*one.collect(), *parsed])

    class Registry:
        def collect(self):  # type: ignore[no-untyped-def]
            return merged

    found = samples(Registry())
    assert found[("t_requests_total", (("route", "/v"),))] == 7
    assert found[("t_seconds_count", ())] == 2
    assert found[("t_seconds_bucket", (("le", "1.0"),))] == 2
    assert found[("t_info", (("roles", "api"),))] == 1


def test_a_service_registry_reads_its_siblings_sockets(tmp_path):
    sibling = process_registry(5, "volume")
    siblings.publish(tmp_path, sibling)  # as another process would (same pid here: renamed)
    published = next(tmp_path.glob("metrics-*.sock"))
    published.rename(tmp_path / "metrics-1.sock")
    (tmp_path / "metrics-2.sock").touch()  # a process that is gone: skipped and removed
    merged = siblings.ServiceRegistry(process_registry(1, "api"), tmp_path, [])
    found = samples(merged)
    assert found[("t_requests_total", (("route", "/v"),))] == 6
    assert found[("t_info", (("roles", "volume"),))] == 1
    assert found[("t_info", (("roles", "api"),))] == 1
    assert not (tmp_path / "metrics-2.sock").exists()
