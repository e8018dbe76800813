"""Restoring a backup onto a volume: ``restore_backup`` → the volume service's device →
``continue_restore``.

| step | does | on failure |
| --- | --- | --- |
| restore_backup | checks that the backup is ``restoring`` into this volume and the volume is ``restoring-backup`` (or ``creating``: a new volume), emits backup.restore.start, asks the volume's service for the device | the volume ``error_restoring`` (a new one ``error``), the backup ``available`` |
| continue_restore | reads the chain's manifests and digests, writes every block once, each checked against its SHA-256 first | the same, with a user message naming the cause |
| finish | the volume ``available`` with the backed-up metadata (and image metadata: bootable), the backup ``available``, backup.restore.end | — |
"""  # noqa: E501

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from firebrick.backup import ceph_backup, devices
from firebrick.backup.chunked import CorruptBackup, Manifest, metadata_name
from firebrick.backup.context import RESTORE_FAILED, RESTORE_INVALID_VOLUME, BackupContext
from firebrick.backup.drivers.base import ObjectMissing
from firebrick.backup.drivers.ceph import CephStore
from firebrick.backup.restore import ChunkedRestore, Layer
from firebrick.db import backups, images, volumes
from firebrick.domain import backups as domain
from firebrick.domain import statuses
from firebrick.domain.backups import Backup
from firebrick.domain.model import Volume

LOG = logging.getLogger("firebrick.backup")
MAX_CHAIN = 1000


@dataclass
class BackupRestorer:
    ctx: BackupContext

    def restore(self, backup_id: str, volume_id: str) -> None:
        ctx = self.ctx
        with ctx.db.read() as conn:
            found = backups.find(conn, backup_id)
            volume = volumes.find(conn, volume_id)
        if found is None or volume is None:
            return
        if found.status != domain.RESTORING or found.restore_volume_id != volume_id:
            return  # a duplicate request, or one that ended meanwhile
        LOG.info("Restore backup started, backup: %s volume: %s.", backup_id, volume_id)
        ctx.notify("restore.start", found)
        if volume.status not in (domain.VOLUME_RESTORING, statuses.CREATING):
            self.fail(found, volume, f"Restore backup aborted, expected volume status "
                      f"restoring-backup,creating but got {volume.status}.",
                      RESTORE_INVALID_VOLUME)  # fmt: skip
            return
        ctx.to_volume_service(volume.host, "backup_device", backup_id=backup_id,
                              purpose="restore", requester=ctx.host)  # fmt: skip

    def continue_restore(self, backup_id: str) -> None:
        ctx = self.ctx
        with ctx.only_once(f"restore-{backup_id}") as first:
            if not first:
                return
            with ctx.db.read() as conn:
                found = backups.find(conn, backup_id)
                device = backups.device(conn, backup_id)
                volume = volumes.find(conn, found.restore_volume_id or "") if found else None
            if found is None or volume is None or device is None:
                return
            if found.status != domain.RESTORING:
                return
            if "error" in device:
                self.fail(found, volume, f"the volume service could not hand the volume: "
                                         f"{device['error']}", RESTORE_FAILED)  # fmt: skip
                return
            try:
                with ctx.operation():
                    meta = self._write(found, volume, device)
            except Exception as exc:
                LOG.exception("Restoring backup %s to volume %s failed", backup_id, volume.id)
                reason = str(exc) or type(exc).__name__
                if isinstance(exc, CorruptBackup):
                    reason = f"the backup is corrupt or incomplete: {reason}"
                self.fail(found, volume, reason, RESTORE_FAILED)
                return
            self._finish(found, volume, meta)

    def chain(self, found: Backup) -> list[Layer]:
        """The backup and its ancestors' manifests, full first, read from the store."""
        container, manifest = self.ctx.manifest_of(found)
        layers = [Layer(container, manifest)]
        while manifest.parent is not None:
            if len(layers) > MAX_CHAIN:
                raise CorruptBackup("the chain of incrementals does not end")
            container, prefix = manifest.parent["container"], manifest.parent["prefix"]
            try:
                data = self.ctx.read_object(container, metadata_name(prefix))
            except ObjectMissing:
                raise CorruptBackup(f"the parent backup {manifest.parent['id']} is missing") \
                    from None  # fmt: skip
            manifest = Manifest.from_bytes(data)
            layers.append(Layer(container, manifest))
        return layers[::-1]

    def _write(self, found: Backup, volume: Volume, device: dict[str, Any]) -> dict[str, Any]:
        ctx = self.ctx
        if isinstance(ctx.store, CephStore):
            assert ctx.settings.work_dir is not None
            try:
                return ceph_backup.restore(ctx.store, found, device,
                                           volume.status == statuses.CREATING,
                                           ctx.settings.work_dir,
                                           ctx.progress(ctx.settings.progress_interval,
                                                        lambda _done: None))  # fmt: skip
            except ObjectMissing as exc:
                raise CorruptBackup(str(exc)) from None
        try:
            layers = self.chain(found)
        except ObjectMissing:
            raise CorruptBackup("its manifest is missing") from None
        newest = layers[-1]
        try:
            digests = ctx.digests_of(newest.container, found.service_metadata or "")
        except ObjectMissing:
            raise CorruptBackup("its block digests are missing") from None
        if hashlib.sha256(digests).hexdigest() != newest.manifest.sha256file:
            raise CorruptBackup("its block digests do not match their recorded SHA-256")
        if newest.manifest.size > int(device["size"]):
            raise CorruptBackup("the volume is smaller than the backup")
        is_new = volume.status == statuses.CREATING
        restore = ChunkedRestore(ctx.store, layers, digests)

        def touch(done: int) -> None:
            # A volume being created must not look stuck to the scheduler's reconciler.
            with ctx.db.write() as conn:
                volumes.update(conn, volume.id, {}, expected={"status": volume.status})

        assert ctx.settings.work_dir is not None
        with devices.open_target(device, ctx.settings.work_dir) as target:
            restore.run(target, is_new, ctx.progress(ctx.settings.progress_interval, touch))
        LOG.info("Backup %s: restored %d bytes into volume %s", found.id,
                 newest.manifest.size, volume.id)  # fmt: skip
        return newest.manifest.volume_meta

    def _finish(self, found: Backup, volume: Volume, meta: dict[str, Any]) -> None:
        ctx = self.ctx
        base = meta.get("base") or {}
        glance = meta.get("glance") or {}
        values: dict[str, Any] = {"status": statuses.AVAILABLE}
        if volume.status == statuses.CREATING:
            values["launched_at"] = volumes.now()
        if glance or base.get("bootable"):
            values["bootable"] = True
        name = volume.name or ""
        if base.get("display_name") and (not name or name.startswith("restore_backup_")):
            values["display_name"] = base["display_name"]
            values["display_description"] = base.get("display_description")
        with ctx.db.write() as conn:
            done = volumes.update(conn, volume.id, values,
                                  expected={"status": volume.status})  # fmt: skip
            if done:
                kept = dict(meta.get("metadata") or {})
                if found.volume_id != volume.id:
                    kept["src_backup_id"] = found.id
                volumes.set_metadata(conn, volume.id, kept, replace=True)
                if glance:
                    images.replace_metadata(conn, volume.id, glance)
            backups.update(conn, found.id, {"status": domain.AVAILABLE, "device": None},
                           expected=domain.RESTORING)  # fmt: skip
            finished = backups.find(conn, found.id)
        LOG.info("Finished restoring backup %s to volume %s.", found.id, volume.id)
        if finished is not None:
            ctx.notify("restore.end", finished)
        self._release(found, volume)

    def fail(self, found: Backup, volume: Volume, reason: str, event_id: str) -> None:
        ctx = self.ctx
        LOG.error("Restore of backup %s to volume %s failed: %s", found.id, volume.id, reason)
        status = statuses.ERROR if volume.status == statuses.CREATING else statuses.ERROR_RESTORING
        with ctx.db.write() as conn:
            volumes.update(
                conn,
                volume.id,
                {"status": status},
                expected={"status": (domain.VOLUME_RESTORING, statuses.CREATING)},
            )
            backups.update(conn, found.id, {"status": domain.AVAILABLE, "device": None},
                           expected=domain.RESTORING)  # fmt: skip
        ctx.message(found, event_id, reason)
        self._release(found, volume)

    def _release(self, found: Backup, volume: Volume) -> None:
        self.ctx.to_volume_service(volume.host, "release_backup_device", backup_id=found.id,
                                   success=True, purpose="restore")  # fmt: skip
