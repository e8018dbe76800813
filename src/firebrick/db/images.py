"""Volume image metadata (Cinder's volume_glance_metadata) and image-volume cache entries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, exists, insert, select, update
from sqlalchemy.sql.elements import ColumnElement

from firebrick.db.keyvalue import KeyValues
from firebrick.db.schema import image_volume_cache_entries as entries
from firebrick.db.schema import volume_glance_metadata, volumes

GLANCE_METADATA = KeyValues(volume_glance_metadata, "volume_id")


def of_volumes(conn: Connection, volume_ids: Sequence[str]) -> dict[str, dict[str, str]]:
    """The image metadata of each volume (an empty dict for one not made from an image)."""
    return GLANCE_METADATA.of(conn, list(volume_ids))


def of_volume(conn: Connection, volume_id: str) -> dict[str, str]:
    return of_volumes(conn, [volume_id])[volume_id]


def set_metadata(conn: Connection, volume_id: str, items: Mapping[str, str]) -> None:
    GLANCE_METADATA.set(conn, volume_id, items, replace=False)


def replace_metadata(conn: Connection, volume_id: str, items: Mapping[str, str]) -> None:
    GLANCE_METADATA.set(conn, volume_id, items, replace=True)


def delete_key(conn: Connection, volume_id: str, key: str) -> bool:
    return GLANCE_METADATA.delete_key(conn, volume_id, key)


def filter_clauses(wanted: Mapping[str, str]) -> list[ColumnElement[bool]]:
    """``glance_metadata`` list filter: volumes having every key with that value."""
    return [
        exists().where(
            volume_glance_metadata.c.volume_id == volumes.c.id,
            volume_glance_metadata.c.key == str(key),
            volume_glance_metadata.c.value == str(value),
        )
        for key, value in wanted.items()
    ]


# ---------------------------------------------------------------------------------------
# image-volume cache


@dataclass(frozen=True)
class CacheEntry:
    id: str
    host: str
    image_id: str
    image_updated_at: str | None
    checksum: str | None
    size: int
    last_used: datetime


def _entry(row: Any) -> CacheEntry:
    return CacheEntry(row.id, row.host, row.image_id, row.image_updated_at, row.checksum,
                      int(row.size), row.last_used)  # fmt: skip


def find_entry(conn: Connection, host: str, image_id: str) -> CacheEntry | None:
    row = conn.execute(
        select(entries).where(entries.c.host == host, entries.c.image_id == image_id)
    ).first()
    return _entry(row) if row is not None else None


def entries_of(conn: Connection, host: str) -> list[CacheEntry]:
    """A backend's entries, least recently used first."""
    rows = conn.execute(
        select(entries).where(entries.c.host == host).order_by(entries.c.last_used, entries.c.id)
    )
    return [_entry(r) for r in rows]


def add_entry(conn: Connection, entry: CacheEntry) -> None:
    conn.execute(insert(entries).values(
        id=entry.id, host=entry.host, image_id=entry.image_id,
        image_updated_at=entry.image_updated_at, checksum=entry.checksum, size=entry.size,
        last_used=entry.last_used,
    ))  # fmt: skip


def touch_entry(conn: Connection, entry_id: str, when: datetime) -> None:
    conn.execute(update(entries).where(entries.c.id == entry_id).values(last_used=when))


def remove_entry(conn: Connection, entry_id: str) -> bool:
    return conn.execute(delete(entries).where(entries.c.id == entry_id)).rowcount > 0
