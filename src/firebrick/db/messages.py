"""User messages: what a user reads when an asynchronous request failed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, insert, select

from firebrick.context import current_request_id, new_request_id
from firebrick.db.schema import messages
from firebrick.db.volumes import now

MESSAGE_TTL = timedelta(days=30)


@dataclass
class Message:
    id: str
    project_id: str
    request_id: str | None
    resource_type: str | None
    resource_uuid: str | None
    event_id: str
    message_level: str
    detail: str | None
    created_at: datetime
    expires_at: datetime | None


def add(
    conn: Connection,
    *,
    project_id: str,
    event_id: str,
    resource_uuid: str | None,
    detail: str | None,
    request_id: str | None = None,
    resource_type: str = "VOLUME",
    level: str = "ERROR",
) -> str:
    message_id = str(uuid.uuid4())
    request_id = request_id or current_request_id() or new_request_id()
    stamp = now()
    conn.execute(
        insert(messages).values(
            id=message_id, project_id=project_id, request_id=request_id,
            resource_type=resource_type, resource_uuid=resource_uuid, event_id=event_id,
            message_level=level, detail=detail, created_at=stamp,
            expires_at=stamp + MESSAGE_TTL,
        )
    )  # fmt: skip
    return message_id


def _to_message(row: object) -> Message:
    m = row._mapping  # type: ignore[attr-defined]
    return Message(**{k: m[k] for k in Message.__dataclass_fields__})


def list_messages(conn: Connection, project_id: str | None, resource_uuid: str | None = None
                  ) -> list[Message]:  # fmt: skip
    query = select(messages).order_by(messages.c.created_at.desc(), messages.c.id)
    if project_id is not None:
        query = query.where(messages.c.project_id == project_id)
    if resource_uuid:
        query = query.where(messages.c.resource_uuid == resource_uuid)
    return [_to_message(r) for r in conn.execute(query)]


def get(conn: Connection, message_id: str, project_id: str | None) -> Message | None:
    query = select(messages).where(messages.c.id == message_id)
    if project_id is not None:
        query = query.where(messages.c.project_id == project_id)
    row = conn.execute(query).first()
    return None if row is None else _to_message(row)


def remove(conn: Connection, message_id: str) -> None:
    conn.execute(delete(messages).where(messages.c.id == message_id))
