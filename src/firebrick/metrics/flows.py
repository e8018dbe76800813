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
    flow, outcome = recorder.flow, recorder.outcome
    metrics.child(metrics.flows, flow, outcome).inc()
    metrics.child(metrics.flow_duration, flow, outcome).observe(recorder.ended - recorder.origin)
    for span in recorder.tasks.values():
        if span.end is not None:
            metrics.child(metrics.task_duration, flow, span.name, span.outcome).observe(
                span.end - span.start
            )
    if outcome == "rescheduled":
        metrics.child(metrics.reschedules, recorder.backend, recorder.failure_class).inc()
