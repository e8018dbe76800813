"""Schema migrations (Alembic), configured here so that no ``alembic.ini`` is needed.

Every process may call :func:`upgrade` as it starts, several at once: the whole upgrade
is one transaction that first takes a lock (an advisory lock on PostgreSQL, the write
lock on SQLite), so the first process migrates and the others then find the schema at
head and do nothing.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.pool import NullPool

from firebrick.db.engine import Database

MIGRATIONS = Path(__file__).parent / "migrations"
# pg_advisory_xact_lock(classid, objid): the class is ours ("FBrk"), the object the lock.
LOCK_CLASS = 0x4642726B
_MIGRATION_LOCK = 1


def config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    revision = ScriptDirectory.from_config(config()).get_current_head()
    assert revision is not None
    return revision


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision``; safe to run concurrently, idempotent."""
    db = Database(url)
    try:
        with db.write() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(
                    text("SELECT pg_advisory_xact_lock(:cls, :obj)"),
                    {"cls": LOCK_CLASS, "obj": _MIGRATION_LOCK},
                )
            command.upgrade(config(conn), revision)
    finally:
        db.dispose()


def current(url: str) -> str | None:
    """The revision the database is at; None when it has never been migrated."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
