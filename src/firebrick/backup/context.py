"""What the backup service's workers share: the database, the bus, the store, the
settings, and the notifications and user messages they send."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from firebrick.backup.chunked import Manifest, metadata_name, sha256_name
from firebrick.backup.config import BackupSettings
from firebrick.backup.drivers.base import ObjectMissing, ObjectStore
from firebrick.db import backups, messages
from firebrick.db.engine import Database
from firebrick.domain.backups import Backup, backup_usage
from firebrick.notifier import Notifier
from firebrick.rpc.bus import Bus, cast_or_defer, volume_topic

LOG = logging.getLogger("firebrick.backup")

HOLD_EVERY = 4 << 20  # backup_test_delay: bytes between two holds

# User messages (Cinder's message_field): VOLUME_BACKUP_<action>_<detail>.
CREATE_FAILED = "VOLUME_BACKUP_013_020"
DEVICE_FAILED = "VOLUME_BACKUP_013_019"
CREATE_INVALID = "VOLUME_BACKUP_013_017"
DELETE_FAILED = "VOLUME_BACKUP_014_025"
RESTORE_FAILED = "VOLUME_BACKUP_015_026"
RESTORE_INVALID_VOLUME = "VOLUME_BACKUP_015_027"


@dataclass
class BackupContext:
    db: Database
    bus: Bus
    notifier: Notifier
    store: ObjectStore
    settings: BackupSettings
    host: str
    availability_zone: str
    _running: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _operations: threading.BoundedSemaphore | None = None

    def __post_init__(self) -> None:
        if self.settings.max_operations:
            self._operations = threading.BoundedSemaphore(self.settings.max_operations)

    @property
    def publisher(self) -> str:
        return f"backup.{self.host}"

    def notify(self, event: str, backup: Backup, **extra: Any) -> None:
        self.notifier.emit(self.publisher, f"backup.{event}", backup_usage(backup, **extra))

    def message(self, backup: Backup, event_id: str, detail: str, resource: str = "") -> None:
        with self.db.write() as conn:
            messages.add(conn, project_id=backup.project_id, event_id=event_id,
                         resource_uuid=resource or backup.id, detail=detail,
                         resource_type="VOLUME_BACKUP")  # fmt: skip

    def to_volume_service(self, volume_host: str | None, method: str, **payload: Any) -> None:
        if volume_host:
            cast_or_defer(self.bus, volume_topic(volume_host.split("#", 1)[0]), method, payload)

    @contextmanager
    def only_once(self, key: str) -> Iterator[bool]:
        """Whether this process is not already working on ``key`` (then claims it)."""
        with self._lock:
            first = key not in self._running
            self._running.add(key)
        try:
            yield first
        finally:
            if first:
                with self._lock:
                    self._running.discard(key)

    @contextmanager
    def operation(self) -> Iterator[None]:
        """One of at most ``backup_max_operations`` data transfers at a time."""
        if self._operations is None:
            yield
            return
        with self._operations:
            yield

    def progress(self, every: float, report: Callable[[int], None]) -> Callable[[int], None]:
        """A progress callback that reports the bytes done at most every ``every`` s."""
        done = [0]
        last = [time.monotonic()]
        delay = self.settings.test_delay
        held = [0]

        def step(count: int) -> None:
            done[0] += count
            if delay:
                held[0] += count
                if held[0] >= HOLD_EVERY:
                    held[0] = 0
                    time.sleep(delay)
            now = time.monotonic()
            if now - last[0] >= every:
                last[0] = now
                report(done[0])

        return step

    # The store ------------------------------------------------------------------------

    def read_object(self, container: str, name: str) -> bytes:
        with self.store.reader(container, name) as handle:
            return handle.read()

    def manifest_of(self, backup: Backup) -> tuple[str, Manifest]:
        """(container, manifest) of a complete backup; ObjectMissing if incomplete."""
        container = backup.container or self.store.default_container(backup.id)
        if not backup.service_metadata:
            raise ObjectMissing(f"backup {backup.id} has no objects")
        data = self.read_object(container, metadata_name(backup.service_metadata))
        return container, Manifest.from_bytes(data)

    def digests_of(self, container: str, prefix: str) -> bytes:
        return self.read_object(container, sha256_name(prefix))

    def mark(self, backup_id: str, values: dict[str, Any], expected: Any = None) -> bool:
        with self.db.write() as conn:
            return backups.update(conn, backup_id, values, expected=expected)
