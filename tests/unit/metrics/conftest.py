from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from firebrick.db.engine import Database
from firebrick.metrics import instruments


@pytest.fixture
def metrics() -> Iterator[instruments.Metrics]:
    """This process's metrics, on, in a registry of the test's own."""
    instruments.disable()
    enabled = instruments.enable(CollectorRegistry(), ("test",))
    yield enabled
    instruments.disable()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'unit.sqlite'}")
    database.create_schema()
    yield database
    database.dispose()
