"""What the create tasks share: the ports they act through."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from taskflow import task

from firebrick.db.engine import Database
from firebrick.domain.model import Volume
from firebrick.notifier import Notifier
from firebrick.volume.drivers.base import VolumeDriver
from firebrick.volume.gate import Gate

ACTION = "volume:create"

# reschedule(volume, request_spec, retry, reason): send the request back to the scheduler.
Rescheduler = Callable[[Volume, dict[str, Any], dict[str, Any], str], None]


@dataclass
class Ports:
    db: Database
    driver: VolumeDriver
    notifier: Notifier
    backend: str  # host@backend: this volume service
    reschedule: Rescheduler
    max_attempts: int
    # firebrick.volume.images.ImageWorker: creates volumes from Glance images.
    images: Any = None
    # firebrick.volume.backups.BackupDeviceWorker: hands a new volume to a backup service.
    backups: Any = None
    # Held by a flow while it runs, let go of around the backend's work (gate.py).
    gate: Gate = field(default_factory=Gate)


class CinderTask(task.Task):  # type: ignore[misc]
    """A task named as Cinder names it, e.g. ``ExtractVolumeRefTask;volume:create``."""

    def __init__(self, ports: Ports, **kwargs: Any) -> None:
        super().__init__(name=f"{type(self).__name__};{ACTION}", **kwargs)
        self.ports = ports
