"""The source's part of a migration to a backend served elsewhere: a read-only export.

The destination reads the volume through the source backend's own target (tgt over
iSCSI, or qemu-nbd), as a host would: its connection info (with the target's secret) is
kept in the migration's journal row only. The export is keyed by the copy's id, so it
never mixes with the volume's attachments, and it is removed when the migration ends
either way (and, after a restart, whatever export no attachment or migration claims).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from firebrick.db import attachments, migration_state, volumes
from firebrick.db import volume_migrations as journal
from firebrick.db.engine import Database
from firebrick.domain import migration
from firebrick.rpc.bus import Bus, cast_or_defer, volume_topic
from firebrick.volume.attach import AttachWorker
from firebrick.volume.drivers.base import VolumeDriver

LOG = logging.getLogger("firebrick.volume")

# The iSCSI initiator name a destination reads a migration's export with.
INITIATOR_PREFIX = "iqn.2010-10.org.openstack:firebrick-migration-"
COPY_PHASES = frozenset({migration.EXPORTED, migration.COPYING})


def initiator_for(target_id: str) -> str:
    return f"{INITIATOR_PREFIX}{target_id}"


@dataclass
class MigrationExporter:
    db: Database
    bus: Bus
    driver: VolumeDriver
    attacher: AttachWorker | None
    backend: str  # host@backend

    def export(self, volume_id: str) -> None:
        """Export the volume read-only for its migration's destination (migration_export)."""
        with self.db.read() as conn:
            found = journal.find(conn, volume_id)
            volume = volumes.find(conn, volume_id)
        if found is None or found.phase != migration.EXPORTING or found.target_id is None:
            return
        dest = migration.backend_of(found.dest_host or "")
        if volume is None or self.attacher is None:
            self._fail(volume_id, dest, f"{self.backend} has no target to export the volume")
            return
        path, fmt = self.driver.local_path(volume)
        connector = {"initiator": initiator_for(found.target_id), "host": dest}
        try:
            target = self.attacher.started_target()
            exported = target.export(volume.id, path, fmt, found.target_id, connector,
                                     readonly=True)  # fmt: skip
        except Exception as exc:
            self._fail(volume_id, dest, f"exporting the volume from {self.backend} failed: {exc}")
            return
        info = {"driver_volume_type": target.protocol, "data": dict(exported.data),
                "initiator": connector["initiator"]}  # fmt: skip
        with self.db.write() as conn:
            recorded = journal.advance(
                conn, volume_id, {"phase": migration.EXPORTED, "connection_info": info},
                phases={migration.EXPORTING},
            )  # fmt: skip
        if not recorded:
            self.unexport(volume_id, found.target_id)  # the migration ended meanwhile
            return
        LOG.info("Volume %s: exported over %s for its migration to %s",
                 volume_id, target.protocol, dest)  # fmt: skip
        cast_or_defer(self.bus, volume_topic(dest), "migrate_volume", {"volume_id": volume_id})

    def _fail(self, volume_id: str, dest: str, reason: str) -> None:
        # The destination only waits in this phase: end it here, and let it delete the copy.
        LOG.warning("Volume %s: migration failed: %s", volume_id, reason)
        with self.db.write() as conn:
            failed = migration_state.fail(
                conn, volume_id, reason, phases=frozenset({migration.EXPORTING})
            )
        if failed is not None and failed.target is not None:
            cast_or_defer(self.bus, volume_topic(dest), "delete_volume",
                          {"volume_id": failed.target.id})  # fmt: skip

    def unexport(self, volume_id: str, target_id: str) -> None:
        """Remove a migration's export (migration_unexport)."""
        if self.attacher is None:
            return
        target = self.attacher.target
        if target_id in target.exported().get(volume_id, set()):
            target.unexport(volume_id, target_id)
            LOG.info("Volume %s: removed the export of its migration copy %s",
                     volume_id, target_id)  # fmt: skip

    def release(self, target_id: str) -> None:
        """Remove the export keyed by a migration copy's id, whichever volume it serves."""
        if self.attacher is None:
            return
        for volume_id, keys in self.attacher.target.exported().items():
            if target_id in keys:
                self.unexport(volume_id, target_id)

    def remove_leftovers(self) -> None:
        """At start: remove exports that neither an attachment nor a migration claims."""
        if self.attacher is None:
            return
        exported = self.attacher.target.exported()
        if not exported:
            return
        with self.db.read() as conn:
            claimed = {a.id for a in attachments.on_backend(conn, self.backend)}
            claimed |= {
                m.target_id
                for m in journal.from_source(conn, self.backend)
                if m.target_id and m.phase in COPY_PHASES
            }
        for volume_id, keys in exported.items():
            for key in keys - claimed:
                try:
                    self.attacher.started_target().unexport(volume_id, key)
                except Exception as exc:
                    LOG.warning("Volume %s: could not remove export %s: %s", volume_id, key, exc)
