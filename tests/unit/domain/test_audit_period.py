"""Cinder's last_completed_audit_period."""

from __future__ import annotations

from datetime import datetime

import pytest

from firebrick.domain.audit_period import last_completed

NOW = datetime(2026, 3, 15, 9, 7, 30)


@pytest.mark.parametrize(
    ("unit", "begin", "end"),
    [
        ("hour", datetime(2026, 3, 15, 8), datetime(2026, 3, 15, 9)),
        ("hour@30", datetime(2026, 3, 15, 7, 30), datetime(2026, 3, 15, 8, 30)),
        ("day", datetime(2026, 3, 14), datetime(2026, 3, 15)),
        ("day@18", datetime(2026, 3, 13, 18), datetime(2026, 3, 14, 18)),
        ("month", datetime(2026, 2, 1), datetime(2026, 3, 1)),
        ("month@20", datetime(2026, 1, 20), datetime(2026, 2, 20)),
        ("year", datetime(2025, 1, 1), datetime(2026, 1, 1)),
        ("year@3", datetime(2025, 3, 1), datetime(2026, 3, 1)),
        ("year@6", datetime(2024, 6, 1), datetime(2025, 6, 1)),
    ],
)
def test_periods(unit: str, begin: datetime, end: datetime) -> None:
    assert last_completed(unit, NOW) == (begin, end)


def test_january_looks_back_into_last_year() -> None:
    assert last_completed("month", datetime(2026, 1, 10)) == (
        datetime(2025, 12, 1),
        datetime(2026, 1, 1),
    )
    assert last_completed("month", datetime(2026, 1, 1)) == (
        datetime(2025, 11, 1),
        datetime(2025, 12, 1),
    )


def test_unknown_unit() -> None:
    with pytest.raises(ValueError, match="hour, day, month or year"):
        last_completed("week", NOW)
