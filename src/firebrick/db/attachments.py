"""Reading and writing attachment rows, and the volume status they imply."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select
from sqlalchemy import update as sql_update

from firebrick.db import volumes
from firebrick.db.id_sets import IdsIn
from firebrick.db.schema import attachments
from firebrick.db.schema import volumes as volumes_table
from firebrick.db.volumes import now
from firebrick.domain.errors import NotFound


class AttachmentNotFound(NotFound):
    def __init__(self, attachment_id: str) -> None:
        super().__init__(f"Volume attachment {attachment_id} could not be found.")


@dataclass
class Attachment:
    id: str
    volume_id: str
    project_id: str
    attach_status: str
    attach_mode: str
    created_at: datetime
    instance_uuid: str | None = None
    attached_host: str | None = None
    mountpoint: str | None = None
    connector: dict[str, Any] | None = None
    connection_info: dict[str, Any] | None = None
    error: str | None = None
    attach_time: datetime | None = None
    updated_at: datetime | None = None

    def __repr__(self) -> str:  # connection_info carries the target's secret
        return f"Attachment({self.id!r}, volume={self.volume_id!r}, status={self.attach_status!r})"


def _to_attachment(row: Row[Any]) -> Attachment:
    m = row._mapping
    return Attachment(**{k: m[k] for k in Attachment.__dataclass_fields__})


def insert_attachment(conn: Connection, values: Mapping[str, Any]) -> None:
    conn.execute(insert(attachments), {"created_at": now(), **values})


def get(conn: Connection, attachment_id: str, project_id: str | None = None) -> Attachment:
    query = select(attachments).where(attachments.c.id == attachment_id)
    if project_id is not None:
        query = query.where(attachments.c.project_id == project_id)
    row = conn.execute(query).first()
    if row is None:
        raise AttachmentNotFound(attachment_id)
    return _to_attachment(row)


def find(conn: Connection, attachment_id: str) -> Attachment | None:
    row = conn.execute(select(attachments).where(attachments.c.id == attachment_id)).first()
    return None if row is None else _to_attachment(row)


def of_volume(conn: Connection, volume_id: str) -> list[Attachment]:
    query = select(attachments).where(attachments.c.volume_id == volume_id)
    return [_to_attachment(r) for r in conn.execute(query.order_by(attachments.c.created_at))]


def list_attachments(
    conn: Connection, project_id: str | None, filters: Mapping[str, str]
) -> list[Attachment]:
    query = select(attachments).order_by(attachments.c.created_at.desc(), attachments.c.id)
    if project_id is not None:
        query = query.where(attachments.c.project_id == project_id)
    columns = {"volume_id": "volume_id", "instance_id": "instance_uuid",
               "status": "attach_status", "attach_status": "attach_status"}  # fmt: skip
    for key, value in filters.items():
        if key in columns:
            query = query.where(attachments.c[columns[key]] == value)
    return [_to_attachment(r) for r in conn.execute(query)]


def on_backend(conn: Connection, backend: str) -> list[Attachment]:
    """Attachments with a live export on ``backend`` (what a restart must re-create)."""
    query = (
        select(attachments)
        .join(volumes_table, volumes_table.c.id == attachments.c.volume_id)
        .where(
            volumes_table.c.host.startswith(f"{backend}#", autoescape=True),
            attachments.c.connection_info.is_not(None),
        )
    )
    return [_to_attachment(r) for r in conn.execute(query)]


def update(
    conn: Connection, attachment_id: str, values: Mapping[str, Any], *, expected: str | None = None
) -> bool:
    query = sql_update(attachments).where(attachments.c.id == attachment_id)
    if expected is not None:
        query = query.where(attachments.c.attach_status == expected)
    return conn.execute(query.values(updated_at=now(), **values)).rowcount > 0


def remove(conn: Connection, attachment_id: str) -> None:
    conn.execute(delete(attachments).where(attachments.c.id == attachment_id))


# Cinder's _get_statuses_from_attachments: the alphabetically first non-error status wins.
_VOLUME_STATUS = {"attached": "in-use", "detached": "available"}


def recompute_volume_status(conn: Connection, volume_id: str) -> None:
    """Set the volume's status and attach_status from the attachments it has left."""
    left = sorted(
        a.attach_status
        for a in of_volume(conn, volume_id)
        if not a.attach_status.startswith("error")
    )
    attach_status = left[0] if left else "detached"
    status = _VOLUME_STATUS.get(attach_status, attach_status)
    volumes.update(conn, volume_id, {"status": status, "attach_status": attach_status})


_ATTACHED_TO = IdsIn(
    attachments.c.volume_id,
    lambda of_volumes: select(attachments).where(
        of_volumes, attachments.c.attach_status == "attached"
    ),
)


def attached_to(conn: Connection, volume_ids: list[str]) -> dict[str, list[Attachment]]:
    """The ``attached`` attachments of each volume (what a volume's detail lists)."""
    found: dict[str, list[Attachment]] = {}
    if volume_ids:
        for row in _ATTACHED_TO.execute(conn, volume_ids):
            attachment = _to_attachment(row)
            found.setdefault(attachment.volume_id, []).append(attachment)
    return found
