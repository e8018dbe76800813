"""The flow recorder: what a run of a TaskFlow flow did, saved once, observed as metrics."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import insert
from taskflow import engines, task
from taskflow.patterns import linear_flow
from taskflow.persistence import models

from firebrick.db import flow_runs
from firebrick.db.engine import Database
from firebrick.db.schema import volumes
from firebrick.db.schema.features import volume_flow_runs
from firebrick.db.volumes import now
from firebrick.metrics.instruments import Metrics
from firebrick.volume import flow_timeline
from firebrick.volume.flow_log import FlowLogger
from firebrick.volume.flows.storage import PassThroughBackend


def sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


class DriverError(Exception):
    pass


class Step(task.Task):  # type: ignore[misc]
    def __init__(self, name: str, *, fail: bool = False, save: str | None = None) -> None:
        super().__init__(name=f"{name};volume:create")
        self.fail = fail
        self.save = save

    def execute(self, db: Database) -> None:
        if self.fail:
            raise DriverError("the backend refused")
        if self.save:
            with db.write() as conn:
                flow_timeline.save_run(conn, outcome=self.save, host="h@b#p")

    def revert(self, db: Database, **_kwargs: Any) -> None:
        return None


def run(db: Database, steps: list[Step], *, persist: bool = True) -> None:
    flow = linear_flow.Flow("volume_create_manager").add(*steps)
    store = {"volume_id": "v-1", "retry": {"num_attempts": 2}, "db": db}
    engine = engines.load(flow, store=store, backend=PassThroughBackend(),
                          book=models.LogBook("test"))  # fmt: skip
    flow_log = FlowLogger("v-1")
    flow_log.attach(engine)
    with flow_timeline.recorded(flow_log, store, "h@b", persist):
        engine.run()


@pytest.fixture
def volume(db: Database) -> str:
    with db.write() as conn:
        conn.execute(insert(volumes).values(
            id="v-1", project_id="p", user_id="u", size=1, status="creating",
            created_at=now()))  # fmt: skip
    return "v-1"


def test_a_successful_run_is_saved_in_its_last_commit_with_every_task(db, volume):
    run(db, [Step("First"), Step("Second"), Step("Finish", save="success")])
    with db.read() as conn:
        [saved] = flow_runs.of_volume(conn, volume)
    assert (saved.flow, saved.attempt, saved.outcome, saved.host) == (
        "volume_create_manager", 2, "success", "h@b#p")  # fmt: skip
    assert [t["name"] for t in saved.tasks] == ["First", "Second", "Finish"]
    assert all(t["outcome"] == "success" for t in saved.tasks)
    # The task that commits is still running then: it ends with its commit.
    ends = [t["end_ms"] for t in saved.tasks]
    assert ends == sorted(ends) and saved.tasks[0]["start_ms"] >= 0
    assert saved.started_at <= saved.finished_at


def test_a_failed_run_records_the_failure_and_the_reverts(db, volume, metrics: Metrics):
    with pytest.raises(DriverError):
        run(db, [Step("First"), Step("Create", fail=True)])
    with db.read() as conn:
        assert flow_runs.of_volume(conn, volume) == []  # nothing committed: nothing saved
    labels = {"flow": "volume_create_manager", "outcome": "reverted"}
    assert sample(metrics, "firebrick_flows_total", **labels) == 1
    assert sample(metrics, "firebrick_flow_duration_seconds_count", **labels) == 1
    assert sample(metrics, "firebrick_flow_task_duration_seconds_count",
                  flow="volume_create_manager", task="Create", outcome="failure") == 1  # fmt: skip
    assert sample(metrics, "firebrick_flow_task_duration_seconds_count",
                  flow="volume_create_manager", task="First", outcome="success") == 1  # fmt: skip


def test_a_rescheduled_run_counts_a_reschedule_by_the_failures_class(db, volume, metrics):
    class Reschedule(Step):
        def revert(self, db: Database, **_kwargs: Any) -> None:
            with db.write() as conn:
                flow_timeline.save_run(conn, outcome="rescheduled", host="h@b#p", reason="no")

    with pytest.raises(DriverError):
        run(db, [Reschedule("OnFailure"), Step("Create", fail=True)])
    assert sample(metrics, "firebrick_reschedules_total", backend="h@b", reason="DriverError") == 1
    assert sample(metrics, "firebrick_flows_total", flow="volume_create_manager",
                  outcome="rescheduled") == 1  # fmt: skip
    with db.read() as conn:
        [saved] = flow_runs.of_volume(conn, volume)
    create = saved.tasks[1]
    assert (create["outcome"], create["error"]) == ("failure", "the backend refused")
    assert "revert_start_ms" in saved.tasks[0] and saved.reason == "no"


def test_nothing_is_recorded_when_neither_timelines_nor_metrics_are_on(db, volume):
    run(db, [Step("First"), Step("Finish", save="success")], persist=False)
    with db.read() as conn:
        assert flow_runs.of_volume(conn, volume) == []


def test_metrics_without_timelines_save_no_row_but_count_the_run(db, volume, metrics):
    run(db, [Step("First"), Step("Finish", save="success")], persist=False)
    with db.read() as conn:
        assert flow_runs.of_volume(conn, volume) == []
    assert sample(metrics, "firebrick_flows_total", flow="volume_create_manager",
                  outcome="success") == 1  # fmt: skip


def test_save_run_outside_a_flow_does_nothing(db, volume):
    with db.write() as conn:
        flow_timeline.save_run(conn, outcome="success", host=None)
    with db.read() as conn:
        assert flow_runs.of_volume(conn, volume) == []


@pytest.mark.parametrize("microsecond", [0, 5, 999_999])
def test_the_sqlite_insert_reads_back_as_sqlalchemys_own(db, volume, microsecond):
    """On SQLite the row goes to the driver as text: it must read back as SQLAlchemy's
    DateTime and JSON types wrote it (the path PostgreSQL takes)."""
    started = now().replace(microsecond=microsecond)
    values: dict[str, Any] = {
        "volume_id": volume, "flow": "volume_create_manager", "host": "h@b#p", "attempt": 2,
        "outcome": "error", "reason": "x" * (flow_runs.MAX_REASON + 10), "request_id": "req-1",
        "started_at": started, "finished_at": started.replace(microsecond=999_999),
        "tasks": [{"name": "Step", "start_ms": 0.5, "end_ms": 1.25, "outcome": "failure",
                   "error": "ünïcode \"quoted\""}],
    }  # fmt: skip
    with db.write() as conn:
        flow_runs.add(conn, **values)
        conn.execute(insert(volume_flow_runs),
                     dict(values, reason=values["reason"][: flow_runs.MAX_REASON]))  # fmt: skip
    with db.read() as conn:
        ours, theirs = flow_runs.of_volume(conn, volume)
    assert ours.id != theirs.id
    assert {**vars(ours), "id": 0} == {**vars(theirs), "id": 0}
    assert ours.started_at == started and ours.tasks == values["tasks"]
