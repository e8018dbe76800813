"""Flow metrics, taken from a run's record once the run is over (nothing on its path)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from firebrick.metrics.instruments import active

if TYPE_CHECKING:
    from firebrick.volume.flow_timeline import FlowRecorder


def observe(recorder: FlowRecorder) -> None:
    """Count the run by outcome, time it and each task, and count a reschedule."""
    metrics = active()
    if metrics is None or recorder.ended is None:
        return
    outcome = recorder.outcome
    metrics.flows.labels(recorder.flow, outcome).inc()
    metrics.flow_duration.labels(recorder.flow, outcome).observe(recorder.ended - recorder.origin)
    for span in recorder.tasks.values():
        if span.end is not None:
            metrics.task_duration.labels(recorder.flow, span.name, span.outcome).observe(
                span.end - span.start
            )
    if outcome == "rescheduled":
        metrics.reschedules.labels(recorder.backend, recorder.failure_class).inc()
