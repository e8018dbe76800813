"""What the usage audit keeps of deleted volumes and snapshots (Cinder soft-deletes them).

``volumes.remove`` and ``snapshots.remove`` write the row here in the delete's own
transaction: the usage payload the resource had, with status ``deleted``, its creation and
its deletion time. A migration's temporary copy is counted against no quota and billed to
no one, so it is not kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from firebrick.db.schema.features import deleted_resources
from firebrick.domain.model import Snapshot, Volume


def record_volume(conn: Connection, volume: Volume, deleted_at: datetime) -> None:
    from firebrick.notifier import volume_usage

    if not volume.use_quota:
        return
    usage = volume_usage(volume, status="deleted")
    _record(conn, "volume", volume.id, volume.project_id, volume.created_at, deleted_at, usage)


def record_snapshot(
    conn: Connection, snapshot: Snapshot, availability_zone: str | None, deleted_at: datetime
) -> None:
    from firebrick.notifier import snapshot_usage

    usage = snapshot_usage(snapshot, availability_zone, status="deleted", deleted="True")
    _record(conn, "snapshot", snapshot.id, snapshot.project_id, snapshot.created_at,
            deleted_at, usage)  # fmt: skip


def _record(
    conn: Connection,
    resource_type: str,
    resource_id: str,
    project_id: str,
    created_at: datetime,
    deleted_at: datetime,
    usage: dict[str, Any],
) -> None:
    # A resource is deleted once; a delete redone after a crash finds its row gone and
    # does not come here again, but an id seen twice must not fail the delete either.
    exists = conn.execute(
        select(deleted_resources.c.id).where(
            deleted_resources.c.resource_type == resource_type,
            deleted_resources.c.id == resource_id,
        )
    ).first()
    if exists is None:
        conn.execute(insert(deleted_resources).values(
            resource_type=resource_type, id=resource_id, project_id=project_id,
            created_at=created_at, deleted_at=deleted_at, usage=usage,
        ))  # fmt: skip


def deleted_in_window(
    conn: Connection, resource_type: str, begin: datetime, end: datetime
) -> Iterator[tuple[datetime, datetime, dict[str, Any]]]:
    """(created_at, deleted_at, usage) of each resource of the type that was deleted after
    ``begin`` and created before ``end``: it existed at some time in the window."""
    query = (
        select(deleted_resources.c.created_at, deleted_resources.c.deleted_at,
               deleted_resources.c.usage)
        .where(deleted_resources.c.resource_type == resource_type,
               deleted_resources.c.deleted_at > begin,
               deleted_resources.c.created_at < end)
        .order_by(deleted_resources.c.deleted_at)
    )  # fmt: skip
    for row in conn.execute(query):
        yield row.created_at, row.deleted_at, dict(row.usage)
