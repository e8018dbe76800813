"""The metrics every role updates as it works (counters and histograms).

Metrics are process-wide, as loggers are: prometheus_client keeps them in a registry that
``/metrics`` reads. The composition root turns them on once with :func:`enable`; until then
:func:`active` is None and every instrumentation point does nothing, so a process with
``metrics_enabled = false`` pays one function call per event and records nothing.

The counters and histograms are :mod:`firebrick.metrics.lean`'s, cheaper per event than
prometheus_client's and exported as the same series. Label values are bounded: route
templates (never raw paths), flow and task names, topics, statuses, backends and exception
class names, all fixed by the code and the configuration.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any, Final

from prometheus_client import CollectorRegistry, Gauge, disable_created_metrics

from firebrick.metrics.lean import Counter, Histogram

# HTTP answers take milliseconds; flows and tasks up to minutes (image copies); database
# transactions tens of microseconds on SQLite.
HTTP_BUCKETS: Final = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
FLOW_BUCKETS: Final = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    120.0, 300.0,
)  # fmt: skip
DB_BUCKETS: Final = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
)  # fmt: skip
UNMATCHED_ROUTE: Final = "unmatched"


class Metrics:
    """Every counter and histogram of one process, in ``registry``."""

    def __init__(self, registry: CollectorRegistry, roles: tuple[str, ...] = ()) -> None:
        self.registry = registry
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        info = Gauge(
            "firebrick_info", "Firebrick's version and the roles this process runs.",
            ["version", "roles"], registry=registry,
        )  # fmt: skip
        info.labels(_version(), ",".join(roles)).set(1)

        self.http_requests = Counter(
            "firebrick_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"], registry=registry,
        )  # fmt: skip
        self.http_duration = Histogram(
            "firebrick_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer.",
            ["route", "method"], buckets=HTTP_BUCKETS, registry=registry,
        )  # fmt: skip

        self.flows = Counter(
            "firebrick_flows", "Flows run to their end, by flow name and outcome.",
            ["flow", "outcome"], registry=registry,
        )  # fmt: skip
        self.flow_duration = Histogram(
            "firebrick_flow_duration_seconds", "Duration of a flow run, by name and outcome.",
            ["flow", "outcome"], buckets=FLOW_BUCKETS, registry=registry,
        )  # fmt: skip
        self.task_duration = Histogram(
            "firebrick_flow_task_duration_seconds",
            "Duration of each task's execution in a flow, by outcome (success or failure).",
            ["flow", "task", "outcome"], buckets=FLOW_BUCKETS, registry=registry,
        )  # fmt: skip
        self.reschedules = Counter(
            "firebrick_reschedules",
            "Creates a backend sent back to the scheduler, by backend and the failure's class.",
            ["backend", "reason"], registry=registry,
        )  # fmt: skip

        self.bus_published = Counter(
            "firebrick_bus_messages_published", "Messages cast on the bus, by topic.",
            ["topic"], registry=registry,
        )  # fmt: skip
        self.bus_publish_failures = Counter(
            "firebrick_bus_publish_failures",
            "Casts the bus could not take (left to the reconciler), by topic.",
            ["topic"], registry=registry,
        )  # fmt: skip
        self.bus_consumed = Counter(
            "firebrick_bus_messages_consumed", "Messages handed to a handler, by topic.",
            ["topic"], registry=registry,
        )  # fmt: skip
        self.bus_redelivered = Counter(
            "firebrick_bus_messages_redelivered",
            "Messages the broker delivered again (their first consumer died), by topic.",
            ["topic"], registry=registry,
        )  # fmt: skip

        self.db_transactions = Histogram(
            "firebrick_db_transaction_duration_seconds",
            "Time from asking for a transaction to its commit, lock wait included.",
            ["kind"], buckets=DB_BUCKETS, registry=registry,
        )  # fmt: skip

        self.reconciler_resent = Counter(
            "firebrick_reconciler_resent",
            "Requests the scheduler's reconciler sent again, by the stuck volume's status.",
            ["status"], registry=registry,
        )  # fmt: skip
        self.cleanup_actions = Counter(
            "firebrick_cleanup_actions",
            "Recovery actions: workers/cleanup re-sends, resumed work, removed orphans.",
            ["action"], registry=registry,
        )  # fmt: skip

    def child(self, family: Any, *labels: str) -> Any:
        """``family.labels(*labels)``, remembered: on the hot paths a dict lookup instead
        of prometheus_client's label checks and lock (label values are bounded)."""
        key = (id(family), labels)
        found = self._children.get(key)
        if found is None:
            found = self._children.setdefault(key, family.labels(*labels))
        return found


def _version() -> str:
    try:
        return metadata.version("firebrick")
    except metadata.PackageNotFoundError:
        return "unknown"


_active: Metrics | None = None


def active() -> Metrics | None:
    """This process's metrics, or None when they are off."""
    return _active


def enable(registry: CollectorRegistry, roles: tuple[str, ...] = ()) -> Metrics:
    """Create this process's metrics in ``registry`` (once; later calls return them)."""
    global _active
    if _active is None:
        # The _created series double what a scrape carries and no query here needs them.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        _active = Metrics(registry, roles)
    return _active


def disable() -> None:
    """Forget the metrics (tests that enable them in a registry of their own)."""
    global _active
    _active = None


def count_resent(status: str) -> None:
    """The reconciler sent a stuck volume's request again."""
    if _active is not None:
        _active.reconciler_resent.labels(status).inc()


def count_cleanup(action: str) -> None:
    """A recovery action was taken (``rescheduled``, ``delete_resent``, ...)."""
    if _active is not None:
        _active.cleanup_actions.labels(action).inc()
