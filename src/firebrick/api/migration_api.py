"""``os-migrate_volume``, ``os-migrate_volume_completion`` and the start of a retype that
moves the volume: what the API checks and records before the scheduler takes over.

Firebrick has no compute service to swap an attached volume onto its copy (Nova's
swap_volume), so only detached volumes move: an attached one is refused (400) instead of
waiting for a hypervisor that never calls back. The backends copy and complete a
migration themselves; ``os-migrate_volume_completion`` with ``error`` aborts one in flight.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from firebrick.api.microversion import APIVersion
from firebrick.context import RequestContext
from firebrick.db import migration_state, quotas, services, snapshots, volumes
from firebrick.db import volume_migrations as journal
from firebrick.db.engine import Database
from firebrick.domain import migration, quota, statuses
from firebrick.domain.errors import Invalid, InvalidInput, InvalidVolume
from firebrick.domain.model import Volume, VolumeType
from firebrick.rpc.bus import SCHEDULER_TOPIC, Bus, cast_or_defer, volume_topic

MIGRATE_CLUSTER = APIVersion(3, 16)
REPLICATION_OK = {None, "disabled", "not-capable"}
NOT_MIGRATABLE = (
    "Volume {id} status must be available or in-use, must not be migrating, have "
    "snapshots, be replicated, be part of a group and destination host/cluster must be "
    "different than the current one"
)
ATTACHED = (
    "Volume {id} is attached: moving an attached volume needs the compute service to swap "
    "it onto its copy (Nova's swap_volume), which Firebrick does not have. Detach it first."
)


_TRUE = {"1", "t", "true", "on", "y", "yes"}
_FALSE = {"0", "f", "false", "off", "n", "no"}


def strict_bool(name: str, value: object) -> bool:
    """Cinder's parameter_types.boolean."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise InvalidInput(f"{name} must be a boolean, not {value!r}.")


class InvalidHost(Invalid):
    def __init__(self, reason: str) -> None:
        super().__init__(f"Invalid host: {reason}")


@dataclass(frozen=True)
class MigrateRequest:
    host: str | None
    cluster: str | None
    force_host_copy: bool
    lock_volume: bool


def _name(field: str, value: object, *, nullable: bool) -> str | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str) or len(value) > 255:
        raise InvalidInput(f"{field} must be a string of at most 255 characters.")
    return value


def parse_migrate(body: object, version: APIVersion) -> MigrateRequest:
    """Cinder's ``migrate_volume`` schemas (``migrate_volume_v316`` from 3.16)."""
    if not isinstance(body, dict):
        raise InvalidInput("os-migrate_volume must be an object.")
    clustered = version >= MIGRATE_CLUSTER
    allowed = {"host", "force_host_copy", "lock_volume"} | ({"cluster"} if clustered else set())
    unexpected = sorted(set(body) - allowed)
    if unexpected:
        raise InvalidInput(
            f"Additional properties are not allowed ({', '.join(map(repr, unexpected))} "
            f"{'was' if len(unexpected) == 1 else 'were'} unexpected)"
        )
    if not clustered and "host" not in body:
        raise InvalidInput("'host' is a required property")
    host = _name("host", body.get("host"), nullable=clustered)
    cluster = _name("cluster", body.get("cluster"), nullable=True)
    if bool(host) == bool(cluster):
        raise InvalidInput(
            "One and only one of cluster and host must be set."
            if clustered
            else "Host field is missing."
        )
    return MigrateRequest(
        host=host or None,
        cluster=cluster or None,
        force_host_copy=strict_bool("force_host_copy", body.get("force_host_copy", False)),
        lock_volume=strict_bool("lock_volume", body.get("lock_volume", False)),
    )


def parse_completion(body: object) -> tuple[str, bool]:
    """(new volume id, error) of ``os-migrate_volume_completion``."""
    if not isinstance(body, dict):
        raise InvalidInput("os-migrate_volume_completion must be an object.")
    unexpected = sorted(set(body) - {"new_volume", "error"})
    if unexpected:
        raise InvalidInput(f"Additional properties are not allowed ({unexpected[0]!r} was "
                           "unexpected)")  # fmt: skip
    new_volume = body.get("new_volume")
    if not isinstance(new_volume, str) or not new_volume:
        raise InvalidInput("'new_volume' is a required property and must be a volume id.")
    error = body.get("error")
    return new_volume, False if error is None else strict_bool("error", error)


def begin(
    conn: Connection,
    volume: Volume,
    *,
    requested_host: str | None,
    lock_volume: bool,
    new_type: VolumeType | None = None,
) -> None:
    """Journal a migration of ``volume`` and mark it, in the caller's transaction.

    A migration marks the volume ``migration_status: starting`` (``maintenance`` with
    ``lock_volume``); a retype marks it ``retyping`` and takes the new type's quota now, as
    Cinder reserves it, and its migration status moves only once it is placed.
    """
    if new_type is None:
        values: dict[str, Any] = {
            "migration_status": migration.STARTING,
            "previous_status": volume.status,
        }
        if lock_volume and volume.status == statuses.AVAILABLE:
            values["status"] = statuses.MAINTENANCE
    else:
        values = {"status": statuses.RETYPING, "previous_status": volume.status}
    moved = volumes.update(
        conn, volume.id, values,
        expected={"status": volume.status, "host": volume.host,
                  "migration_status": migration.NOT_MIGRATING},
    )  # fmt: skip
    if not moved or journal.find(conn, volume.id) is not None:
        raise InvalidVolume(NOT_MIGRATABLE.format(id=volume.id))
    if new_type is not None:
        moves = migration.retype_usage(volume.size, volume.volume_type_name, new_type.name)
        quotas.add_usage(conn, volume.project_id, moves)
    assert volume.host is not None
    journal.insert_migration(
        conn, volume_id=volume.id, source_host=volume.host, requested_host=requested_host,
        new_type_id=new_type.id if new_type else None, lock_volume=lock_volume,
        phase=migration.SCHEDULING,
    )  # fmt: skip


def check_retype_quota(
    conn: Connection, volume: Volume, new_type: VolumeType, limits: dict[str, int]
) -> None:
    """413 if the new type's per-type quota cannot take the volume."""
    usage = quotas.usage(conn, volume.project_id, lock=True)
    added = migration.per_type_usage(volume.size, new_type.name)
    quota.check(added, limits, usage)


def send_to_scheduler(bus: Bus, volume_id: str) -> None:
    cast_or_defer(bus, SCHEDULER_TOPIC, "migrate_volume", {"volume_id": volume_id})


@dataclass
class MigrationAPI:
    db: Database
    bus: Bus
    service_down_time: float

    def _volume(self, conn: Connection, ctx: RequestContext, volume_id: str) -> Volume:
        return volumes.get(conn, volume_id, None if ctx.is_admin else ctx.project_id)

    def _live_backend(self, conn: Connection, req: MigrateRequest) -> str:
        """``host@backend`` of the requested host: its volume service must be up and enabled."""
        if req.host is not None:
            backend = migration.backend_of(req.host)
            for service in services.list_services(conn, "cinder-volume"):
                if (service.host == backend and not service.disabled
                        and service.is_up(self.service_down_time)):  # fmt: skip
                    return backend
        # Firebrick has no clusters: a cluster never names an available service.
        raise InvalidHost(f"No available service named '{req.cluster or req.host}'")

    def migrate(
        self, ctx: RequestContext, volume_id: str, body: object, version: APIVersion
    ) -> None:
        req = parse_migrate(body, version)
        with self.db.write() as conn:
            volume = self._volume(conn, ctx, volume_id)
            backend = self._live_backend(conn, req)
            assert req.host is not None
            same_place = volume.host is not None and (
                volume.host == req.host
                or ("#" not in req.host and migration.backend_of(volume.host) == backend)
            )
            if (
                volume.status not in (statuses.AVAILABLE, statuses.IN_USE)
                or migration.is_migrating(volume.migration_status)
                or volume.replication_status not in REPLICATION_OK
                or volume.host is None
                or same_place
                or snapshots.of_volume(conn, volume_id)
            ):
                raise InvalidVolume(NOT_MIGRATABLE.format(id=volume_id))
            if volume.status == statuses.IN_USE:
                raise InvalidVolume(ATTACHED.format(id=volume_id))
            begin(conn, volume, requested_host=req.host, lock_volume=req.lock_volume)
        send_to_scheduler(self.bus, volume_id)

    def complete(self, ctx: RequestContext, volume_id: str, body: object) -> str:
        """Cinder's migrate_volume_completion; the id of the volume that lives on.

        Without a migration between the two (Nova swapping unrelated volumes) there is
        nothing to swap here: the new volume lives on. With one in flight, ``error`` aborts
        it; completing it is the backends' job once the data is copied.
        """
        new_volume_id, error = parse_completion(body)
        with self.db.write() as conn:
            volume = self._volume(conn, ctx, volume_id)
            new_volume = self._volume(conn, ctx, new_volume_id)
            if not (volume.migration_status or new_volume.migration_status):
                return new_volume.id
            if not volume.migration_status:
                raise InvalidVolume("Source volume not mid-migration.")
            if not new_volume.migration_status:
                raise InvalidVolume("Destination volume not mid-migration.")
            expected = migration.target_status(volume.id)
            if new_volume.migration_status != expected:
                raise InvalidVolume(
                    f"Destination has migration_status {new_volume.migration_status}, "
                    f"expected {expected}."
                )
            if not error:
                raise InvalidVolume(
                    f"Volume {volume.id} is copied by its backends, which complete its "
                    "migration themselves; only error=true (abort) applies."
                )
            found = journal.find(conn, volume.id)
            aborted = found is not None and journal.advance(
                conn, volume.id, {"phase": migration.ABORTING},
                phases=migration.ON_DESTINATION - {migration.ABORTING},
            )  # fmt: skip
            if found is None or (not aborted and found.phase != migration.ABORTING):
                raise InvalidVolume("Source volume not mid-migration.")
            assert found.dest_host is not None
            dest = migration.backend_of(found.dest_host)
            failed = None
            if dest not in self._live_backends(conn):
                # Nobody would roll it back now: do it here; the copy's storage goes when
                # its service is back (it resumes its deletes at start).
                failed = migration_state.fail(
                    conn, volume.id, "aborted by an administrator (os-migrate_volume_completion)"
                )
        if failed is not None:
            if failed.target is not None:
                cast_or_defer(self.bus, volume_topic(dest), "delete_volume",
                              {"volume_id": failed.target.id})  # fmt: skip
            # The source may hold an export for the destination (a no-op if it does not).
            cast_or_defer(self.bus, volume_topic(migration.backend_of(found.source_host)),
                          "migration_unexport",
                          {"volume_id": volume.id, "target_id": found.target_id})  # fmt: skip
        else:
            # The destination rolls it back, stopping its copy first if one is running.
            cast_or_defer(self.bus, volume_topic(dest), "migrate_volume",
                          {"volume_id": volume.id})  # fmt: skip
        return volume.id

    def _live_backends(self, conn: Connection) -> set[str]:
        return {
            s.host
            for s in services.list_services(conn, "cinder-volume")
            if s.is_up(self.service_down_time)
        }
