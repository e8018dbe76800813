"""What a volume service does for attachments: export volumes through its target.

The API records the attachment and waits for this worker to fill in its connection info
(or an error); the target's secret lives only in that row and the target itself.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from firebrick.db import attachments, qos, volumes
from firebrick.db.engine import Database
from firebrick.domain import qos as qos_rules
from firebrick.domain import statuses
from firebrick.notifier import Notifier, volume_usage
from firebrick.targets.base import Credentials, InvalidConnector, Target
from firebrick.volume.drivers.base import VolumeDriver

LOG = logging.getLogger("firebrick.volume")


def connection_info(
    protocol: str,
    data: dict[str, Any],
    mode: str,
    *,
    qos_specs: dict[str, Any] | None = None,
    encrypted: bool = False,
) -> dict[str, Any]:
    """Cinder's connection_info: the target's data plus what the manager always adds
    (``qos_specs``: the front-end specs of the volume's type, for the hypervisor)."""
    return {
        "driver_volume_type": protocol,
        "data": {
            **data,
            "access_mode": mode,
            "encrypted": encrypted,
            "qos_specs": qos_specs,
            "cacheable": False,
        },
    }


@dataclass
class AttachWorker:
    db: Database
    driver: VolumeDriver
    target: Target
    notifier: Notifier
    backend: str
    _started: bool = False

    def _start_target(self) -> None:
        # Started on first use: a backend nobody attaches to needs no target daemon.
        if not self._started:
            self.target.start()
            self._started = True

    def started_target(self) -> Target:
        """The target, started if it was not yet (a migration's export uses it too)."""
        self._start_target()
        return self.target

    def update(self, attachment_id: str) -> None:
        """Export the volume to the attachment's connector (attachment_update)."""
        with self.db.read() as conn:
            attachment = attachments.find(conn, attachment_id)
            volume = volumes.find(conn, attachment.volume_id) if attachment else None
            specs = qos.of_type(conn, volume.volume_type_id) if volume else None
        if attachment is None or volume is None or attachment.connector is None:
            return
        self.notifier.emit(f"volume.{self.backend}", "volume.attach.start", volume_usage(volume))
        mode = "ro" if volume.readonly else (attachment.attach_mode or "rw")
        if mode == "null":
            mode = str(attachment.connector.get("mode") or "rw")
        path, fmt = self.driver.local_path(volume)
        try:
            self._start_target()
            export = self.target.export(
                volume.id, path, fmt, attachment.id, attachment.connector,
                credentials=_stored_credentials(attachment.connection_info),
                readonly=mode == "ro", qos=qos_rules.back_end(specs, volume.size),
            )  # fmt: skip
        except InvalidConnector as exc:
            self._fail(attachment_id, f"Invalid input received: {exc}")
            return
        except Exception as exc:
            LOG.error("Volume %s: export for attachment %s failed on %s: %s",
                      volume.id, attachment_id, self.backend, type(exc).__name__)  # fmt: skip
            self._fail(attachment_id, "Unable to update attachment: the target could not export")
            return
        info = connection_info(
            self.target.protocol, dict(export.data), mode,
            qos_specs=qos_rules.front_end(specs, volume.size),
            encrypted=volume.encryption_key_id is not None,
        )  # fmt: skip
        with self.db.write() as conn:
            attachments.update(
                conn, attachment_id,
                {"connection_info": info, "attach_status": statuses.ATTACHING,
                 "attach_mode": mode, "error": None,
                 "attached_host": attachment.connector.get("host")},
            )  # fmt: skip
            attachments.recompute_volume_status(conn, volume.id)
        LOG.info("Volume %s: exported over %s for attachment %s",
                 volume.id, self.target.protocol, attachment_id)  # fmt: skip

    def _fail(self, attachment_id: str, message: str) -> None:
        with self.db.write() as conn:
            attachments.update(conn, attachment_id, {"error": message})

    def delete(self, attachment_id: str, *, keep_record: bool = False) -> None:
        """Remove the attachment's access, then its row (attachment_delete).

        ``keep_record`` (legacy os-terminate_connection) keeps the row, without its
        connection, for os-detach to finish.
        """
        with self.db.read() as conn:
            attachment = attachments.find(conn, attachment_id)
            volume = volumes.find(conn, attachment.volume_id) if attachment else None
        if attachment is None:
            return
        if volume is not None:
            self.notifier.emit(
                f"volume.{self.backend}", "volume.detach.start", volume_usage(volume)
            )
        try:
            self.target.unexport(attachment.volume_id, attachment_id)
        except Exception as exc:
            LOG.error("Volume %s: removing the export of attachment %s failed: %s",
                      attachment.volume_id, attachment_id, type(exc).__name__)  # fmt: skip
        with self.db.write() as conn:
            if keep_record:
                attachments.update(conn, attachment_id, {"connection_info": None})
            else:
                attachments.remove(conn, attachment_id)
                attachments.recompute_volume_status(conn, attachment.volume_id)

    def restore(self) -> None:
        """Re-create the exports of every attached volume (after a restart) and drop the rest."""
        with self.db.read() as conn:
            live = attachments.on_backend(conn, self.backend)
        if not live:
            return
        self._start_target()
        with self.db.read() as conn:
            wanted = {(a.volume_id, a.id): a for a in live}
            vols = {a.volume_id: volumes.find(conn, a.volume_id) for a in live}
            specs = {v.id: qos.of_type(conn, v.volume_type_id) for v in vols.values() if v}
        for (volume_id, attachment_id), attachment in wanted.items():
            volume = vols.get(volume_id)
            if volume is None or attachment.connector is None:
                continue
            path, fmt = self.driver.local_path(volume)
            try:
                self.target.export(
                    volume_id, path, fmt, attachment_id, attachment.connector,
                    credentials=_stored_credentials(attachment.connection_info),
                    readonly=attachment.attach_mode == "ro",
                    qos=qos_rules.back_end(specs.get(volume_id), volume.size),
                )  # fmt: skip
            except Exception as exc:
                LOG.error("Volume %s: could not restore the export of attachment %s: %s",
                          volume_id, attachment_id, type(exc).__name__)  # fmt: skip
        for volume_id, attachment_ids in self.target.exported().items():
            for attachment_id in attachment_ids - {a for (v, a) in wanted if v == volume_id}:
                self.target.unexport(volume_id, attachment_id)


def _stored_credentials(info: dict[str, Any] | None) -> Credentials | None:
    """The CHAP account (iSCSI) or TLS-PSK identity (NBD) an earlier export handed out."""
    data = (info or {}).get("data") or {}
    for user, secret in (("auth_username", "auth_password"), ("tls_psk_identity", "tls_psk_key")):
        if data.get(user) and data.get(secret):
            return Credentials(str(data[user]), str(data[secret]))
    return None
