"""Keyset pagination: the rows after a marker row, in a multi-key sort order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Select, Table, and_, false, func, or_, select

from firebrick.domain.errors import MarkerNotFound

SortKeys = Sequence[tuple[Any, str]]  # (column, "asc" | "desc"), the unique id last


def after(marker: Row[Any], keys: SortKeys) -> ColumnElement[bool]:
    """Rows strictly after ``marker`` in the order of ``keys`` (NULLs sort first ascending)."""
    alternatives: list[ColumnElement[bool]] = []
    for i, (column, direction) in enumerate(keys):
        value = marker._mapping[column.name]
        equal_before = [c == marker._mapping[c.name] for c, _ in keys[:i]]
        step: ColumnElement[bool]
        if value is None:
            step = column.is_not(None) if direction == "asc" else false()
        else:
            step = column > value if direction == "asc" else column < value
            if direction == "desc":
                step = or_(step, column.is_(None))
        alternatives.append(and_(*equal_before, step))
    return or_(*alternatives)


def after_marker(
    conn: Connection, table: Table, marker: str, keys: SortKeys
) -> ColumnElement[bool]:
    """Rows after the row of ``table`` whose id is ``marker``; MarkerNotFound (404) if none."""
    row = conn.execute(select(table).where(table.c.id == marker)).first()
    if row is None:
        raise MarkerNotFound(marker)
    return after(row, keys)


def order_by(keys: SortKeys) -> list[Any]:
    return [c.asc().nulls_first() if d == "asc" else c.desc().nulls_last() for c, d in keys]


def fetch(
    conn: Connection,
    query: Select[Any],
    clauses: Sequence[ColumnElement[bool]],
    keys: SortKeys,
    limit: int | None,
    offset: int,
) -> list[Row[Any]]:
    """One page: ``query`` filtered by ``clauses``, sorted by ``keys``."""
    if clauses:
        query = query.where(and_(*clauses))
    query = query.order_by(*order_by(keys))
    if limit is not None:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    return list(conn.execute(query).all())


def count(conn: Connection, table: Table, clauses: Sequence[ColumnElement[bool]]) -> int:
    query = select(func.count()).select_from(table)
    if clauses:
        query = query.where(and_(*clauses))
    return int(conn.execute(query).scalar_one())
