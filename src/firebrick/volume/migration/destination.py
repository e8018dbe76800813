"""The destination's part of a host-assisted migration: make the copy, fill it, swap.

One step per request (``migrate_volume``), each moving the journal on from where it is:

| phase | this service does | on failure |
| --- | --- | --- |
| placed | creates the copy's storage (``creating``) | the migration fails |
| creating | source served here: copies the file (``copying``); else asks the source for a read-only export (``exporting``) | the migration fails |
| exported | copies through the export (``copying``) | the migration fails |
| copying | swaps the two records, hands the old storage to the source to delete | the migration fails |
| aborting | the migration fails (an admin's abort) | — |

A failed migration leaves the source as it was (``migration_status`` ``error``) and its
copy ``deleting`` here. Nothing is resumed after a crash: a service that starts with
migrations to its backend in flight fails them, so nothing stays half-done.
"""  # noqa: E501

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from firebrick.db import migration_state, volumes
from firebrick.db import volume_migrations as journal
from firebrick.db.engine import Database
from firebrick.db.volume_migrations import Migration
from firebrick.domain import migration
from firebrick.domain.model import Volume
from firebrick.notifier import Notifier, volume_usage
from firebrick.rpc.bus import Bus, cast_or_defer, volume_topic
from firebrick.volume.drivers.base import VolumeDriver
from firebrick.volume.drivers.sources import DataSource, LocalFile, RemoteExport

LOG = logging.getLogger("firebrick.volume")

ABORT_CHECK_INTERVAL = 1.0
# Phases in which the source may hold a read-only export of the volume for this service.
EXPORT_MAY_EXIST = frozenset(
    {migration.EXPORTING, migration.EXPORTED, migration.COPYING, migration.ABORTING}
)


@dataclass
class MigrationWorker:
    db: Database
    bus: Bus
    driver: VolumeDriver
    notifier: Notifier
    backend: str  # host@backend
    # Drivers of the backends this process serves (itself included): a source among them
    # is copied from its file; any other is read through its export.
    peers: Mapping[str, VolumeDriver] = field(default_factory=dict)

    def step(self, volume_id: str) -> None:
        with self.db.read() as conn:
            found = journal.find(conn, volume_id)
        if found is None:
            return
        if found.phase == migration.ABORTING:
            self.fail(volume_id, "aborted by an administrator (os-migrate_volume_completion)")
        elif found.phase == migration.PLACED:
            self._create(found)
        elif found.phase == migration.EXPORTED:
            self._copy(found, migration.EXPORTED)

    def _rows(self, found: Migration) -> tuple[Volume, Volume] | None:
        with self.db.read() as conn:
            source = volumes.find(conn, found.volume_id)
            target = volumes.find(conn, found.target_id) if found.target_id else None
        if source is None or target is None:
            return None
        return source, target

    def _create(self, found: Migration) -> None:
        with self.db.write() as conn:
            if not journal.advance(
                conn, found.volume_id, {"phase": migration.CREATING}, phases={migration.PLACED}
            ):
                return  # a duplicate request, or aborted meanwhile
            volumes.update(
                conn, found.volume_id, {"migration_status": migration.MIGRATING},
                expected={"migration_status": migration.STARTING},
            )  # fmt: skip
        rows = self._rows(found)
        if rows is None:
            self.fail(found.volume_id, "the volume or its copy disappeared")
            return
        source, target = rows
        LOG.info("Volume %s: creating its migration copy %s on %s",
                 source.id, target.id, self.backend)  # fmt: skip
        try:
            update = self.driver.create_volume(target) or {}
        except Exception as exc:
            self.fail(source.id, f"creating the copy on {self.backend} failed: {exc}")
            return
        with self.db.write() as conn:
            volumes.update(conn, target.id, {"provider_location": update.get("provider_location")})
        if migration.backend_of(found.source_host) in self.peers:
            self._copy(found, migration.CREATING)
            return
        with self.db.write() as conn:
            asked = journal.advance(
                conn, found.volume_id, {"phase": migration.EXPORTING},
                phases={migration.CREATING},
            )  # fmt: skip
        if asked:
            cast_or_defer(self.bus, volume_topic(migration.backend_of(found.source_host)),
                          "migration_export", {"volume_id": found.volume_id})  # fmt: skip
        else:
            self.step(found.volume_id)  # aborted meanwhile

    def _copy(self, found: Migration, phase: str) -> None:
        with self.db.write() as conn:
            started = journal.advance(
                conn, found.volume_id, {"phase": migration.COPYING}, phases={phase}
            )
            current = journal.find(conn, found.volume_id)
        if not started:
            self.step(found.volume_id)  # aborted meanwhile, or a duplicate request
            return
        rows = self._rows(found)
        if rows is None or current is None:
            self.fail(found.volume_id, "the volume or its copy disappeared")
            return
        source, target = rows
        try:
            data = self._source_of(current, source)
            how = "from its file" if isinstance(data, LocalFile) else "through its export"
            LOG.info("Volume %s: copying its data to %s %s", source.id, target.id, how)
            self.driver.copy_volume_data(target, data, self._cancelled(source.id))
        except Exception as exc:
            self.fail(source.id, f"copying the data to {self.backend} failed: {exc}")
            return
        self._finish(current)

    def _source_of(self, found: Migration, source: Volume) -> DataSource:
        peer = self.peers.get(migration.backend_of(found.source_host))
        if peer is not None:
            path, fmt = peer.local_path(source)
            return LocalFile(path, fmt)
        info = found.connection_info or {}
        return RemoteExport(
            protocol=str(info.get("driver_volume_type")),
            data=dict(info.get("data") or {}),
            initiator=str(info.get("initiator")),
        )

    def _cancelled(self, volume_id: str) -> Callable[[], bool]:
        """Whether the migration was aborted (asked at most once a second)."""
        last = [0.0, False]

        def cancelled() -> bool:
            now = time.monotonic()
            if now - last[0] >= ABORT_CHECK_INTERVAL:
                with self.db.read() as conn:
                    found = journal.find(conn, volume_id)
                last[:] = [now, found is None or found.phase != migration.COPYING]
            return bool(last[1])

        return cancelled

    def _finish(self, found: Migration) -> None:
        with self.db.write() as conn:
            source = volumes.find(conn, found.volume_id)
            target = volumes.find(conn, found.target_id) if found.target_id else None
            if source is None or target is None:
                reason: str | None = "the volume or its copy disappeared"
            else:
                reason = migration_state.swap(conn, found, source, target)
            moved = volumes.get(conn, found.volume_id) if reason is None else None
        if reason is not None or moved is None or target is None:
            self.fail(found.volume_id, reason or "the volume disappeared")
            return
        LOG.info("Volume %s: migrated to %s; old storage %s goes from %s",
                 moved.id, moved.host, target.id, found.source_host)  # fmt: skip
        cast_or_defer(self.bus, volume_topic(migration.backend_of(found.source_host)),
                      "delete_volume", {"volume_id": target.id})  # fmt: skip
        if found.is_retype:
            self.notifier.emit(f"volume.{self.backend}", "volume.retype",
                               volume_usage(moved, volume_type=moved.volume_type_id))  # fmt: skip

    def fail(self, volume_id: str, reason: str) -> None:
        """End the migration as failed: the source as it was, the copy deleted here."""
        LOG.warning("Volume %s: migration failed: %s", volume_id, reason)
        with self.db.write() as conn:
            failed = migration_state.fail(conn, volume_id, reason)
        if failed is None:
            return
        if failed.target is not None and failed.target.host:
            cast_or_defer(self.bus, volume_topic(migration.backend_of(failed.target.host)),
                          "delete_volume", {"volume_id": failed.target.id})  # fmt: skip
        found = failed.migration
        remote = migration.backend_of(found.source_host) not in self.peers
        if remote and found.target_id and found.phase in EXPORT_MAY_EXIST:
            cast_or_defer(self.bus, volume_topic(migration.backend_of(found.source_host)),
                          "migration_unexport",
                          {"volume_id": volume_id, "target_id": found.target_id})  # fmt: skip

    def recover(self) -> None:
        """At start: fail every migration to this backend that was in flight."""
        with self.db.read() as conn:
            pending = journal.to_destination(conn, self.backend)
        for found in pending:
            if found.phase in migration.ON_DESTINATION:
                self.fail(found.volume_id, f"the volume service of {self.backend} restarted "
                                           "during the migration")  # fmt: skip
