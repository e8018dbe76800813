"""The pre-3.27 attach actions (os-reserve ... os-detach), on the attachments' rows.

Old clients (and old Nova) attach in steps: reserve, initialize the connection (export),
attach (record), and detach in reverse. Each step maps onto the same attachment records
and backend calls the attachments API uses.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from firebrick.api.attachment_api import AttachmentAPI
from firebrick.api.validation import is_uuid_like
from firebrick.context import RequestContext
from firebrick.db import attachments, volumes
from firebrick.db.attachments import Attachment
from firebrick.db.engine import Database
from firebrick.domain import statuses
from firebrick.domain.errors import Invalid, InvalidVolume
from firebrick.domain.model import Volume
from firebrick.notifier import volume_usage


@dataclass
class LegacyAttach:
    """The pre-3.27 actions (os-reserve ... os-detach) on top of the same attachment rows."""

    api: AttachmentAPI

    @property
    def db(self) -> Database:
        return self.api.db

    def reserve(self, ctx: RequestContext, volume_id: str) -> None:
        with self.db.write() as conn:
            volume = volumes.get(conn, volume_id, self.api._project(ctx))
            allowed = {statuses.AVAILABLE} | ({statuses.IN_USE} if volume.multiattach else set())
            if not volumes.update(conn, volume_id, {"status": statuses.ATTACHING},
                                  expected={"status": allowed}):  # fmt: skip
                raise InvalidVolume(
                    "Volume status must be available to reserve, but the status is "
                    f"{volume.status}."
                )

    def unreserve(self, ctx: RequestContext, volume_id: str) -> None:
        with self.db.write() as conn:
            volume = volumes.get(conn, volume_id, self.api._project(ctx))
            if volume.status == statuses.ATTACHING:
                attachments.recompute_volume_status(conn, volume_id)

    def _attachment_for(self, conn: Any, volume: Volume, host: str | None) -> Attachment | None:
        candidates = [
            a for a in attachments.of_volume(conn, volume.id)
            if host is None or a.attached_host == host or (a.connector or {}).get("host") == host
        ]  # fmt: skip
        return candidates[-1] if candidates else None

    async def initialize_connection(
        self, ctx: RequestContext, volume_id: str, body: object
    ) -> dict[str, Any]:
        connector = body.get("connector") if isinstance(body, dict) else None
        if not isinstance(connector, dict) or not connector:
            raise Invalid("Invalid input received: must specify a connector.")
        with self.db.write() as conn:
            volume = volumes.get(conn, volume_id, self.api._project(ctx))
            existing = self._attachment_for(conn, volume, connector.get("host"))
            if existing is None:
                attachment_id = str(uuid.uuid4())
                attachments.insert_attachment(
                    conn,
                    {"id": attachment_id, "volume_id": volume_id,
                     "project_id": volume.project_id, "attach_mode": "null",
                     "attach_status": statuses.ATTACHING},
                )  # fmt: skip
            else:
                attachment_id = existing.id
        try:
            self.api.request_export(ctx, attachment_id, connector)
            attachment = await self.api.wait_exported(attachment_id)
        except Exception:
            if existing is None:
                # A failed call leaves nothing behind (a stray row blocks the volume's delete).
                self.api.forget(attachment_id)
            raise
        return {"connection_info": attachment.connection_info}

    def attach(self, ctx: RequestContext, volume_id: str, body: object) -> None:
        if not isinstance(body, dict) or not body.get("mountpoint"):
            raise Invalid("Must specify 'mountpoint'")
        instance, host = body.get("instance_uuid"), body.get("host_name")
        if not instance and not host:
            raise Invalid("Invalid request to attach volume to an invalid target")
        uuid_ok = instance in (None, "") or (isinstance(instance, str) and is_uuid_like(instance))
        for name, value, valid in (
            ("mountpoint", body["mountpoint"], isinstance(body["mountpoint"], str)),
            ("instance_uuid", instance, uuid_ok),
            ("host_name", host, not host or isinstance(host, str)),
        ):
            if not valid or (isinstance(value, str) and len(value) > 255):
                raise Invalid(f"Invalid input received: invalid {name} {value!r}.")
        mode = body.get("mode", "rw")
        if mode not in ("rw", "ro"):
            raise Invalid("Invalid request to attach volume with an invalid mode.")
        with self.db.write() as conn:
            volume = volumes.get(conn, volume_id, self.api._project(ctx))
            if volume.readonly and mode != "ro":
                raise InvalidVolume("Volume is read-only: attach it with mode 'ro'.")
            if volume.status == statuses.IN_USE and not volume.multiattach:
                raise InvalidVolume(f"Volume {volume_id} is already attached.")
            found = self._attachment_for(conn, volume, host) or self._attachment_for(
                conn, volume, None
            )
            values = {"attach_status": statuses.ATTACHED, "instance_uuid": instance,
                      "mountpoint": body["mountpoint"], "attach_mode": mode,
                      "attach_time": volumes.now()}  # fmt: skip
            if host:
                values["attached_host"] = host
            if found is None:
                attachments.insert_attachment(
                    conn, {"id": str(uuid.uuid4()), "volume_id": volume_id,
                           "project_id": volume.project_id, **values},
                )  # fmt: skip
            else:
                attachments.update(conn, found.id, values)
            attachments.recompute_volume_status(conn, volume_id)
            attached = volumes.get(conn, volume_id)
        self.api.notifier.emit(f"volume.{self.api.host}", "volume.attach.end",
                               volume_usage(attached))  # fmt: skip

    def begin_detaching(self, ctx: RequestContext, volume_id: str) -> None:
        with self.db.write() as conn:
            volume = volumes.get(conn, volume_id, self.api._project(ctx))
            if not volumes.update(conn, volume_id, {"status": statuses.DETACHING},
                                  expected={"status": statuses.IN_USE,
                                            "attach_status": statuses.ATTACHED}):  # fmt: skip
                raise InvalidVolume(
                    f"Unable to detach volume. Volume status must be 'in-use' and attach_status "
                    f"must be 'attached' to detach (status is {volume.status})."
                )

    def roll_detaching(self, ctx: RequestContext, volume_id: str) -> None:
        with self.db.write() as conn:
            volume = volumes.get(conn, volume_id, self.api._project(ctx))
            if volume.status == statuses.DETACHING:
                attachments.recompute_volume_status(conn, volume_id)

    async def terminate_connection(self, ctx: RequestContext, volume_id: str, body: object) -> None:
        connector = body.get("connector") if isinstance(body, dict) else None
        host = connector.get("host") if isinstance(connector, dict) else None
        with self.db.read() as conn:
            volume = volumes.get(conn, volume_id, self.api._project(ctx))
            found = [
                a for a in attachments.of_volume(conn, volume.id)
                if a.connection_info is not None and (host is None or a.attached_host == host)
            ]  # fmt: skip
        for attachment in found:
            _, remote = self.api.request_delete(ctx, attachment.id, keep_record=True)
            if remote:
                await self.api.wait_deleted(attachment.id, keep_record=True)

    async def detach(self, ctx: RequestContext, volume_id: str, body: object) -> None:
        attachment_id = body.get("attachment_id") if isinstance(body, dict) else None
        with self.db.read() as conn:
            volume = volumes.get(conn, volume_id, self.api._project(ctx))
            present = attachments.of_volume(conn, volume.id)
        if attachment_id is None and len(present) > 1:
            raise InvalidVolume("Volume has multiple attachments: specify attachment_id.")
        targets = [a for a in present if attachment_id in (None, a.id)]
        for attachment in targets:
            _, remote = self.api.request_delete(ctx, attachment.id)
            if remote:
                await self.api.wait_deleted(attachment.id)
        with self.db.write() as conn:
            attachments.recompute_volume_status(conn, volume_id)
        self.api.finish_detach(volume_id)
