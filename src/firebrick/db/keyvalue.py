"""Key/value tables that hang off a resource (volume and snapshot metadata)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, Connection, Table, delete, insert, select

from firebrick.db.id_sets import IdsIn


@dataclass
class KeyValues:
    """The metadata rows of ``table``, whose ``owner`` column names the resource."""

    table: Table
    owner: str
    _many: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._many = IdsIn(self._owner, lambda owned: select(self.table).where(owned))

    @property
    def _owner(self) -> Column[Any]:
        column: Column[Any] = self.table.c[self.owner]
        return column

    def of(self, conn: Connection, owner_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        found: dict[str, dict[str, str]] = {i: {} for i in owner_ids}
        if owner_ids:
            for owner_id, key, value in self._many.execute(conn, owner_ids):
                found[owner_id][key] = value
        return found

    def set(
        self, conn: Connection, owner_id: str, items: Mapping[str, str], *, replace: bool
    ) -> None:
        """Merge ``items`` into the owner's, or ``replace`` them all."""
        query = delete(self.table).where(self._owner == owner_id)
        if not replace:
            query = query.where(self.table.c.key.in_(list(items)))
        conn.execute(query)
        if items:
            conn.execute(
                insert(self.table),
                [{self.owner: owner_id, "key": k, "value": v} for k, v in items.items()],
            )

    def delete_key(self, conn: Connection, owner_id: str, key: str) -> bool:
        query = delete(self.table).where(self._owner == owner_id, self.table.c.key == key)
        return conn.execute(query).rowcount > 0

    def clear(self, conn: Connection, owner_id: str) -> None:
        conn.execute(delete(self.table).where(self._owner == owner_id))
