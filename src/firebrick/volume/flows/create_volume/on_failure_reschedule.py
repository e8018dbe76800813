from __future__ import annotations

import logging
from typing import Any

from taskflow.types import failure

from firebrick.db import messages, volumes
from firebrick.db.outage import is_outage
from firebrick.domain import statuses
from firebrick.domain.errors import NotFound
from firebrick.domain.model import Volume
from firebrick.image.errors import ImageError
from firebrick.volume.flow_timeline import save_run
from firebrick.volume.flows.create_volume.base import CinderTask

LOG = logging.getLogger(__name__)

# Event ids of user messages: VOLUME_<resource>_<action>_<detail>, as Cinder numbers them.
CREATE_FROM_BACKEND_DRIVER_FAILED = "VOLUME_VOLUME_008_012"


class OnFailureRescheduleTask(CinderTask):
    """Does nothing on the way forward; exists for its revert.

    The scheduler refuses an attempt beyond scheduler_max_attempts and errors the volume
    itself, naming every pool it tried, so rescheduling here is always safe to ask for.

    Reversion strategy: send the request back to the scheduler for another backend (attempt
    N of scheduler_max_attempts) after removing what this backend half-created; failures
    that another backend cannot fix (the volume or its source is gone) and the last attempt
    set the volume to ``error`` with a user message instead; an outage of the database
    changes nothing (the request is taken again when it is over).
    """

    def execute(self) -> None:
        return None

    def revert(
        self,
        volume: Volume,
        request_spec: dict[str, Any],
        retry: dict[str, Any],
        flow_failures: dict[str, failure.Failure],
        **kwargs: Any,
    ) -> bool:
        causes = list(flow_failures.values())
        reason = "; ".join(str(f.exception) for f in causes if f.exception is not None)
        if any(f.exception is not None and is_outage(f.exception) for f in causes):
            # The database (or the broker) is out, not the backend: the request is taken
            # again once it is back, and every step is safe to repeat.
            LOG.warning("Volume %s: not rescheduling during an outage: %s", volume.id, reason)
            return False
        if any(f.check(NotFound) for f in causes):
            LOG.info("Volume %s: not rescheduling, %s", volume.id, reason)
            return False
        image_errors = [f.exception for f in causes if isinstance(f.exception, ImageError)]
        if image_errors:
            # No other backend makes a volume of a bad or oversized image.
            self._clean_backend(volume)
            self._error_out(volume, reason, image_errors[0].event_id)
            return False
        self._clean_backend(volume)
        attempts = int(retry.get("num_attempts", 1))
        if self.ports.max_attempts > 1:
            LOG.warning(
                "Volume %s: create failed on %s (attempt %d of %d): %s; rescheduling",
                volume.id, self.ports.backend, attempts, self.ports.max_attempts, reason,
            )  # fmt: skip
            self.ports.reschedule(volume, request_spec, retry, reason)
            return True
        self._error_out(volume, reason)
        return False

    def _clean_backend(self, volume: Volume) -> None:
        try:
            with self.ports.gate.released():
                self.ports.driver.delete_volume(volume)
        except Exception:
            LOG.exception("Volume %s: could not remove what the failed create left", volume.id)

    def _error_out(
        self, volume: Volume, reason: str, event_id: str = CREATE_FROM_BACKEND_DRIVER_FAILED
    ) -> None:
        LOG.error("Volume %s: create failed on %s: %s", volume.id, self.ports.backend, reason)
        with self.ports.db.write() as conn:
            changed = volumes.update(
                conn, volume.id, {"status": statuses.ERROR, "task_state": None},
                expected={"status": statuses.CREATING},
            )  # fmt: skip
            if changed:
                save_run(conn, outcome="error", host=volume.host, reason=reason)
                messages.add(
                    conn,
                    project_id=volume.project_id,
                    event_id=event_id,
                    resource_uuid=volume.id,
                    detail=f"{self.ports.backend}: {reason}",
                )
