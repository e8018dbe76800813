"""``firebrick volume-usage-audit``: Cinder's ``cinder-volume-usage-audit``.

For one period (the last completed ``volume_usage_audit_period``, or ``--start_time`` to
``--end_time``) it sends ``volume.exists``, ``snapshot.exists`` and ``backup.exists`` for
every volume, snapshot and backup that existed at any time in it, deleted ones included,
each payload with ``audit_period_beginning`` and ``audit_period_ending``: what Ceilometer
and billing tools count usage from. With ``--send_actions`` it also sends again the
``create.start``/``.end`` of those created in the period and the ``delete.start``/``.end``
of those deleted in it, their audit period being that moment. Publishers are ``volume.<host>``,
``snapshot.<host>`` and ``backup.<host>`` (this host), at INFO, as Cinder's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from firebrick.db import backups, deleted_resources, snapshots, volumes
from firebrick.db.engine import Database
from firebrick.domain.backups import backup_usage
from firebrick.notifier import Notifier, snapshot_usage, volume_usage

LOG = logging.getLogger("firebrick.notifications")

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def parse_time(value: str) -> datetime:
    """``--start_time``/``--end_time``: ``YYYY-MM-DD HH:MM:SS`` (UTC), as Cinder reads them."""
    return datetime.strptime(value, TIME_FORMAT)


def stamp(value: datetime) -> str:
    """A time as Cinder's audit writes it: ``str()`` of an aware UTC datetime."""
    return str(value.replace(tzinfo=UTC))


@dataclass
class Resource:
    """One audited volume or snapshot: its usage payload and its lifetime."""

    kind: str  # volume, snapshot, backup
    usage: dict[str, Any]
    created_at: datetime
    deleted_at: datetime | None = None


@dataclass
class AuditResult:
    counts: dict[str, int] = field(default_factory=dict)
    failures: int = 0


@dataclass
class UsageAudit:
    db: Database
    notifier: Notifier
    host: str

    def resources(self, begin: datetime, end: datetime) -> list[Resource]:
        """Every volume, snapshot, then backup that existed at some time in [begin, end)."""
        found: list[Resource] = []
        with self.db.read() as conn:
            for volume in volumes.created_before(conn, end):
                found.append(Resource("volume", volume_usage(volume), volume.created_at))
            found += self._deleted(conn, "volume", begin, end)
            for snapshot, zone in snapshots.created_before(conn, end):
                usage = snapshot_usage(snapshot, zone)
                found.append(Resource("snapshot", usage, snapshot.created_at))
            found += self._deleted(conn, "snapshot", begin, end)
            for backup, deleted_at in backups.existed_in(conn, begin, end):
                found.append(Resource("backup", backup_usage(backup), backup.created_at,
                                      deleted_at))  # fmt: skip
        return found

    @staticmethod
    def _deleted(conn: Any, kind: str, begin: datetime, end: datetime) -> list[Resource]:
        return [
            Resource(kind, usage, created_at, deleted_at)
            for created_at, deleted_at, usage in deleted_resources.deleted_in_window(
                conn, kind, begin, end
            )
        ]

    def run(self, begin: datetime, end: datetime, *, send_actions: bool) -> AuditResult:
        LOG.info("Starting volume usage audit: usages for %s until %s", stamp(begin), stamp(end))
        period = {"audit_period_beginning": stamp(begin), "audit_period_ending": stamp(end)}
        result = AuditResult()
        for resource in self.resources(begin, end):
            result.counts[resource.kind] = result.counts.get(resource.kind, 0) + 1
            send = self._sender(resource)
            try:
                send("exists", period)
                if send_actions and begin < resource.created_at < end:
                    moment = {"audit_period_beginning": stamp(resource.created_at),
                              "audit_period_ending": stamp(resource.created_at)}  # fmt: skip
                    send("create.start", moment)
                    send("create.end", moment)
                gone = resource.deleted_at
                if send_actions and gone is not None and begin < gone < end:
                    moment = {"audit_period_beginning": stamp(gone),
                              "audit_period_ending": stamp(gone)}  # fmt: skip
                    send("delete.start", moment)
                    send("delete.end", moment)
            except Exception:
                result.failures += 1
                LOG.exception("Usage notification of a %s failed", resource.kind)
        for kind, count in result.counts.items():
            LOG.info("Found %d %ss", count, kind)
        LOG.info("Volume usage audit completed")
        return result

    def _sender(self, resource: Resource) -> Callable[[str, dict[str, str]], None]:
        publisher = f"{resource.kind}.{self.host}"

        def send(suffix: str, period: dict[str, str]) -> None:
            self.notifier.emit(publisher, f"{resource.kind}.{suffix}",
                               {**resource.usage, **period})  # fmt: skip

        return send
