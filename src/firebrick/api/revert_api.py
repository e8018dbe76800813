"""``revert`` (3.40): put a volume's data back as its latest snapshot holds it.

The API checks and marks both (volume ``reverting``, snapshot ``restoring``, in one
transaction so that a refusal changes nothing) and the volume's backend restores the data.
"""

from __future__ import annotations

from dataclasses import dataclass

from firebrick.api.microversion import APIVersion
from firebrick.context import RequestContext
from firebrick.db import snapshots, volumes
from firebrick.db.engine import Database
from firebrick.domain import migration, statuses
from firebrick.domain.errors import Conflict, InvalidInput, NotFound
from firebrick.rpc.bus import Bus, cast_or_defer, volume_topic

VOLUME_REVERT = APIVersion(3, 40)


def parse_revert(body: object) -> str | None:
    """The snapshot id of Cinder's ``revert`` schema (other keys are allowed and ignored)."""
    if not isinstance(body, dict):
        raise InvalidInput("revert must be an object.")
    snapshot_id = body.get("snapshot_id")
    if snapshot_id is not None and not isinstance(snapshot_id, str):
        raise InvalidInput(f"snapshot_id must be a string or null, not {snapshot_id!r}.")
    return snapshot_id


@dataclass
class RevertAPI:
    db: Database
    bus: Bus

    def revert(
        self, ctx: RequestContext, volume_id: str, body: object, version: APIVersion
    ) -> None:
        if version < VOLUME_REVERT:
            raise NotFound(f"API version {version} is not supported on this method.")
        snapshot_id = parse_revert(body)
        project = None if ctx.is_admin else ctx.project_id
        with self.db.write() as conn:
            volume = volumes.get(conn, volume_id, project)
            latest = snapshots.latest_of_volume(conn, volume_id, project)
            if latest is None:
                raise InvalidInput(f"Volume {volume_id} doesn't have any snapshots.")
            if snapshot_id is None or snapshot_id != latest.id:
                raise InvalidInput(
                    f"Specified snapshot {snapshot_id} is None or not the latest one of "
                    f"volume {volume_id}."
                )
            if volume.size != latest.volume_size:
                raise InvalidInput(
                    f"Can't revert volume {volume_id} to its latest snapshot {snapshot_id}. "
                    "The volume size must be equal to the snapshot size."
                )
            prefix = f"Can't revert volume {volume_id} to its latest snapshot {snapshot_id}."
            if volume.host is None or not volumes.update(
                conn, volume_id, {"status": statuses.REVERTING},
                expected={"status": statuses.AVAILABLE,
                          "migration_status": migration.NOT_MIGRATING},
            ):  # fmt: skip
                raise Conflict(f"Invalid volume: {prefix} Volume's status must be 'available'.")
            if not snapshots.update(
                conn, latest.id, {"status": statuses.RESTORING},
                expected_status=statuses.AVAILABLE,
            ):  # fmt: skip
                # Raising rolls the volume's status back with the transaction.
                raise Conflict(f"Invalid snapshot: {prefix} Snapshot's status must be 'available'.")
        cast_or_defer(
            self.bus,
            volume_topic(migration.backend_of(volume.host)),
            "revert_to_snapshot",
            {"volume_id": volume_id, "snapshot_id": latest.id},
        )
