"""Log lines read as the standard library's formatter writes them."""

from __future__ import annotations

import logging

import pytest

from firebrick import logs


@pytest.mark.parametrize(
    "created", [1_765_000_000.0, 1_765_000_000.999, 1_765_000_001.0004, 1_765_003_599.5]
)
def test_the_same_text_as_logging_formatter(created: float) -> None:
    record = logging.LogRecord("firebrick.volume", logging.INFO, __file__, 1, "m %s", ("x",), None)
    record.created = created
    record.msecs = (created - int(created)) * 1000
    ours, theirs = logs.Formatter(), logging.Formatter(logs.FORMAT)
    assert ours.format(record) == theirs.format(record)
    # Again within the same second (the cached part) and in the next one.
    for later in (created + 0.0001, created + 1.0):
        record.created = later
        record.msecs = (later - int(later)) * 1000
        assert ours.format(record) == theirs.format(record)
