"""Counters and histograms for the create path, cheaper per event than prometheus_client's.

A create passes about thirty instrumentation points (its HTTP requests, database
transactions, bus messages, flow and tasks). prometheus_client's children check on every
event that they are not a parent family and take one lock for a histogram's sum and
another for its bucket, found by a loop in Python; these children take one lock and find
the bucket with ``bisect`` (in C). They are exported when Prometheus scrapes, as the
ordinary counter and histogram families (``_total``; ``_bucket``, ``_count``, ``_sum``),
so the exposition reads the same series as before.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from typing import Any, Generic, TypeVar

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

INF = float("inf")


class CounterChild:
    __slots__ = ("_lock", "_value")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        if amount < 0:
            raise ValueError("Counters can only be incremented by non-negative amounts.")
        with self._lock:
            self._value += amount

    def value(self) -> float:
        with self._lock:
            return self._value


class HistogramChild:
    __slots__ = ("_bounds", "_counts", "_lock", "_sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self._bounds = bounds  # upper bounds, +Inf last
        self._counts = [0] * len(bounds)  # per bucket, not cumulative
        self._sum = 0.0
        self._lock = threading.Lock()

    def observe(self, amount: float) -> None:
        # The first bound >= amount: buckets are "less than or equal" (le).
        index = bisect_left(self._bounds, amount)
        with self._lock:
            self._counts[index] += 1
            self._sum += amount

    def snapshot(self) -> tuple[list[int], float]:
        with self._lock:
            return list(self._counts), self._sum


Child = TypeVar("Child", CounterChild, HistogramChild)


class _Family(Collector, Generic[Child]):
    """A labelled metric family registered in ``registry``; children by label values."""

    def __init__(
        self, name: str, documentation: str, labelnames: Sequence[str], registry: CollectorRegistry
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self._children: dict[tuple[Any, ...], Child] = {}
        self._lock = threading.Lock()
        registry.register(self)

    def labels(self, *values: Any) -> Child:
        child = self._children.get(values)
        if child is None:
            if len(values) != len(self.labelnames):
                raise ValueError(f"{self.name}: expected labels {self.labelnames}, got {values}")
            exported = tuple(str(value) for value in values)
            with self._lock:
                # One child per exported label set, whatever type the caller passed.
                child = self._children.get(exported) or self._new()
                self._children[exported] = child
                self._children[values] = child
        return child

    def _new(self) -> Child:
        raise NotImplementedError

    def _exported(self) -> list[tuple[tuple[str, ...], Child]]:
        with self._lock:
            return [
                (key, child)
                for key, child in self._children.items()
                if all(type(value) is str for value in key)
            ]

    def describe(self) -> Iterator[Any]:
        yield from self._families(with_samples=False)

    def collect(self) -> Iterator[Any]:
        yield from self._families(with_samples=True)

    def _families(self, *, with_samples: bool) -> Iterator[Any]:
        raise NotImplementedError


class Counter(_Family[CounterChild]):
    """A counter family (``name`` without ``_total``, as prometheus_client's Counter)."""

    def _new(self) -> CounterChild:
        return CounterChild()

    def _families(self, *, with_samples: bool) -> Iterator[Any]:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        if with_samples:
            for key, child in self._exported():
                family.add_metric(key, child.value())
        yield family


class Histogram(_Family[HistogramChild]):
    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        registry: CollectorRegistry,
        buckets: Sequence[float],
    ) -> None:
        bounds = tuple(sorted(float(b) for b in buckets))
        self._bounds = bounds if bounds and bounds[-1] == INF else (*bounds, INF)
        self._les = tuple(floatToGoString(b) for b in self._bounds)  # type: ignore[no-untyped-call]
        super().__init__(name, documentation, labelnames, registry)

    def _new(self) -> HistogramChild:
        return HistogramChild(self._bounds)

    def _families(self, *, with_samples: bool) -> Iterator[Any]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        if with_samples:
            for key, child in self._exported():
                counts, total = child.snapshot()
                cumulative, buckets = 0, []
                for le, count in zip(self._les, counts, strict=True):
                    cumulative += count
                    buckets.append((le, float(cumulative)))
                family.add_metric(key, buckets, total)
        yield family
