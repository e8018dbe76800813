"""The timeline's view: the scheduler's verdicts, task outcomes, hosts for admins only."""

from __future__ import annotations

from datetime import datetime

from firebrick.api.views import timeline
from firebrick.db.flow_runs import FlowRun


def test_verdicts_are_read_from_the_schedulers_explanation() -> None:
    detail = (
        "No valid backend was found.\n"
        "pool h@a#a: CapacityFilter: 5 GiB does not fit: 2.0 GiB free\n"
        "pool h@b#b: AvailabilityZoneFilter: zone nova, not east"
    )
    assert timeline.verdicts(detail) == [
        {"pool": "h@a#a", "reason": "CapacityFilter: 5 GiB does not fit: 2.0 GiB free"},
        {"pool": "h@b#b", "reason": "AvailabilityZoneFilter: zone nova, not east"},
    ]
    assert timeline.verdicts(None) == []
    assert timeline.verdicts("h@b: the driver refused") == []


def test_a_run_shows_outcomes_and_hides_the_pool_from_non_admins() -> None:
    start = datetime(2026, 12, 7, 6, 0, 0)
    run = FlowRun(
        id=1, volume_id="v", flow="volume_create_manager", host="h@b#p", attempt=1,
        outcome="rescheduled", reason="refused", request_id="req-1", started_at=start,
        finished_at=datetime(2026, 12, 7, 6, 0, 0, 20_000),
        tasks=[
            {"name": "A", "start_ms": 1.0, "end_ms": 2.5, "outcome": "success",
             "revert_start_ms": 15.0, "revert_end_ms": 16.0},
            {"name": "B", "start_ms": 3.0, "end_ms": 4.0, "outcome": "failure",
             "error": "refused", "revert_start_ms": 10.0, "revert_end_ms": 11.0},
            {"name": "C", "start_ms": 5.0, "end_ms": 6.0, "outcome": "success"},
        ],
    )  # fmt: skip
    shown = timeline.run(run, is_admin=False)
    assert shown["host"] is None and shown["duration_ms"] == 20.0
    assert [t["outcome"] for t in shown["tasks"]] == ["reverted", "failure", "success"]
    assert shown["tasks"][0]["started_at"] == "2026-12-07T06:00:00.001000"
    assert shown["tasks"][0]["duration_ms"] == 1.5
    assert timeline.run(run, is_admin=True)["host"] == "h@b#p"
