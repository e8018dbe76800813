"""The api role's side of volume transfers (Cinder's ``cinder/transfer/api.py``).

Everything a transfer changes is a change of record: the volume's owner, its snapshots'
owners and both projects' quota usage move in one transaction, so an accept either
happens whole or not at all. The volume's data is not touched.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from sqlalchemy import Connection

from firebrick.api.transfer_requests import TransferCreateRequest, TransferListQuery
from firebrick.config import QuotaDefaults
from firebrick.context import RequestContext
from firebrick.db import quotas, snapshots, transfers, volumes
from firebrick.db.engine import Database
from firebrick.domain import quota, statuses
from firebrick.domain import transfers as domain
from firebrick.domain.errors import InvalidSnapshot, InvalidVolume
from firebrick.domain.model import Snapshot, Volume
from firebrick.domain.transfers import InvalidAuthKey, Transfer
from firebrick.notifier import Notifier, volume_usage
from firebrick.policy import authorize

LOG = logging.getLogger("firebrick.api")

AWAITING_TRANSFER = "awaiting-transfer"
# A volume on its way to another backend is not offered (Cinder leaves it to the
# migration to hold the volume; Firebrick says no up front).
_MIGRATING = frozenset({"starting", "migrating", "completing"})


@dataclass
class Created:
    transfer: Transfer
    auth_key: str  # shown once, in the create answer, and kept nowhere


@dataclass
class TransferAPI:
    db: Database
    notifier: Notifier
    host: str
    quota_defaults: QuotaDefaults

    def _project(self, ctx: RequestContext) -> str | None:
        return None if ctx.is_admin else ctx.project_id

    def _notify(self, event: str, volume: Volume) -> None:
        self.notifier.emit(f"volume.{self.host}", f"volume.transfer.{event}", volume_usage(volume))

    # Reading -------------------------------------------------------------------------

    def get(self, ctx: RequestContext, transfer_id: str) -> Transfer:
        with self.db.read() as conn:
            return transfers.get(conn, transfer_id, self._project(ctx))

    def list_transfers(self, ctx: RequestContext, query: TransferListQuery) -> list[Transfer]:
        if query.filters is None:
            return []
        project = query.project_id if query.all_tenants else ctx.project_id
        with self.db.read() as conn:
            return transfers.list_transfers(
                conn, project_id=project, filters=query.filters, sort=query.sort,
                limit=query.limit, marker=query.marker, offset=query.offset,
            )  # fmt: skip

    def count(self, ctx: RequestContext, query: TransferListQuery) -> int:
        if query.filters is None:
            return 0
        project = query.project_id if query.all_tenants else ctx.project_id
        with self.db.read() as conn:
            return transfers.count(conn, project_id=project, filters=query.filters)

    # Offering ------------------------------------------------------------------------

    def create(self, ctx: RequestContext, req: TransferCreateRequest) -> Created:
        """Offer an ``available`` volume: it waits in ``awaiting-transfer`` for a taker."""
        transfer_id = str(uuid.uuid4())
        auth_key = domain.new_auth_key()
        secret = domain.seal(auth_key)
        LOG.info("Generating transfer record for volume %s", req.volume_id)
        with self.db.write() as conn:
            volume = volumes.get(conn, req.volume_id, self._project(ctx))
            authorize(ctx, "volume:create_transfer", volume.project_id)
            if volume.status != statuses.AVAILABLE:
                raise InvalidVolume("status must be available")
            if volume.migration_status in _MIGRATING:
                raise InvalidVolume(f"Volume {volume.id} is being migrated.")
            if not req.no_snapshots:
                for snapshot in snapshots.of_volume(conn, volume.id):
                    if snapshot.status != statuses.AVAILABLE:
                        raise InvalidSnapshot(f"snapshot: {snapshot.id} status must be available")
            self._notify("create.start", volume)
            stamp = volumes.now()
            if not volumes.update(conn, volume.id, {"status": AWAITING_TRANSFER},
                                  expected={"status": statuses.AVAILABLE}):  # fmt: skip
                raise InvalidVolume(
                    f"Transfer {transfer_id}: Volume id {volume.id} expected in available state."
                )
            if transfers.retire_stale(conn, volume.id):
                LOG.warning("Retired the stale offers of volume %s", volume.id)
            transfers.insert_transfer(conn, {
                "id": transfer_id, "volume_id": volume.id, "display_name": req.name,
                "salt": secret.salt, "crypt_hash": secret.crypt_hash,
                "no_snapshots": req.no_snapshots, "source_project_id": volume.project_id,
                "created_at": stamp,
            })  # fmt: skip
        self._notify("create.end", volume)
        transfer = Transfer(
            id=transfer_id, volume_id=volume.id, name=req.name, created_at=stamp,
            no_snapshots=req.no_snapshots, source_project_id=volume.project_id,
        )  # fmt: skip
        return Created(transfer=transfer, auth_key=auth_key)

    def delete(self, ctx: RequestContext, transfer_id: str) -> None:
        """Withdraw the offer: the volume is ``available`` to its owner again."""
        with self.db.write() as conn:
            transfer = transfers.get(conn, transfer_id, self._project(ctx))
            volume = volumes.get(conn, transfer.volume_id)
            authorize(ctx, "volume:delete_transfer", volume.project_id)
            self._notify("delete.start", volume)
            if not volumes.update(conn, volume.id, {"status": statuses.AVAILABLE},
                                  expected={"status": AWAITING_TRANSFER}):  # fmt: skip
                # Cinder leaves such a volume as it is and retires the transfer anyway.
                LOG.error("Transfer %s: Volume expected in awaiting-transfer state.", transfer_id)
            if not transfers.mark_deleted(conn, transfer_id):
                raise domain.TransferNotFound(transfer_id)  # taken meanwhile
        LOG.info("Deleted transfer %s of volume %s", transfer_id, volume.id)
        self._notify("delete.end", volume)

    # Taking --------------------------------------------------------------------------

    def accept(self, ctx: RequestContext, transfer_id: str, auth_key: str) -> Transfer:
        """Give the volume (and its snapshots) to the caller's project and user.

        Any project may accept a transfer it knows the id and key of. Quota usage moves
        from the giving to the taking project, checked against the taker's limits first:
        over them, nothing moves (413).
        """
        with self.db.write() as conn:
            transfer = transfers.get(conn, transfer_id)
            if not domain.opens(transfers.secret(conn, transfer_id), auth_key):
                LOG.error("Attempt to transfer %s with invalid auth key.", transfer_id)
                raise InvalidAuthKey(f"Attempt to transfer {transfer_id} with invalid auth key.")
            volume = volumes.get(conn, transfer.volume_id)
            moved_snapshots = [] if transfer.no_snapshots else snapshots.of_volume(conn, volume.id)
            deltas = self._check_quota(conn, ctx.project_id, volume, moved_snapshots)
            self._notify("accept.start", volume)
            if volume.status == statuses.MAINTENANCE:
                raise InvalidVolume("The volume cannot accept transfer in maintenance mode.")
            owner = {"user_id": ctx.user_id, "project_id": ctx.project_id}
            if not volumes.update(conn, volume.id, {"status": statuses.AVAILABLE, **owner},
                                  expected={"status": AWAITING_TRANSFER}):  # fmt: skip
                raise InvalidVolume(
                    f"Transfer {transfer_id}: Volume id {volume.id} expected in "
                    "awaiting-transfer state."
                )
            for snapshot in moved_snapshots:
                if not snapshots.update(conn, snapshot.id, owner,
                                        expected_status=statuses.AVAILABLE):  # fmt: skip
                    raise InvalidSnapshot(
                        f"Transfer {transfer_id}: Snapshot {snapshot.id} is not in the "
                        "expected available state."
                    )
            if not transfers.mark_accepted(conn, transfer_id, ctx.project_id):
                raise domain.TransferNotFound(transfer_id)
            quotas.add_usage(conn, ctx.project_id, deltas)
            quotas.add_usage(conn, volume.project_id, domain.negated(deltas))
            taken = volumes.get(conn, volume.id)
        LOG.info("Volume %s has been transferred.", volume.id)
        self._notify("accept.end", taken)
        return transfer

    def _check_quota(
        self, conn: Connection, taker: str, volume: Volume, moved: list[Snapshot]
    ) -> dict[str, int]:
        """The usage the transfer moves, after checking that the taker has room for it.

        Both projects' usage is locked (in a fixed order, so that two transfers crossing
        between the same projects cannot deadlock). The volume is checked first, then its
        snapshots on top of it, as Cinder reserves them.
        """
        locked: dict[str, dict[str, int]] = {}
        for project in sorted({taker, volume.project_id}):
            locked[project] = quotas.usage(conn, project, lock=True)
        limits = quotas.limits(conn, taker, quota.defaults_dict(self.quota_defaults))
        quota.check_volume_size(volume.size, limits)
        volume_part = domain.volume_deltas(volume.size, volume.volume_type_name)
        quota.check(volume_part, limits, locked[taker])
        snapshot_part = domain.snapshot_deltas(
            (s.volume_size for s in moved), volume.volume_type_name
        )
        if snapshot_part:
            quota.check(snapshot_part, limits, domain.plus(locked[taker], volume_part))
        return domain.plus(volume_part, snapshot_part)
