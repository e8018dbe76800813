"""SQLite transactions of :class:`Database`: begun on the driver's connection, they are
still atomic, and a lock SQLite cannot take fails as SQLAlchemy would report it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from firebrick.db.engine import Database
from firebrick.db.outage import classify


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'fb.sqlite'}")
    with database.write() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    return database


def test_a_failed_write_leaves_nothing(db: Database) -> None:
    with pytest.raises(RuntimeError), db.write() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
        raise RuntimeError("the work failed")
    with db.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 0


def test_a_read_sees_one_snapshot(db: Database, tmp_path: Path) -> None:
    other = sqlite3.connect(tmp_path / "fb.sqlite", isolation_level=None)
    with db.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 0
        other.execute("INSERT INTO t VALUES (1)")  # committed by another writer meanwhile
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 0
    with db.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 1
    other.close()


def test_a_write_lock_held_elsewhere_is_an_outage(db: Database, tmp_path: Path) -> None:
    other = sqlite3.connect(tmp_path / "fb.sqlite", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds SQLite's write lock
    with db.engine.connect() as conn:  # the pool's one connection waits 50 ms, not 30 s
        conn.connection.driver_connection.execute("PRAGMA busy_timeout=50")  # type: ignore[union-attr]
    try:
        with pytest.raises(sa_exc.OperationalError) as raised, db.write():
            pass
        assert isinstance(raised.value.orig, sqlite3.OperationalError)
        assert classify(raised.value) == "unreachable"
    finally:
        other.rollback()
        other.close()
