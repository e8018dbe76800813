"""The most recently completed audit period, as Cinder's ``last_completed_audit_period``.

``unit`` is ``hour``, ``day``, ``month`` or ``year``, optionally with an offset:
``day@18`` begins each day at 18:00 UTC, ``month@15`` on the 15th, ``year@3`` on March 1st,
``hour@30`` at half past. Times are naive UTC.
"""

from __future__ import annotations

from datetime import datetime, timedelta

UNITS = ("hour", "day", "month", "year")


def _month_before(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


def last_completed(unit: str, now: datetime) -> tuple[datetime, datetime]:
    """(begin, end) of the last period of ``unit`` that ended before ``now``."""
    name, _, raw_offset = unit.partition("@")
    if name not in UNITS:
        raise ValueError("Time period must be hour, day, month or year")
    offset = int(raw_offset) if raw_offset else 0
    if name == "hour":
        end = now.replace(minute=offset, second=0, microsecond=0)
        if end >= now:
            end -= timedelta(hours=1)
        return end - timedelta(hours=1), end
    if name == "day":
        end = datetime(now.year, now.month, now.day, offset)
        if end >= now:
            end -= timedelta(days=1)
        return end - timedelta(days=1), end
    if name == "month":
        day = offset or 1
        end = datetime(now.year, now.month, day)
        if end >= now:
            end = datetime(*_month_before(now.year, now.month), day)
        return datetime(*_month_before(end.year, end.month), day), end
    month = offset or 1
    end = datetime(now.year, month, 1)
    if end >= now:
        end = datetime(now.year - 1, month, 1)
    return datetime(end.year - 1, month, 1), end
