from __future__ import annotations

from dataclasses import replace
from typing import Any

from firebrick.db import volumes
from firebrick.db.outage import through_outage
from firebrick.domain import statuses
from firebrick.domain.errors import VolumeNotFound
from firebrick.domain.model import Volume
from firebrick.notifier import volume_usage
from firebrick.volume.flow_timeline import save_run
from firebrick.volume.flows.create_volume.base import CinderTask

FINAL_WRITE_PATIENCE = 60.0  # seconds, then the bus takes the request again


class CreateVolumeOnFinishTask(CinderTask):
    """Marks the volume ``available`` with the driver's model update; emits create.end.

    Reversion strategy: none; it is the last step. If the volume was deleted meanwhile
    the update matches no row and the flow reverts, removing the storage. The write is
    tried again through a short database outage.
    """

    def execute(self, volume: Volume, model_update: dict[str, Any]) -> None:
        if model_update.get("restore_pending"):
            # The backup service makes it available once the data is in (as in Cinder,
            # create.end is sent now, with the volume still creating).
            with self.ports.db.write() as conn:
                volumes.update(conn, volume.id,
                               {"provider_location": model_update.get("provider_location")},
                               expected={"status": statuses.CREATING})  # fmt: skip
            self.ports.notifier.emit(f"volume.{volume.host}", "volume.create.end",
                                     volume_usage(volume))  # fmt: skip
            return
        stamp = volumes.now()
        values = {
            "status": statuses.AVAILABLE,
            "launched_at": stamp,
            "task_state": None,
            "provider_location": model_update.get("provider_location"),
        }
        if "bootable" in model_update:
            values["bootable"] = bool(model_update["bootable"])

        def record() -> bool:
            with self.ports.db.write() as conn:
                done = volumes.update(
                    conn, volume.id, values,
                    expected={"status": statuses.CREATING, "host": volume.host},
                )  # fmt: skip
                if done:  # the run's timeline, in the commit that makes the volume available
                    save_run(conn, outcome="success", host=volume.host)
                return done

        # The volume exists now: a database that is out for a moment (full, restarting)
        # should not cost the volume a redo, so its final state is written patiently.
        done = through_outage(record, patience=FINAL_WRITE_PATIENCE)
        if not done:
            raise VolumeNotFound(volume.id)
        finished = replace(
            volume,
            status=statuses.AVAILABLE,
            launched_at=stamp,
            updated_at=stamp,
            bootable=bool(values.get("bootable", volume.bootable)),
        )
        self.ports.notifier.emit(
            f"volume.{volume.host}", "volume.create.end", volume_usage(finished)
        )
