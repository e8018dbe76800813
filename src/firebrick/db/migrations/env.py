"""Alembic's environment: runs on the connection :mod:`firebrick.db.migrate` hands it.

Run through ``firebrick.db.migrate`` (no ``alembic.ini`` is needed). When the alembic
command line is used instead, ``sqlalchemy.url`` of its configuration is the database.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from firebrick.db.schema import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things: later revisions rebuild tables in batch mode.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection given and no sqlalchemy.url configured")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
_main()
