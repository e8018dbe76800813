"""The backup service of one host: takes its requests, heartbeats as ``cinder-backup``, and
at start settles what a previous run left half-done.

After a crash (Cinder's ``_cleanup_incomplete_backup_operations``): a backup that was
being created is ``error`` (its partial objects removed; it was never usable, since only
a complete backup has a manifest) and its volume back in its previous status; a restore
leaves its volume ``error_restoring`` (a new volume ``error``) and the backup
``available``, so that it can be restored again; a delete is resumed.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from firebrick import backup as role
from firebrick.backup.config import BackupSettings
from firebrick.backup.context import BackupContext
from firebrick.backup.create import BackupCreator
from firebrick.backup.drivers.base import ObjectStore
from firebrick.backup.records import BackupRecords
from firebrick.backup.restoring import BackupRestorer
from firebrick.db import backups, services, volumes
from firebrick.db.engine import Database
from firebrick.domain import backups as domain
from firebrick.domain import statuses
from firebrick.notifier import Notifier
from firebrick.rpc.bus import Bus

LOG = logging.getLogger("firebrick.backup")


def build_store(settings: BackupSettings) -> ObjectStore:
    if settings.driver == "ceph":
        from firebrick.backup.drivers.ceph import CephStore

        assert settings.ceph is not None
        return CephStore(settings.ceph)
    if settings.driver == "s3":
        from firebrick.backup.drivers.s3 import S3Store

        assert settings.s3 is not None
        return S3Store(settings.s3)
    from firebrick.backup.drivers.posix import PosixStore

    return PosixStore(settings.posix_path)


class BackupManager:
    def __init__(
        self,
        *,
        host: str,
        availability_zone: str,
        db: Database,
        bus: Bus,
        notifier: Notifier,
        settings: BackupSettings,
        report_interval: float,
        store: ObjectStore | None = None,
    ) -> None:
        self.host = host
        self.ctx = BackupContext(
            db=db, bus=bus, notifier=notifier, store=store or build_store(settings),
            settings=settings, host=host, availability_zone=availability_zone,
        )  # fmt: skip
        self.creator = BackupCreator(self.ctx)
        self.restorer = BackupRestorer(self.ctx)
        self.records = BackupRecords(self.ctx)
        self.report_interval = report_interval
        self._stop = threading.Event()
        self._reporter: threading.Thread | None = None

    @property
    def topic(self) -> str:
        return role.topic(self.host)

    def start(self) -> None:
        self.ctx.store.check()
        self.heartbeat()
        self.recover()
        workers = (self.ctx.settings.max_operations or 6) + 2
        self.ctx.bus.consume(self.topic, self.handle, workers=workers)
        self._reporter = threading.Thread(target=self._report_loop, name="report-backup",
                                          daemon=True)  # fmt: skip
        self._reporter.start()
        LOG.info("Backup service on %s: %s store, compression %s", self.host,
                 self.ctx.settings.driver, self.ctx.settings.compression)  # fmt: skip

    def stop(self) -> None:
        self._stop.set()

    def heartbeat(self) -> None:
        with self.ctx.db.write() as conn:
            services.heartbeat(conn, self.host, role.BINARY, role.TOPIC,
                               self.ctx.availability_zone)  # fmt: skip

    def _report_loop(self) -> None:
        while not self._stop.wait(self.report_interval):
            try:
                self.heartbeat()
            except Exception:
                LOG.exception("Backup service %s: heartbeat failed", self.host)

    def handle(self, method: str, payload: dict[str, Any]) -> None:
        backup_id = payload.get("backup_id", "")
        if method == "create_backup":
            self.creator.create(backup_id)
        elif method == "continue_backup":
            self.creator.continue_backup(backup_id)
        elif method == "restore_backup":
            self.restorer.restore(backup_id, payload["volume_id"])
        elif method == "continue_restore":
            self.restorer.continue_restore(backup_id)
        elif method == "delete_backup":
            self.records.delete(backup_id)
        elif method == "import_record":
            self.records.import_record(backup_id, payload["backup_service"],
                                       payload["backup_url"])  # fmt: skip
        else:
            LOG.error("Backup service %s: unknown request %s", self.host, method)

    # Recovery -------------------------------------------------------------------------

    def recover(self) -> None:
        with self.ctx.db.read() as conn:
            pending = backups.on_host(
                conn, self.host, [domain.CREATING, domain.RESTORING, domain.DELETING]
            )
        for found in pending:
            try:
                if found.status == domain.CREATING:
                    if found.volume_id == domain.IMPORT_VOLUME_ID:
                        self.ctx.mark(found.id, {"status": domain.ERROR, "fail_reason":
                                                 "import interrupted by a restart"})  # fmt: skip
                        continue
                    LOG.info("Resetting backup %s to error (was creating).", found.id)
                    self.creator.fail(found, "incomplete backup reset on manager restart",
                                      "VOLUME_BACKUP_013_020")  # fmt: skip
                elif found.status == domain.RESTORING:
                    self._recover_restore(found)
                else:
                    LOG.info("Resuming delete on backup: %s.", found.id)
                    self.ctx.bus.cast(self.topic, "delete_backup", {"backup_id": found.id})
            except Exception:
                LOG.exception("Problem cleaning up backup %s.", found.id)

    def _recover_restore(self, found: domain.Backup) -> None:
        with self.ctx.db.read() as conn:
            volume = volumes.find(conn, found.restore_volume_id or "")
        if volume is None:
            self.ctx.mark(found.id, {"status": domain.AVAILABLE, "device": None})
            return
        if volume.status == statuses.CREATING and volume.host is None:
            return  # not placed yet: the create (and so the restore) has not started
        LOG.info("Resetting backup %s to available (was restoring); volume %s to "
                 "error_restoring.", found.id, volume.id)  # fmt: skip
        self.restorer.fail(found, volume, "restore interrupted by a restart of the backup "
                                          "service", "VOLUME_BACKUP_015_026")  # fmt: skip
