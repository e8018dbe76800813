"""Which failures are outages of the database or the broker (work to take again later),
and which are the work's own."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from psycopg import errors as pg_errors
from sqlalchemy import exc as sa_exc
from taskflow import exceptions as tf_exceptions
from taskflow.types import failure

from firebrick.api.faults import fault_for
from firebrick.db.outage import classify, is_outage, through_outage
from firebrick.rpc.bus import BusUnavailable


def wrapped(orig: BaseException) -> sa_exc.OperationalError:
    return sa_exc.OperationalError("INSERT …", {}, orig)


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (sqlite3.OperationalError("database or disk is full"), "full"),
        (wrapped(sqlite3.OperationalError("database or disk is full")), "full"),
        (wrapped(sqlite3.OperationalError("database is locked")), "unreachable"),
        (wrapped(psycopg.OperationalError("connection failed: Connection refused")),
         "unreachable"),
        (wrapped(pg_errors.DiskFull("could not extend file")), "full"),
        (wrapped(pg_errors.AdminShutdown("terminating connection")), "unreachable"),
        (wrapped(pg_errors.CannotConnectNow("the database system is starting up")),
         "unreachable"),
        (BusUnavailable("broker down"), "unreachable"),
        (sqlite3.OperationalError("no such table: volumes"), None),
        (wrapped(pg_errors.UniqueViolation("duplicate key")), None),
        (ValueError("a bug"), None),
    ],
)  # fmt: skip
def test_classify(exc: BaseException, kind: str | None) -> None:
    assert classify(exc) == kind


def test_a_cause_raised_from_counts() -> None:
    try:
        try:
            raise wrapped(psycopg.OperationalError("server closed the connection"))
        except sa_exc.OperationalError as inner:
            raise RuntimeError("the flow failed") from inner
    except RuntimeError as outer:
        assert is_outage(outer)


def test_taskflow_gathers_failures() -> None:
    outage = failure.Failure.from_exception(wrapped(psycopg.OperationalError("Connection refused")))
    other = failure.Failure.from_exception(ValueError("driver"))
    assert is_outage(tf_exceptions.WrappedFailure([other, outage]))
    assert not is_outage(tf_exceptions.WrappedFailure([other]))


def test_the_api_answers_503_with_retry_after() -> None:
    code, body, headers = fault_for(wrapped(sqlite3.OperationalError("database or disk is full")))
    assert code == 503
    assert body == {"serviceUnavailable": {"code": 503, "message": (
        "The service's storage is full: nothing was changed. Try again later.")}}  # fmt: skip
    assert headers == {"Retry-After": "5"}
    assert fault_for(ValueError("secret detail"))[0] == 500


def test_through_outage_tries_again_then_gives_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("time.sleep", lambda _: None)
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise wrapped(sqlite3.OperationalError("database is locked"))
        return "done"

    assert through_outage(flaky) == "done"
    assert len(calls) == 3

    def broken() -> None:
        raise ValueError("not an outage")

    with pytest.raises(ValueError):
        through_outage(broken)

    def always_down() -> None:
        raise wrapped(sqlite3.OperationalError("database is locked"))

    with pytest.raises(sa_exc.OperationalError):
        through_outage(always_down, patience=0.0)
