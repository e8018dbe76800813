"""The database handle: one engine, read and write transactions.

SQLite (the embedded default) runs in WAL mode with ``synchronous=NORMAL``: a commit
survives a crash of the process, and costs microseconds instead of an fsync. Write
transactions take SQLite's write lock up front (``BEGIN IMMEDIATE``) so that two writers
never deadlock upgrading a read lock; on PostgreSQL they are ordinary transactions and the
contended rows are locked explicitly.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from firebrick.db import schema
from firebrick.metrics.instruments import active


def _wal(cursor: Any) -> None:
    """Switch to WAL; several processes creating the file at once may find it locked."""
    for attempt in range(200):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 199:
                raise
            time.sleep(0.05)


def _begin(conn: Connection, statement: str) -> None:
    """SQLite's ``BEGIN``, sent on the driver's connection.

    pysqlite's own BEGIN is lazy (and off: ``isolation_level = None``), so every
    transaction of :class:`Database` begins here, after SQLAlchemy's ``conn.begin()``
    (which sends nothing to SQLite) and before its first statement; SQLAlchemy's commit
    and rollback end it. Sent through SQLAlchemy instead, from a ``begin`` event, it cost
    a statement's worth of SQLAlchemy per transaction, and the event listener made
    SQLAlchemy look for listeners around every statement after it. A failure is raised as
    SQLAlchemy would raise it (``OperationalError`` wrapping SQLite's).
    """
    try:
        conn.connection.driver_connection.execute(statement)  # type: ignore[union-attr]
    except sqlite3.Error as exc:
        raise DBAPIError.instance(statement, None, exc, sqlite3.Error) from exc


class _WriterLock:
    """A thread lock, then an exclusive ``flock`` on ``path`` (when given)."""

    def __init__(self, path: Path | None) -> None:
        self._lock = threading.Lock()
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600) if path else None

    def __enter__(self) -> None:
        self._lock.acquire()
        if self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            except BaseException:
                self._lock.release()
                raise

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._lock.release()

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


class Database:
    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            kwargs["pool_size"] = 16
            kwargs["max_overflow"] = 16
        else:
            # A server restart or failover leaves dead connections in the pool: test each
            # on checkout rather than fail the request that draws it.
            kwargs["pool_pre_ping"] = True
            kwargs["pool_size"] = 10
            kwargs["max_overflow"] = 20
            kwargs["isolation_level"] = "READ COMMITTED"
            if parsed.get_backend_name() == "postgresql":
                # Columns are naive UTC; a session in another zone would shift comparisons
                # with timestamptz values such as now().
                kwargs["connect_args"] = {
                    "options": "-c timezone=UTC",
                    "application_name": "firebrick",
                }
        self.engine: Engine = create_engine(url, **kwargs)
        # SQLite has one writer at a time, and a writer that finds the lock taken sleeps
        # in its busy handler for milliseconds; queueing this process's writers on a
        # lock of our own, and the processes sharing the file on a file lock beside it
        # (the API workers of ``firebrick serve``), hands the database over in
        # microseconds instead.
        self._writer: AbstractContextManager[Any] = nullcontext()
        if self.is_sqlite:
            file = parsed.database if parsed.database != ":memory:" else None
            self._writer = _WriterLock(Path(f"{file}.writelock") if file else None)
        if self.is_sqlite:
            self._tune_sqlite(self.engine)
        # Transaction latency, when metrics are on (set up before the database is built).
        metrics = active()
        self._write_time = metrics.db_transactions.labels("write") if metrics else None
        self._read_time = metrics.db_transactions.labels("read") if metrics else None

    @staticmethod
    def _tune_sqlite(engine: Engine) -> None:
        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Transactions begin in _begin (pysqlite's own BEGIN is lazy).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA busy_timeout=30000")
            _wal(cursor)
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that will write; committed on success, rolled back on error."""
        started = time.perf_counter()
        with self._writer, self.engine.connect() as conn, conn.begin():
            if self.is_sqlite:
                _begin(conn, "BEGIN IMMEDIATE")
            yield conn
        if self._write_time is not None:
            self._write_time.observe(time.perf_counter() - started)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        started = time.perf_counter()
        with self.engine.connect() as conn, conn.begin():
            if self.is_sqlite:
                _begin(conn, "BEGIN")
            yield conn
        if self._read_time is not None:
            self._read_time.observe(time.perf_counter() - started)

    def create_schema(self) -> None:
        with self.write() as conn:
            schema.metadata.create_all(conn)

    def dispose(self) -> None:
        self.engine.dispose()
        if isinstance(self._writer, _WriterLock):
            self._writer.close()
