from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from firebrick.metrics import instruments


@pytest.fixture
def metrics() -> Iterator[instruments.Metrics]:
    """This process's metrics, on, in a registry of the test's own."""
    instruments.disable()
    enabled = instruments.enable(CollectorRegistry(), ("test",))
    yield enabled
    instruments.disable()
