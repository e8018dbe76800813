"""The api role's side of attachments (3.27+) and of the legacy attach actions.

Reserving, completing and forgetting an attachment are changes of record made here;
exporting to a connector and removing an export need the volume's backend: the API casts
to its volume service and waits for the attachment row to show the outcome, a call made
of a cast and the database (so it works the same over the in-process bus and RabbitMQ).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any

from firebrick.context import RequestContext
from firebrick.db import attachments, volumes
from firebrick.db.attachments import Attachment
from firebrick.db.engine import Database
from firebrick.domain import migration, statuses
from firebrick.domain.errors import Conflict, FirebrickError, Invalid, InvalidVolume
from firebrick.domain.model import Volume
from firebrick.notifier import Notifier, volume_usage
from firebrick.rpc.bus import Bus, cast_or_defer, volume_topic

WAIT_SECONDS = 30.0


class BackendTimeout(FirebrickError):
    code = 500


@dataclass
class AttachmentAPI:
    db: Database
    bus: Bus
    notifier: Notifier
    host: str

    def _project(self, ctx: RequestContext) -> str | None:
        return None if ctx.is_admin else ctx.project_id

    def get(self, ctx: RequestContext, attachment_id: str) -> Attachment:
        with self.db.read() as conn:
            return attachments.get(conn, attachment_id, self._project(ctx))

    def list_attachments(self, ctx: RequestContext, filters: dict[str, str]) -> list[Attachment]:
        all_tenants = filters.pop("all_tenants", "") not in ("", "0", "false", "False")
        project = None if (ctx.is_admin and all_tenants) else ctx.project_id
        with self.db.read() as conn:
            return attachments.list_attachments(conn, project, filters)

    def reserve(
        self, ctx: RequestContext, volume_id: str, instance_uuid: str | None, mode: str
    ) -> Attachment:
        """Create the attachment ``reserved``; the volume goes ``reserved`` unless attached."""
        attachment_id = str(uuid.uuid4())
        with self.db.write() as conn:
            volume = volumes.get(conn, volume_id, self._project(ctx))
            if "error" in volume.status:
                raise InvalidVolume(f"Volume {volume_id} is in status {volume.status}.")
            if migration.is_migrating(volume.migration_status):
                # Its data is being copied to another backend: writes would be lost.
                raise InvalidVolume(
                    f"Volume {volume_id} is migrating; it can be attached once its "
                    "migration has ended."
                )
            allowed = {statuses.AVAILABLE, statuses.DOWNLOADING}
            if volume.multiattach:
                allowed |= {statuses.IN_USE, statuses.RESERVED}
            existing = attachments.of_volume(conn, volume_id)
            same_instance = instance_uuid is not None and any(
                a.instance_uuid == instance_uuid for a in existing
            )
            if volume.status not in allowed and not (
                same_instance and volume.status in (statuses.IN_USE, statuses.RESERVED)
            ):
                raise InvalidVolume(
                    f"Volume {volume_id} status must be available or downloading to reserve, "
                    f"but the current status is {volume.status}."
                )
            attachments.insert_attachment(
                conn,
                {"id": attachment_id, "volume_id": volume_id, "project_id": volume.project_id,
                 "instance_uuid": instance_uuid, "attach_mode": mode,
                 "attach_status": statuses.RESERVED},
            )  # fmt: skip
            attachments.recompute_volume_status(conn, volume_id)
            return attachments.get(conn, attachment_id)

    def request_export(
        self, ctx: RequestContext, attachment_id: str, connector: dict[str, Any]
    ) -> Volume:
        """Record the connector and ask the backend to export (attachment_update)."""
        if not connector:
            raise Invalid("Invalid input received: connector must not be empty.")
        host = connector.get("host")
        if host is not None and not (isinstance(host, str) and len(host) <= 255):
            raise Invalid(f"Invalid input received: the connector's host {host!r} is invalid.")
        with self.db.write() as conn:
            attachment = attachments.get(conn, attachment_id, self._project(ctx))
            volume = volumes.get(conn, attachment.volume_id)
            if "error" in volume.status:
                raise Conflict(f"Volume {volume.id} is in status {volume.status}.")
            host = connector.get("host")
            if not volume.multiattach:
                others = [
                    a for a in attachments.of_volume(conn, volume.id)
                    if a.id != attachment_id and a.connection_info is not None
                    and a.attached_host != host
                ]  # fmt: skip
                if others:
                    raise Conflict(
                        f"Volume {volume.id} is not multiattach and is connected to another host."
                    )
            attachments.update(
                conn, attachment_id,
                {"connector": dict(connector), "error": None, "connection_info": None},
            )  # fmt: skip
        if volume.host is None:
            raise InvalidVolume(f"Volume {volume.id} is not placed on a backend.")
        cast_or_defer(self.bus, volume_topic(volume.host.split("#", 1)[0]), "attachment_update",
                      {"attachment_id": attachment_id})  # fmt: skip
        return volume

    async def wait_exported(self, attachment_id: str) -> Attachment:
        deadline = time.monotonic() + WAIT_SECONDS
        delay = 0.002
        while time.monotonic() < deadline:
            with self.db.read() as conn:
                attachment = attachments.get(conn, attachment_id)
            if attachment.error:
                message = attachment.error
                with self.db.write() as conn:
                    attachments.update(conn, attachment_id, {"error": None})
                if message.startswith("Invalid input"):
                    raise Invalid(message)
                raise BackendTimeout(message)
            if attachment.connection_info is not None:
                return attachment
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 0.05)
        raise BackendTimeout("Unable to update attachment: the volume service did not answer.")

    def complete(self, ctx: RequestContext, attachment_id: str) -> None:
        with self.db.write() as conn:
            attachment = attachments.get(conn, attachment_id, self._project(ctx))
            attachments.update(
                conn, attachment_id,
                {"attach_status": statuses.ATTACHED, "attach_time": volumes.now()},
            )  # fmt: skip
            attachments.recompute_volume_status(conn, attachment.volume_id)
            volume = volumes.get(conn, attachment.volume_id)
        self.notifier.emit(f"volume.{self.host}", "volume.attach.end", volume_usage(volume))

    def forget(self, attachment_id: str) -> None:
        """Drop an attachment the client never got (its create failed)."""
        with self.db.write() as conn:
            attachment = attachments.find(conn, attachment_id)
            if attachment is not None:
                attachments.remove(conn, attachment_id)
                attachments.recompute_volume_status(conn, attachment.volume_id)

    def request_delete(
        self, ctx: RequestContext, attachment_id: str, *, keep_record: bool = False
    ) -> tuple[str, bool]:
        """Forget a reserved attachment, or ask the backend to remove its export.

        Returns the volume id and whether the backend has work to do. ``keep_record``
        removes only the export (legacy os-terminate_connection; os-detach forgets it).
        """
        with self.db.write() as conn:
            attachment = attachments.get(conn, attachment_id, self._project(ctx))
            volume = volumes.get(conn, attachment.volume_id)
            if attachment.connection_info is None or volume.host is None:
                if keep_record:
                    return volume.id, False
                attachments.remove(conn, attachment_id)
                attachments.recompute_volume_status(conn, volume.id)
                if attachment.connector is None:
                    # Never exported: no backend emitted detach.start for it.
                    self.notifier.emit(f"volume.{self.host}", "volume.detach.start",
                                       volume_usage(volume))  # fmt: skip
                return volume.id, False
            if not keep_record:
                attachments.update(conn, attachment_id, {"attach_status": statuses.DETACHING})
        cast_or_defer(self.bus, volume_topic(volume.host.split("#", 1)[0]), "attachment_delete",
                      {"attachment_id": attachment_id, "keep_record": keep_record})  # fmt: skip
        return volume.id, True

    async def wait_deleted(self, attachment_id: str, *, keep_record: bool = False) -> None:
        """Until the row is gone (or, with ``keep_record``, has no connection left)."""
        deadline = time.monotonic() + WAIT_SECONDS
        delay = 0.002
        while time.monotonic() < deadline:
            with self.db.read() as conn:
                found = attachments.find(conn, attachment_id)
            if found is None or (keep_record and found.connection_info is None):
                return
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 0.05)
        raise BackendTimeout("Unable to delete attachment: the volume service did not answer.")

    def finish_detach(self, volume_id: str) -> list[Attachment]:
        with self.db.read() as conn:
            volume = volumes.get(conn, volume_id)
            left = attachments.of_volume(conn, volume_id)
        self.notifier.emit(f"volume.{self.host}", "volume.detach.end", volume_usage(volume))
        return left
