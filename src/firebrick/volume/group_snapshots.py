"""Group snapshots on a backend without native support: a snapshot of each member.

The members are snapshotted one after another, with nothing written by Firebrick in
between (no database commit, no notification): the group snapshot is as close to one
point in time as the driver allows. Volumes attached to hosts are not quiesced, as in
Cinder's generic groups; what a host writes meanwhile may land in some members' snapshots
and not in others'.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from firebrick.db import group_snapshots, messages, snapshots, volumes
from firebrick.db.engine import Database
from firebrick.domain import groups as domain
from firebrick.domain import statuses
from firebrick.domain.groups import GroupSnapshot
from firebrick.domain.model import Snapshot, Volume
from firebrick.notifier import Notifier, group_snapshot_usage, snapshot_usage
from firebrick.volume.drivers.base import VolumeDriver
from firebrick.volume.snapshots import SnapshotWorker

LOG = logging.getLogger("firebrick.volume")

GROUP_SNAPSHOT_CREATE_FAILED = "VOLUME_GROUP_104_013"
TAKING = "taking_members"  # the journal: the members are being taken
GROUP_SNAPSHOT_DELETE_FAILED = "VOLUME_GROUP_105_014"


@dataclass
class GroupSnapshotWorker:
    db: Database
    driver: VolumeDriver
    notifier: Notifier
    backend: str
    snapshots: SnapshotWorker

    @property
    def publisher(self) -> str:
        return f"group_snapshot.{self.backend}"

    def _notify(self, group_snapshot: GroupSnapshot, suffix: str,
                members: list[tuple[Snapshot, Volume | None]]) -> None:  # fmt: skip
        """``group_snapshot.<suffix>``, then ``snapshot.<suffix>`` for each member."""
        self.notifier.emit(self.publisher, f"group_snapshot.{suffix}",
                           group_snapshot_usage(group_snapshot))  # fmt: skip
        for snapshot, volume in members:
            zone = volume.availability_zone if volume else None
            self.notifier.emit(f"snapshot.{self.backend}", f"snapshot.{suffix}",
                               snapshot_usage(snapshot, zone))  # fmt: skip

    def _load(
        self, group_snapshot_id: str, status: str
    ) -> tuple[GroupSnapshot, list[tuple[Snapshot, Volume | None]]] | None:
        with self.db.read() as conn:
            found = group_snapshots.find(conn, group_snapshot_id)
            if found is None or found.status != status:
                return None  # gone, or already done (a duplicate delivery)
            members = [(s, volumes.find(conn, s.volume_id))
                       for s in group_snapshots.members(conn, found.id)]  # fmt: skip
        return found, members

    # Create ----------------------------------------------------------------------------

    def create(self, group_snapshot_id: str) -> None:
        loaded = self._load(group_snapshot_id, domain.CREATING)
        if loaded is None:
            return
        group_snapshot, members = loaded
        self._notify(group_snapshot, "create.start", members)
        interrupted = group_snapshot.task_state == TAKING
        if not interrupted:
            with self.db.write() as conn:
                group_snapshots.update_group_snapshot(conn, group_snapshot.id,
                                                      {"task_state": TAKING})  # fmt: skip
        else:
            # An interrupted run may have snapshotted some members and not the others:
            # complete what the driver half did (its calls resume), drop what is complete,
            # and take every member again together.
            completed, _failed = self._take(members)
            for snapshot, _volume in members:
                if snapshot.id in completed:
                    self._drop(snapshot)
        # A failed member keeps what the driver left (a qcow2 freeze half done holds the
        # volume's data); it is error, and deleting the group snapshot removes it.
        updates, failures = self._take(members)
        self._finish(group_snapshot, members, updates, failures)

    def _take(
        self, members: list[tuple[Snapshot, Volume | None]]
    ) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
        """Every member's snapshot, back to back: the driver's updates and the failures."""
        updates: dict[str, dict[str, Any]] = {}
        failures: dict[str, str] = {}
        for snapshot, volume in members:
            try:
                if volume is None:
                    raise RuntimeError(f"volume {snapshot.volume_id} is gone")
                updates[snapshot.id] = self.driver.create_snapshot(snapshot, volume) or {}
            except Exception as exc:
                failures[snapshot.id] = str(exc) or type(exc).__name__
        return updates, failures

    def _drop(self, snapshot: Snapshot) -> None:
        try:
            self.driver.delete_snapshot(snapshot)
        except Exception:
            LOG.exception("Snapshot %s: could not remove an interrupted snapshot", snapshot.id)

    def _finish(
        self,
        group_snapshot: GroupSnapshot,
        members: list[tuple[Snapshot, Volume | None]],
        updates: dict[str, dict[str, Any]],
        failures: dict[str, str],
    ) -> None:
        """One transaction: each member available (or error), then the group snapshot."""
        status = domain.ERROR if failures else domain.AVAILABLE
        with self.db.write() as conn:
            for snapshot, _volume in members:
                values: dict[str, Any] = {"status": statuses.ERROR}
                if snapshot.id in updates:
                    values = {
                        "status": statuses.AVAILABLE,
                        "progress": "100%",
                        "provider_location": updates[snapshot.id].get("provider_location"),
                    }
                snapshots.update(conn, snapshot.id, values, expected_status=statuses.CREATING)
            done = group_snapshots.update_group_snapshot(
                conn, group_snapshot.id, {"status": status, "task_state": None},
                expected_status=domain.CREATING,
            )  # fmt: skip
            if done and failures:
                detail = "; ".join(f"snapshot {sid}: {why}" for sid, why in failures.items())
                messages.add(conn, project_id=group_snapshot.project_id,
                             event_id=GROUP_SNAPSHOT_CREATE_FAILED,
                             resource_uuid=group_snapshot.id, resource_type="GROUP_SNAPSHOT",
                             detail=f"{self.backend}: {detail}")  # fmt: skip
        if failures:
            LOG.error("Group snapshot %s: %d of %d members failed: %s", group_snapshot.id,
                      len(failures), len(members), failures)  # fmt: skip
            return
        if done:
            LOG.info("Group snapshot %s: %d members taken on %s", group_snapshot.id,
                     len(members), self.backend)  # fmt: skip
            finished = [(replace(s, status=statuses.AVAILABLE, progress="100%"), v)
                        for s, v in members]  # fmt: skip
            self._notify(replace(group_snapshot, status=domain.AVAILABLE), "create.end",
                         finished)  # fmt: skip

    # Delete ----------------------------------------------------------------------------

    def delete(self, group_snapshot_id: str) -> None:
        loaded = self._load(group_snapshot_id, domain.DELETING)
        if loaded is None:
            return
        group_snapshot, members = loaded
        self.notifier.emit(self.publisher, "group_snapshot.delete.start",
                           group_snapshot_usage(group_snapshot))  # fmt: skip
        # Each member as a snapshot delete does it: storage, row, quota, capacity, and
        # its own snapshot.delete.start/.end.
        gone = [self.snapshots.delete(snapshot.id) for snapshot, _volume in members]
        with self.db.write() as conn:
            if not all(gone):
                if group_snapshots.update_group_snapshot(
                    conn,
                    group_snapshot.id,
                    {"status": domain.ERROR},
                    expected_status=domain.DELETING,
                ):
                    messages.add(conn, project_id=group_snapshot.project_id,
                                 event_id=GROUP_SNAPSHOT_DELETE_FAILED,
                                 resource_uuid=group_snapshot.id,
                                 resource_type="GROUP_SNAPSHOT",
                                 detail=f"{self.backend}: a member snapshot could not be "
                                        "deleted")  # fmt: skip
                LOG.error("Group snapshot %s: not every member could be deleted",
                          group_snapshot.id)  # fmt: skip
                return
            group_snapshots.remove(conn, group_snapshot.id)
        LOG.info("Group snapshot %s: deleted from %s", group_snapshot.id, self.backend)
        self.notifier.emit(self.publisher, "group_snapshot.delete.end",
                           group_snapshot_usage(replace(group_snapshot,
                                                        status=domain.DELETED)))  # fmt: skip

    # Recovery --------------------------------------------------------------------------

    def unfinished(self) -> list[dict[str, Any]]:
        """The requests of this backend's group snapshots left in a transition."""
        with self.db.read() as conn:
            pending = group_snapshots.on_backend(
                conn, self.backend, (domain.CREATING, domain.DELETING)
            )
        found = []
        for group_snapshot in pending:
            method = "create_group_snapshot" if group_snapshot.status == domain.CREATING \
                else "delete_group_snapshot"  # fmt: skip
            LOG.info("Group snapshot %s: resuming interrupted %s", group_snapshot.id, method)
            found.append({"method": method, "group_snapshot_id": group_snapshot.id})
        return found
