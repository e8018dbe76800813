"""Whether a database is at the schema this code expects, known without Alembic.

Every process checks the schema as it starts. Alembic (with Mako and Pygments, which it
imports) costs a process 8 MB that it keeps for its whole life; the check needs one
query. Only a database behind ``HEAD`` is migrated (:func:`upgrade_apart`), in a child
process, so that what Alembic imports leaves with it.
"""

from __future__ import annotations

import os
import sys
import traceback

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from firebrick.db.engine import Database

# The newest migration's revision (tests/unit/db/test_revision.py checks it against
# Alembic's scripts): raise it with each new migration.
HEAD = "0015"


def at_head(db: Database) -> bool:
    """True when the database's one Alembic version row says ``HEAD``."""
    try:
        with db.read() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    except DBAPIError:  # no such table: never migrated
        return False
    return [row[0] for row in rows] == [HEAD]


def upgrade_apart(url: str) -> None:
    """:func:`firebrick.db.migrate.upgrade` of ``url`` in a forked child, waited for.

    The child runs only the upgrade, on connections of its own, then exits: locks another
    thread of this process held at the fork (logging's and the import lock are reset in a
    child) are never waited for. A failed upgrade ends this process as it would have.
    """
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's coverage is not collected
        code = 1
        try:
            from firebrick.db import migrate

            migrate.upgrade(url)
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("The database schema upgrade failed (its traceback is above).")
