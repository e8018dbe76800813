"""Queries of managing and unmanaging: which storage names are already someone's."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from sqlalchemy import ColumnElement, Connection, func, or_, select

from firebrick.db.schema import snapshots, volumes

MANAGING = "managing"
UNMANAGING = "unmanaging"


def _on_backend(backend: str) -> ColumnElement[bool]:
    return or_(volumes.c.host.startswith(f"{backend}#", autoescape=True), volumes.c.host == backend)


def volume_sizes(conn: Connection, ids: Collection[str]) -> dict[str, int]:
    """id → size of the volumes among ``ids`` that exist (on any backend)."""
    if not ids:
        return {}
    query = select(volumes.c.id, volumes.c.size).where(volumes.c.id.in_(list(ids)))
    return {row.id: row.size for row in conn.execute(query)}


def snapshot_facts(conn: Connection, ids: Collection[str]) -> dict[str, tuple[int, str]]:
    """id → (size, volume id) of the snapshots among ``ids`` that exist."""
    if not ids:
        return {}
    query = select(snapshots.c.id, snapshots.c.volume_size, snapshots.c.volume_id).where(
        snapshots.c.id.in_(list(ids))
    )
    return {row.id: (row.volume_size, row.volume_id) for row in conn.execute(query)}


def being_managed(conn: Connection, backend: str, name: str) -> str | None:
    """The volume or snapshot of ``backend`` that is taking the storage ``name`` now.

    While it is being managed, a volume's or snapshot's ``provider_location`` is the name
    of the storage it takes (its journal: recovery repeats the manage from it).
    """
    volume = conn.execute(
        select(volumes.c.id).where(
            volumes.c.status == MANAGING, volumes.c.provider_location == name, _on_backend(backend)
        )
    ).first()  # fmt: skip
    if volume is not None:
        return f"volume {volume.id}"
    snapshot = conn.execute(
        select(snapshots.c.id)
        .join(volumes, volumes.c.id == snapshots.c.volume_id)
        .where(
            snapshots.c.status == MANAGING, snapshots.c.provider_location == name,
            _on_backend(backend),
        )
    ).first()  # fmt: skip
    return f"snapshot {snapshot.id}" if snapshot is not None else None


def volumes_in(conn: Connection, backend: str, statuses: Iterable[str]) -> list[str]:
    query = select(volumes.c.id).where(
        volumes.c.status.in_(list(statuses)),
        _on_backend(backend),
    )
    return [row.id for row in conn.execute(query)]


def snapshots_in(conn: Connection, backend: str, statuses: Iterable[str]) -> list[str]:
    query = (
        select(snapshots.c.id)
        .join(volumes, volumes.c.id == snapshots.c.volume_id)
        .where(snapshots.c.status.in_(list(statuses)), _on_backend(backend))
    )
    return [row.id for row in conn.execute(query)]


def hosts_of(conn: Connection, ids: Collection[str]) -> dict[str, str | None]:
    """Storage id → host of the volumes whose storage is named by one of ``ids`` (a
    volume's storage is named after its ``name_id`` once a migration swapped it)."""
    if not ids:
        return {}
    storage = func.coalesce(volumes.c.name_id, volumes.c.id)
    query = select(storage.label("storage"), volumes.c.host).where(storage.in_(list(ids)))
    return {row.storage: row.host for row in conn.execute(query)}
