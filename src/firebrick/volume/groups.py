"""What a volume service does for generic volume groups on its backend.

The drivers have no native group support, so the work is done the way Cinder's generic
group implementation does it: a group is a record (create and update change nothing on
the backend), deleting a group deletes each member volume, and a group created from a
source makes each member volume from the matching snapshot or source volume, one after
another, with nothing written in between.

Every request is safe to repeat: a service that stops in the middle finds the group in
its transitional status when it starts again and runs the request once more.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from firebrick.db import groups, messages, quotas, snapshots, volumes
from firebrick.db.engine import Database
from firebrick.domain import groups as domain
from firebrick.domain import statuses
from firebrick.domain.groups import Group
from firebrick.domain.model import Volume
from firebrick.notifier import Notifier, group_usage, volume_usage
from firebrick.rpc.bus import Bus, cast_or_defer, volume_topic
from firebrick.volume.drivers.base import VolumeDriver
from firebrick.volume.group_snapshots import GroupSnapshotWorker

LOG = logging.getLogger("firebrick.volume")

GROUP_CREATE_FAILED = "VOLUME_GROUP_101_012"
GROUP_DELETE_FAILED = "VOLUME_GROUP_102_001"
COPYING = "copying_members"  # the journal: the members are being made from the source

OnlyOnce = Callable[[str], AbstractContextManager[bool]]


class GroupWorker:
    def __init__(
        self,
        *,
        db: Database,
        bus: Bus,
        driver: VolumeDriver,
        notifier: Notifier,
        backend: str,
        delete_volume: Callable[[str], None],
        only_once: OnlyOnce,
        group_snapshots: GroupSnapshotWorker,
    ) -> None:
        self.db = db
        self.bus = bus
        self.driver = driver
        self.notifier = notifier
        self.backend = backend  # host@backend
        self.delete_volume = delete_volume
        self.only_once = only_once
        self.group_snapshots = group_snapshots

    @property
    def publisher(self) -> str:
        return f"group.{self.backend}"

    def handle(self, method: str, payload: dict[str, Any]) -> bool:
        """Run a group request; whether ``method`` was one."""
        if method in ("create_group_snapshot", "delete_group_snapshot"):
            with self.only_once(payload["group_snapshot_id"]) as first:
                if first and method == "create_group_snapshot":
                    self.group_snapshots.create(payload["group_snapshot_id"])
                elif first:
                    self.group_snapshots.delete(payload["group_snapshot_id"])
            return True
        work: dict[str, Callable[[str], None]] = {
            "create_group": self.create_group,
            "create_group_from_src": self.create_from_src,
            "update_group": self.update_group,
            "delete_group": self.delete_group,
        }
        if method not in work:
            return False
        with self.only_once(payload["group_id"]) as first:
            if first:
                work[method](payload["group_id"])
        return True

    def _notify(self, group: Group, suffix: str, members: list[Volume] | None = None) -> None:
        """``group.<suffix>``, then ``volume.<suffix>`` for each member (Cinder's)."""
        self.notifier.emit(self.publisher, f"group.{suffix}", group_usage(group))
        for volume in members or []:
            self.notifier.emit(f"volume.{self.backend}", f"volume.{suffix}", volume_usage(volume))

    def _find(self, group_id: str, status: str) -> Group | None:
        with self.db.read() as conn:
            group = groups.find(conn, group_id)
        if group is None or group.status != status or group.backend != self.backend:
            return None  # gone, already done, or not ours
        return group

    # Create, update --------------------------------------------------------------------

    def create_group(self, group_id: str) -> None:
        group = self._find(group_id, domain.CREATING)
        if group is None:
            return
        self._notify(group, "create.start")
        if not self.driver.initialized:
            self._error(group, GROUP_CREATE_FAILED, "the volume driver is not initialized")
            return
        # Generic groups are records only: nothing to make on the backend.
        with self.db.write() as conn:
            done = groups.update_group(conn, group.id, {"status": domain.AVAILABLE},
                                       expected_status=domain.CREATING)  # fmt: skip
        if done:
            LOG.info("Group %s: created on %s", group.id, self.backend)
            group.status = domain.AVAILABLE
            self._notify(group, "create.end")

    def update_group(self, group_id: str) -> None:
        """The API already moved the members (under the group's status ``updating``)."""
        group = self._find(group_id, domain.UPDATING)
        if group is None:
            return
        self._notify(group, "update.start")
        with self.db.write() as conn:
            done = groups.update_group(conn, group.id, {"status": domain.AVAILABLE},
                                       expected_status=domain.UPDATING)  # fmt: skip
        if done:
            group.status = domain.AVAILABLE
            self._notify(group, "update.end")

    def _error(self, group: Group, event_id: str, reason: str) -> None:
        LOG.error("Group %s: %s", group.id, reason)
        with self.db.write() as conn:
            if groups.update_group(conn, group.id, {"status": domain.ERROR},
                                   expected_status=group.status):  # fmt: skip
                messages.add(conn, project_id=group.project_id, event_id=event_id,
                             resource_uuid=group.id, resource_type="GROUP",
                             detail=f"{self.backend}: {reason}")  # fmt: skip

    # Create from a source --------------------------------------------------------------

    def create_from_src(self, group_id: str) -> None:
        group = self._find(group_id, domain.CREATING)
        if group is None:
            return
        with self.db.read() as conn:
            members = [v for v in groups.members(conn, group.id)
                       if v.status == statuses.CREATING]  # fmt: skip
            sources = {v.id: _source(conn, v) for v in members}
        self._notify(group, "create.start", members)
        interrupted = group.task_state == COPYING
        if not interrupted:
            with self.db.write() as conn:
                groups.update_group(conn, group.id, {"task_state": COPYING})
        if interrupted and group.source_group_id:
            # Clones of a source group are made together; an interrupted run may have made
            # some of them earlier than the others, so what it left is made again (the
            # first pass completes what the driver had half done: its calls resume).
            completed, _failed = self._copy(members, sources)
            for volume in members:
                if volume.id in completed:
                    self.driver.delete_volume(volume)
        updates, failures = self._copy(members, sources)
        self._finish(group, members, sources, updates, failures)

    def _copy(
        self, members: list[Volume], sources: dict[str, Any]
    ) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
        """Each member from its source, back to back: the driver's updates, the failures."""
        updates: dict[str, dict[str, Any]] = {}
        failures: dict[str, str] = {}
        for volume in members:
            source = sources[volume.id]
            try:
                if source is None:
                    raise RuntimeError("its source is gone")
                if volume.snapshot_id:
                    update = self.driver.create_volume_from_snapshot(volume, source)
                else:
                    update = self.driver.create_cloned_volume(volume, source)
                updates[volume.id] = update or {}
            except Exception as exc:
                failures[volume.id] = str(exc) or type(exc).__name__
        return updates, failures

    def _finish(self, group: Group, members: list[Volume], sources: dict[str, Any],
                updates: dict[str, dict[str, Any]], failures: dict[str, str]) -> None:  # fmt: skip
        stamp = volumes.now()
        with self.db.write() as conn:
            for volume in members:
                if volume.id in failures:
                    volumes.update(conn, volume.id, {"status": statuses.ERROR, "task_state": None})
                    continue
                origin = sources[volume.id]
                parent = volumes.find(conn, origin.volume_id) if volume.snapshot_id else origin
                volumes.update(conn, volume.id, {
                    "status": statuses.AVAILABLE, "launched_at": stamp, "task_state": None,
                    "provider_location": updates[volume.id].get("provider_location"),
                    "bootable": bool(parent and parent.bootable),
                }, expected={"status": statuses.CREATING})  # fmt: skip
            status = domain.ERROR if failures else domain.AVAILABLE
            groups.update_group(conn, group.id, {"status": status, "task_state": None},
                                expected_status=domain.CREATING)  # fmt: skip
            if failures:
                detail = "; ".join(f"volume {vid}: {why}" for vid, why in failures.items())
                messages.add(conn, project_id=group.project_id, event_id=GROUP_CREATE_FAILED,
                             resource_uuid=group.id, resource_type="GROUP",
                             detail=f"{self.backend}: {detail}")  # fmt: skip
            done = groups.members(conn, group.id)
        if failures:
            LOG.error("Group %s: create from source failed for %d of %d volumes",
                      group.id, len(failures), len(members))  # fmt: skip
            return
        LOG.info("Group %s: created from source with %d volumes", group.id, len(members))
        group.status = domain.AVAILABLE
        self._notify(group, "create.end", done)

    # Delete ----------------------------------------------------------------------------

    def delete_group(self, group_id: str) -> None:
        group = self._find(group_id, domain.DELETING)
        if group is None:
            return
        with self.db.read() as conn:
            members = groups.members(conn, group.id)
        self.notifier.emit(self.publisher, "group.delete.start", group_usage(group))
        for volume in members:
            if volume.status == statuses.DELETING:
                self.delete_volume(volume.id)  # volume.delete.start/.end, quota, capacity
        with self.db.write() as conn:
            left = groups.members(conn, group.id)
            if any(v.status == statuses.DELETING for v in left):
                return  # still being deleted elsewhere: the request is sent again later
            if left:
                reason = ", ".join(f"volume {v.id} is {v.status}" for v in left)
                if groups.update_group(conn, group.id, {"status": domain.ERROR},
                                       expected_status=domain.DELETING):  # fmt: skip
                    messages.add(
                        conn,
                        project_id=group.project_id,
                        event_id=GROUP_DELETE_FAILED,
                        resource_uuid=group.id,
                        resource_type="GROUP",
                        detail=f"{self.backend}: {reason}",
                    )
                LOG.error("Group %s: not deleted: %s", group.id, reason)
                return
            groups.remove(conn, group.id)
            quotas.add_usage(conn, group.project_id, {"groups": -1})
        LOG.info("Group %s: deleted from %s", group.id, self.backend)
        group.status = domain.DELETED
        self.notifier.emit(self.publisher, "group.delete.end", group_usage(group))

    # Recovery --------------------------------------------------------------------------

    def resume(self) -> None:
        """Send again, to this service, every group request left unfinished here."""
        topic = volume_topic(self.backend)
        with self.db.read() as conn:
            pending = groups.on_backend(
                conn, self.backend, (domain.CREATING, domain.UPDATING, domain.DELETING)
            )
        for group in pending:
            method = {domain.UPDATING: "update_group", domain.DELETING: "delete_group"}.get(
                group.status,
                "create_group_from_src" if group.group_snapshot_id or group.source_group_id
                else "create_group",
            )  # fmt: skip
            LOG.info("Group %s: resuming interrupted %s", group.id, method)
            cast_or_defer(self.bus, topic, method, {"group_id": group.id})
        for payload in self.group_snapshots.unfinished():
            cast_or_defer(self.bus, topic, payload.pop("method"), payload)


def _source(conn: Any, volume: Volume) -> Any:
    """The snapshot or the volume a member is made from (None when it is gone)."""
    if volume.snapshot_id:
        return snapshots.find(conn, volume.snapshot_id)
    return volumes.find(conn, volume.source_volid) if volume.source_volid else None
