"""``created_at``/``updated_at`` filters as SQL, the same on SQLite and PostgreSQL.

From 3.60 a time filter is ``{operator: datetime}`` (parsed by the API). Before it, Cinder
compares the raw string with the column: a value that is not a timestamp matches nothing
(PostgreSQL would refuse to compare a timestamp with any string at all).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, false

OPERATORS: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "gt": lambda c, v: c > v,
    "gte": lambda c, v: c >= v,
    "eq": lambda c, v: c == v,
    "neq": lambda c, v: c != v,
    "lt": lambda c, v: c < v,
    "lte": lambda c, v: c <= v,
}


def naive_utc(value: datetime) -> datetime:
    """An aware datetime as the naive UTC the columns hold."""
    if value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def clauses(column: Any, value: object) -> list[ColumnElement[bool]]:
    if isinstance(value, Mapping):
        return [OPERATORS[op](column, naive_utc(when)) for op, when in value.items()]
    if isinstance(value, datetime):
        return [column == naive_utc(value)]
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        return [false()]
    return [column == naive_utc(when)]
