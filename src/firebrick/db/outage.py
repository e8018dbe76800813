"""Telling an outage of the database (or the broker) from a failure of the work itself.

An outage is temporary and says nothing about the request: the database is unreachable
(restarting, a network cut), its disk is full, or SQLite is locked or out of space. Work
that failed on one must be done again later, never recorded as failed: a consumer leaves
its message unacknowledged and takes it again after a pause, a flow does not reschedule
or error its volume, and the API answers 503 with ``Retry-After``. Every other exception
is the work's own (a bug, a poison message) and is handled as such.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from typing import Literal, TypeVar

LOG = logging.getLogger(__name__)

Outage = Literal["unreachable", "full"]
T = TypeVar("T")

# SQLite's words for a database it cannot write now.
_SQLITE_FULL = ("database or disk is full",)
_SQLITE_BUSY = ("database is locked", "disk i/o error", "unable to open database file")
# PostgreSQL SQLSTATE classes: 08 connection exception, 53 insufficient resources
# (53100 disk full), 57P01-57P03 admin shutdown / crash shutdown / cannot connect now.
_PG_FULL = ("53100",)
_PG_UNREACHABLE_PREFIXES = ("08", "57P")


def classify(exc: BaseException) -> Outage | None:
    """``"full"``, ``"unreachable"``, or None when ``exc`` is not an outage."""
    for cause in _causes(exc):
        found = _classify_one(cause)
        if found is not None:
            return found
    return None


def is_outage(exc: BaseException) -> bool:
    return classify(exc) is not None


def through_outage(work: Callable[[], T], *, patience: float = 60.0) -> T:
    """``work()``, done again with growing pauses while it fails on an outage, for at most
    ``patience`` seconds; then its last outage is raised (for the bus to take it again)."""
    deadline = time.monotonic() + patience
    pause = 0.2
    while True:
        try:
            return work()
        except Exception as exc:
            if not is_outage(exc) or time.monotonic() + pause > deadline:
                raise
            LOG.warning("%s; trying again in %.1f s", exc, pause)
            time.sleep(pause)
            pause = min(pause * 2, 5.0)


def _classify_one(exc: BaseException) -> Outage | None:
    from firebrick.rpc.bus import BusUnavailable

    if isinstance(exc, BusUnavailable):
        return "unreachable"
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        if any(words in text for words in _SQLITE_FULL):
            return "full"
        if any(words in text for words in _SQLITE_BUSY):
            return "unreachable"
        return None
    if type(exc).__module__.startswith("psycopg"):
        state = getattr(exc, "sqlstate", None)
        if state in _PG_FULL:
            return "full"
        if state is not None and str(state).startswith(_PG_UNREACHABLE_PREFIXES):
            return "unreachable"
        if state is None and type(exc).__name__ in ("OperationalError", "InterfaceError"):
            return "unreachable"  # psycopg could not connect, or lost the connection
        return None
    if type(exc).__module__.startswith("sqlalchemy"):
        if getattr(exc, "connection_invalidated", False):
            return "unreachable"
        if type(exc).__name__ in ("DisconnectionError", "TimeoutError"):
            return "unreachable"  # a broken pool connection; no free connection in time
    return None


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, what it was raised from, what SQLAlchemy wrapped, and the failures a
    TaskFlow engine gathered, each once."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)  # sqlalchemy.exc.DBAPIError
        if isinstance(orig, BaseException):
            pending.append(orig)
        for failure in _wrapped_failures(current):
            pending.append(failure)
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                pending.append(linked)


def _wrapped_failures(exc: BaseException) -> list[BaseException]:
    """The exceptions inside a TaskFlow ``WrappedFailure`` (several tasks failed)."""
    if type(exc).__name__ != "WrappedFailure":
        return []
    found = []
    for failure in exc:  # type: ignore[attr-defined]
        inner = getattr(failure, "exception", None)
        if isinstance(inner, BaseException):
            found.append(inner)
    return found
