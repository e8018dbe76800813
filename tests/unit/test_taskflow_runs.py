"""Flows run by ``CompiledFlow``: the same results, reverts and traces as stock TaskFlow."""

from __future__ import annotations

import logging

import pytest
from taskflow import logging as taskflow_logging
from taskflow import task
from taskflow.patterns import linear_flow

from firebrick.volume.flows.storage import CompiledFlow


class Add(task.Task):  # type: ignore[misc]
    def execute(self, x: int) -> int:
        return x + 1

    def revert(self, x: int, **kwargs: object) -> None:
        REVERTED.append(self.name)


class Fail(task.Task):  # type: ignore[misc]
    def execute(self, y: int) -> None:
        raise RuntimeError("no")


REVERTED: list[str] = []


def test_results_flow_from_task_to_task() -> None:
    flow = linear_flow.Flow("f").add(
        Add("a", provides="y"), Add("b", rebind={"x": "y"}, provides="z")
    )
    engine = CompiledFlow(flow).engine({"x": 1})
    engine.run()
    assert engine.storage.fetch("z") == 3
    assert engine.storage.get_atom_state("a") == "SUCCESS"


def test_a_failure_reverts_what_ran_and_keeps_the_states() -> None:
    REVERTED.clear()
    flow = linear_flow.Flow("f").add(Add("a", provides="y"), Fail("b"))
    compiled = CompiledFlow(flow)
    for _ in range(2):  # a second run of the same compiled flow starts clean
        engine = compiled.engine({"x": 1})
        with pytest.raises(RuntimeError):
            engine.run()
        assert engine.storage.get_atom_state("a") == "REVERTED"
        assert engine.storage.get_atom_state("b") == "REVERTED"
    assert REVERTED == ["a", "a"]


def test_traces_still_reach_a_logger_that_wants_them(caplog: pytest.LogCaptureFixture) -> None:
    flow = linear_flow.Flow("f").add(Add("a", provides="y"))
    with caplog.at_level(taskflow_logging.TRACE, logger="taskflow"):
        CompiledFlow(flow).engine({"x": 1}).run()
    assert any(r.levelno == taskflow_logging.TRACE for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="taskflow"):
        CompiledFlow(flow).engine({"x": 1}).run()
    assert not [r for r in caplog.records if r.levelno == taskflow_logging.TRACE]
