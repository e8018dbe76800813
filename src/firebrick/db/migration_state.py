"""The transitions of a migration that touch several rows, each one transaction.

Any role may run them (the scheduler when nothing fits, the destination when a copy
fails or finishes, the API on an admin's abort): each re-reads the journal row and does
nothing if another process got there first, so every migration ends exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from firebrick.db import attachments, messages, quotas, snapshots, types, volumes
from firebrick.db import volume_migrations as journal
from firebrick.db.volume_migrations import Migration
from firebrick.domain import migration, statuses
from firebrick.domain.errors import NotFound
from firebrick.domain.model import Volume

# Cinder has no user message for a failed migration; Firebrick's own action code.
MIGRATION_FAILED = "VOLUME_VOLUME_901_001"


@dataclass(frozen=True)
class Failed:
    """What is left to do outside the transaction once a migration has failed."""

    migration: Migration
    source: Volume | None
    target: Volume | None  # now ``deleting`` on the destination: its backend removes it


def fail(
    conn: Connection,
    volume_id: str,
    reason: str,
    *,
    phases: frozenset[str] | None = None,
    event_id: str = MIGRATION_FAILED,
) -> Failed | None:
    """End the migration of ``volume_id`` as failed; None if it is not in flight (any more).

    The source goes back to the status it had, with ``migration_status`` ``error`` (a
    retype that never got placed keeps its migration status, as in Cinder), and a retype
    gives back the per-type quota it took. The copy, if there is one, becomes an ordinary
    ``deleting`` volume of the destination.
    """
    found = journal.find(conn, volume_id)
    if found is None or not journal.remove(conn, volume_id, phases=phases):
        return None
    source = volumes.find(conn, volume_id)
    if source is not None:
        values: dict[str, Any] = {}
        if migration.is_migrating(source.migration_status):
            values["migration_status"] = migration.ERROR
        if source.status in migration.LOCKED_STATUSES:
            values["status"] = source.previous_status or statuses.AVAILABLE
        if values:
            volumes.update(conn, volume_id, values)
        if found.new_type_id is not None:
            moved = migration.retype_usage(
                source.size, source.volume_type_name, _type_name(conn, found.new_type_id)
            )
            quotas.add_usage(conn, source.project_id, {k: -v for k, v in moved.items()})
        messages.add(conn, project_id=source.project_id, event_id=event_id,
                     resource_uuid=volume_id, detail=reason)  # fmt: skip
    target = volumes.find(conn, found.target_id) if found.target_id else None
    if target is not None and target.migration_status == migration.target_status(volume_id):
        volumes.update(
            conn, target.id,
            {"status": statuses.DELETING, "migration_status": migration.DELETING},
        )  # fmt: skip
        target = volumes.get(conn, target.id)
    else:
        target = None
    return Failed(found, source, target)


def swap(conn: Connection, found: Migration, source: Volume, target: Volume) -> str | None:
    """Point the source's record at the copy's storage and the copy's record at the old
    storage (Cinder's finish_volume_migration); the reason if the source changed meanwhile.

    The copy's row, now holding the old storage on the source's pool, goes ``deleting``.
    Nothing is written unless the swap happens, so the caller can fail the migration.
    """
    current = journal.find(conn, found.volume_id)
    if current is None or current.phase != migration.COPYING:
        return "the migration was aborted"
    if source.size != target.size:
        return f"the volume was extended to {source.size} GiB during the migration"
    if snapshots.of_volume(conn, source.id):
        return "the volume has snapshots"
    if attachments.of_volume(conn, source.id):
        return "the volume was attached during the migration"
    back_to = source.previous_status if source.status in migration.LOCKED_STATUSES else None
    moved = volumes.update(
        conn,
        source.id,
        {
            "host": target.host,
            "availability_zone": target.availability_zone,
            "name_id": target.storage_id,
            "volume_type_id": target.volume_type_id,
            "provider_location": target.provider_location,
            "migration_status": migration.SUCCESS,
            "status": back_to or source.status,
            "previous_status": source.status,
        },
        expected={
            "status": source.status,
            "host": source.host,
            "migration_status": migration.MIGRATING,
            "size": source.size,
        },
    )
    if not moved:
        return "the volume changed during the migration"
    journal.remove(conn, found.volume_id)
    volumes.update(
        conn,
        target.id,
        {
            "host": source.host,
            "availability_zone": source.availability_zone,
            "name_id": source.storage_id,
            "provider_location": source.provider_location,
            "status": statuses.DELETING,
            "migration_status": migration.DELETING,
            "display_description": f"migration src for {source.id}",
        },
    )
    return None


def _type_name(conn: Connection, type_id: str) -> str | None:
    try:
        return types.get(conn, type_id).name
    except NotFound:
        return None
