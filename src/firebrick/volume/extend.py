"""Growing a volume on its backend; the API has already reserved quota and capacity."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from firebrick.db import messages, quotas, services, volumes
from firebrick.db.engine import Database
from firebrick.domain import statuses
from firebrick.notifier import Notifier, volume_usage
from firebrick.volume.drivers.base import VolumeDriver

LOG = logging.getLogger("firebrick.volume")

EXTEND_DRIVER_FAILED = "VOLUME_VOLUME_007_010"


@dataclass
class ExtendWorker:
    db: Database
    driver: VolumeDriver
    notifier: Notifier
    backend: str

    def extend(self, volume_id: str, new_size: int) -> None:
        with self.db.read() as conn:
            volume = volumes.find(conn, volume_id)
        if volume is None or volume.status != statuses.EXTENDING:
            return  # a duplicate delivery, or reset by an admin
        publisher = f"volume.{self.backend}"
        self.notifier.emit(publisher, "volume.resize.start", volume_usage(volume))
        back_to = volume.previous_status or statuses.AVAILABLE
        try:
            self.driver.extend_volume(volume, new_size)
        except Exception as exc:
            LOG.error("Volume %s: extend to %d GiB failed on %s: %s",
                      volume_id, new_size, self.backend, exc)  # fmt: skip
            delta = new_size - volume.size
            with self.db.write() as conn:
                if volumes.update(conn, volume_id, {"status": statuses.ERROR_EXTENDING},
                                  expected={"status": statuses.EXTENDING}):  # fmt: skip
                    quotas.add_usage(conn, volume.project_id, {"gigabytes": -delta})
                    if volume.host:
                        services.add_allocation(conn, volume.host, -delta)
                    messages.add(
                        conn, project_id=volume.project_id, event_id=EXTEND_DRIVER_FAILED,
                        resource_uuid=volume_id, detail=f"{self.backend}: {exc}",
                    )  # fmt: skip
            return
        with self.db.write() as conn:
            done = volumes.update(
                conn, volume_id,
                {"size": new_size, "status": back_to, "previous_status": None},
                expected={"status": statuses.EXTENDING},
            )  # fmt: skip
        if done:
            grown = replace(volume, size=new_size, status=back_to)
            self.notifier.emit(publisher, "volume.resize.end", volume_usage(grown, size=new_size))
