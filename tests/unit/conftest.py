from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from firebrick.db.engine import Database


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """A new SQLite database with the schema, in the test's own directory."""
    database = Database(f"sqlite:///{tmp_path / 'unit.sqlite'}")
    database.create_schema()
    yield database
    database.dispose()
