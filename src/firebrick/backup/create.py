"""Creating a backup: Cinder's ``create_backup`` → the volume service's device →
``continue_backup``, which reads, stores and finishes.

| step | does | on failure |
| --- | --- | --- |
| create_backup | checks the backup and its volume (or snapshot), emits backup.create.start, asks the volume's service for the device | backup ``error``, the volume back to its previous status |
| continue_backup | finds what to read (the whole data, or what changed since the parent), writes the objects, the digests and then the manifest | the same, with a user message naming the cause; what was stored is removed |
| finish | backup ``available`` with its size and object count, the volume back to its previous status, backup.create.end | — |

How an incremental finds what changed, best first: the extent maps of the new point and
the parent's point (raw volumes on a reflink filesystem); the allocation of the qcow2
layers above the parent's point; librbd's ``diff_iterate`` between the parent's and the
new snapshot (RBD volumes); else every data range of the volume is read (holes are
skipped) and each block's digest compared with the parent's, as Cinder does.
"""  # noqa: E501

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from firebrick.backup import ceph_backup, chunked, devices
from firebrick.backup.chunked import Manifest, Range, align
from firebrick.backup.context import (
    CREATE_FAILED,
    CREATE_INVALID,
    DEVICE_FAILED,
    BackupContext,
)
from firebrick.backup.drivers.ceph import CephStore
from firebrick.backup.rbd_device import RbdSource
from firebrick.backup.sources import FileSource, Qcow2Source
from firebrick.backup.writer import ChunkedWriter, Plan
from firebrick.db import backups, images, snapshots, volumes
from firebrick.domain import backups as domain
from firebrick.domain import statuses
from firebrick.domain.backups import Backup
from firebrick.domain.model import Volume

LOG = logging.getLogger("firebrick.backup")


def volume_meta(conn: Any, volume: Volume) -> dict[str, Any]:
    """What a restore gives back besides the data (Cinder's backup metadata object)."""
    return {
        "base": {"display_name": volume.name, "display_description": volume.description,
                 "bootable": volume.bootable, "volume_type_id": volume.volume_type_id,
                 "encryption_key_id": volume.encryption_key_id},
        "metadata": dict(volume.metadata),
        "glance": images.of_volume(conn, volume.id),
    }  # fmt: skip


@dataclass
class BackupCreator:
    ctx: BackupContext

    # create_backup --------------------------------------------------------------------

    def create(self, backup_id: str) -> None:
        ctx = self.ctx
        with ctx.db.read() as conn:
            found = backups.find(conn, backup_id)
            volume = volumes.find(conn, found.volume_id) if found else None
            snapshot = (
                snapshots.find(conn, found.snapshot_id) if found and found.snapshot_id else None
            )
        if found is None or found.status != domain.CREATING:
            return
        LOG.info("Create backup started, backup: %s volume: %s.", found.id, found.volume_id)
        ctx.notify("create.start", found)
        if volume is None:
            self.fail(found, f"Volume {found.volume_id} could not be found.", CREATE_INVALID)
            return
        actual = snapshot.status if snapshot is not None else volume.status
        if actual != domain.VOLUME_BACKING_UP:
            what = "snapshot" if snapshot is not None else "volume"
            self.fail(found, f"Create backup aborted, expected {what} status backing-up but "
                             f"got {actual}.", CREATE_INVALID)  # fmt: skip
            return
        values = {
            "service": ctx.settings.service,
            "availability_zone": found.availability_zone or ctx.availability_zone,
        }
        if not ctx.mark(found.id, values, expected=domain.CREATING):
            return
        ctx.to_volume_service(volume.host, "backup_device", backup_id=found.id,
                              purpose="backup", requester=ctx.host)  # fmt: skip

    # continue_backup ------------------------------------------------------------------

    def continue_backup(self, backup_id: str) -> None:
        ctx = self.ctx
        with ctx.only_once(f"backup-{backup_id}") as first:
            if not first:
                return
            with ctx.db.read() as conn:
                found = backups.find(conn, backup_id)
                device = backups.device(conn, backup_id)
                volume = volumes.find(conn, found.volume_id) if found else None
                meta = volume_meta(conn, volume) if volume else {}
            if found is None or found.status != domain.CREATING or device is None:
                return
            if "error" in device:
                self.fail(found, f"Failed to get backup device from the volume service: "
                                 f"{device['error']}", DEVICE_FAILED)  # fmt: skip
                return
            try:
                with ctx.operation():
                    if isinstance(ctx.store, CephStore):
                        self._write_image(ctx.store, found, device, meta)
                        objects = 0  # an image snapshot, no objects (as Cinder counts)
                    else:
                        objects = len(self._write(found, device, meta).objects) + 2
            except Exception as exc:
                LOG.exception("Backup %s failed", backup_id)
                self.fail(found, str(exc) or type(exc).__name__, CREATE_FAILED)
                return
            self._finish(found, objects)

    def _write_image(
        self, store: CephStore, found: Backup, device: dict[str, Any], meta: dict[str, Any]
    ) -> None:
        """``backup_driver = ceph``: the backup as an RBD image snapshot (``ceph_backup``)."""
        ctx = self.ctx
        container = found.container or store.default_container(found.id)
        ctx.mark(found.id, {"container": container})
        parent = None
        if found.parent_id is not None:
            with ctx.db.read() as conn:
                parent = backups.find(conn, found.parent_id)
            if parent is None or parent.service != ctx.settings.service:
                raise RuntimeError(f"the parent backup {found.parent_id} is not in this store")

        def report(done: int) -> None:
            ctx.notify("createprogress", found, backup_percent=min(100.0, done * 100 / total))

        total = int(device["size"]) or 1
        assert ctx.settings.work_dir is not None
        done = ceph_backup.write(store, found, parent, device, meta, ctx.settings.work_dir,
                                 ctx.progress(ctx.settings.progress_interval, report))  # fmt: skip
        location = {"image": done["image"], "snapshot": done["snapshot"]}
        ctx.mark(found.id, {"service_metadata": json.dumps(location)})

    def _write(self, found: Backup, device: dict[str, Any], meta: dict[str, Any]) -> Manifest:
        ctx = self.ctx
        settings = ctx.settings
        container = found.container or ctx.store.default_container(found.id)
        prefix = chunked.object_prefix(found.volume_id, found.id, volumes.now())
        # Recorded first, so that whatever is stored can be found and removed after a crash.
        ctx.mark(found.id, {"service_metadata": prefix, "container": container})
        parent, parent_digests = self._parent(found)
        writer = ChunkedWriter(ctx.store, container, prefix, block_size=settings.sha_block_size,
                               object_size=settings.object_size,
                               compression=settings.compression)  # fmt: skip
        assert settings.work_dir is not None
        with devices.open_source(device, settings.work_dir) as source:
            plan = self._plan(source, device, parent, parent_digests)
            total = sum(length for _, length in plan.ranges) or 1

            def report(done: int) -> None:
                ctx.notify("createprogress", found, backup_percent=min(100.0, done * 100 / total))

            written = writer.write(source, plan, ctx.progress(settings.progress_interval, report))
        digests = written.digests
        with ctx.store.writer(container, chunked.sha256_name(prefix), durable=False) as out:
            out.write(digests)
        # Everything the manifest names is durable before the manifest is written.
        ctx.store.sync(container, [*(o.name for o in written.objects),
                                   chunked.sha256_name(prefix)])  # fmt: skip
        manifest = Manifest(
            backup_id=found.id, volume_id=found.volume_id, size=source.size,
            block_size=settings.sha_block_size, compression=settings.compression,
            objects=written.objects, zeros=written.zeros,
            parent=None if parent is None else {
                "id": parent.backup_id, "container": self._container_of(found.parent_id),
                "prefix": self._prefix_of(found.parent_id)},
            sha256file=hashlib.sha256(digests).hexdigest(),
            created_at=found.created_at.isoformat(), volume_meta=meta,
            stats={**written.stats, "changed_bytes": written.changed_bytes},
        )  # fmt: skip
        with ctx.store.writer(container, chunked.metadata_name(prefix)) as out:
            out.write(manifest.to_bytes())
        LOG.info("Backup %s: %s, read %d bytes, %d changed, %d objects", found.id, plan.method,
                 written.read_bytes, written.changed_bytes, len(written.objects))  # fmt: skip
        return manifest

    def _container_of(self, backup_id: str | None) -> str:
        with self.ctx.db.read() as conn:
            parent = backups.find(conn, backup_id or "")
        assert parent is not None
        return parent.container or self.ctx.store.default_container(parent.id)

    def _prefix_of(self, backup_id: str | None) -> str:
        with self.ctx.db.read() as conn:
            parent = backups.find(conn, backup_id or "")
        return (parent.service_metadata or "") if parent else ""

    def _parent(self, found: Backup) -> tuple[Manifest | None, bytes | None]:
        if found.parent_id is None:
            return None, None
        with self.ctx.db.read() as conn:
            parent = backups.find(conn, found.parent_id)
        if parent is None:
            raise RuntimeError(f"the parent backup {found.parent_id} is gone")
        container, manifest = self.ctx.manifest_of(parent)
        digests = self.ctx.digests_of(container, parent.service_metadata or "")
        return manifest, digests

    def _plan(
        self,
        source: FileSource | Qcow2Source | RbdSource,
        device: dict[str, Any],
        parent: Manifest | None,
        parent_digests: bytes | None,
    ) -> Plan:
        bs, size = self.ctx.settings.sha_block_size, source.size
        if parent is None or parent_digests is None or parent.block_size != bs:
            return Plan(align(source.data_ranges(), bs, size), True, None, "full")
        changed: list[Range] | None = None
        point = device.get("parent_point")
        if point and devices.is_local(device) and parent.size <= size:
            if isinstance(source, FileSource):
                changed, method = source.changed_since(Path(point["path"])), "extent-map"
            elif isinstance(source, RbdSource):
                changed, method = source.changed_since(point["snapshot"]), "rbd-diff"
            else:
                changed, method = source.changed_since(point["name"]), "allocation-map"
        if changed is None:
            return Plan(align(source.data_ranges(), bs, size), True, parent_digests, "hash")
        if size > parent.size:
            changed = [*changed, (parent.size, size - parent.size)]
        return Plan(align(changed, bs, size), False, parent_digests, method)

    # Ending ---------------------------------------------------------------------------

    def _finish(self, found: Backup, object_count: int) -> None:
        ctx = self.ctx
        values = {"status": domain.AVAILABLE, "object_count": object_count,
                  "fail_reason": None, "device": None}  # fmt: skip
        with ctx.db.write() as conn:
            done = backups.update(conn, found.id, values, expected=domain.CREATING)
            if done and found.parent_id:
                backups.add_dependent(conn, found.parent_id, 1)
            self._give_back(conn, found)
            finished = backups.find(conn, found.id)
        LOG.info("Create backup %s. backup: %s.", "finished" if done else "aborted", found.id)
        if finished is not None:
            ctx.notify("create.end", finished)
        self._release(found, success=done)

    def fail(self, found: Backup, reason: str, event_id: str) -> None:
        ctx = self.ctx
        LOG.error("Backup %s failed: %s", found.id, reason)
        with ctx.db.write() as conn:
            backups.update(conn, found.id, {"status": domain.ERROR, "fail_reason": reason,
                                            "device": None})  # fmt: skip
            self._give_back(conn, found)
        ctx.message(found, event_id, reason)
        self.discard(found)
        self._release(found, success=False)

    def discard(self, found: Backup) -> None:
        """Remove whatever a failed or interrupted backup stored."""
        ctx = self.ctx
        with ctx.db.read() as conn:
            current = backups.find(conn, found.id)
        if current is None:
            return
        container = current.container or ctx.store.default_container(current.id)
        try:
            if current.service_metadata:
                for name in ctx.store.names(container, current.service_metadata):
                    ctx.store.delete(container, name)
            ctx.store.discard(container, current.id)
        except Exception as exc:
            LOG.warning("Backup %s: could not remove its partial objects: %s", found.id, exc)

    def _give_back(self, conn: Any, found: Backup) -> None:
        """The volume (or snapshot) back to the status it had before the backup."""
        if found.snapshot_id:
            snapshots.update(conn, found.snapshot_id, {"status": statuses.AVAILABLE},
                             expected_status=domain.SNAPSHOT_BACKING_UP)  # fmt: skip
            return
        volume = volumes.find(conn, found.volume_id)
        if volume is not None and volume.status == domain.VOLUME_BACKING_UP:
            volumes.update(conn, volume.id,
                           {"status": volume.previous_status or statuses.AVAILABLE,
                            "previous_status": domain.VOLUME_BACKING_UP},
                           expected={"status": domain.VOLUME_BACKING_UP})  # fmt: skip

    def _release(self, found: Backup, *, success: bool) -> None:
        with self.ctx.db.read() as conn:
            volume = volumes.find(conn, found.volume_id)
        if volume is not None:
            self.ctx.to_volume_service(volume.host, "release_backup_device",
                                       backup_id=found.id, success=success)  # fmt: skip
