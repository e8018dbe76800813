"""iSCSI through tgt (the Linux SCSI target framework, Debian package ``tgt``).

One ``tgtd`` per volume service, on its own control port (``tgtd -C N``, socket
``/run/tgtd/socket.N``), listening on one portal. One target per volume,
``<target_prefix>volume-<id>``, with the volume file as LUN 1 (bstype ``rdwr``, raw files
only: tgt has no qcow2 backing store). Access needs both:

* the connector's ``initiator`` IQN on the target's ACL (one entry per attaching host), and
* a CHAP account of the attachment (one per attachment, bound to the target).

tgt checks CHAP per target, not per initiator: any account bound to a target opens it from
any initiator on its ACL, so two hosts attached to one multiattach volume could swap
credentials. The LUN is read-only when every attachment of the volume is read-only.

The record of what is exported (with the CHAP secrets, so export is idempotent and a
restarted ``tgtd`` can be refilled) is ``state_dir/tgt-exports.json`` (0600). ``start()``
adopts a running ``tgtd`` on the control port, or starts one, then makes it match the
record: missing targets, LUNs, accounts and ACL entries are added, foreign ones removed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from firebrick.targets.base import (
    RBD_FORMAT,
    Credentials,
    Export,
    TargetError,
    check_id,
    source_exists,
    source_path,
)
from firebrick.targets.runner import Runner, SystemRunner
from firebrick.targets.state import StateFile, private_dir
from firebrick.targets.tgt_admin import (
    LunInfo,
    TargetInfo,
    TgtSettings,
    check_credentials,
    generate_credentials,
    initiator_of,
    is_iqn,
    parse_list,
    parse_targets,
)
from firebrick.targets.tgt_daemon import TgtDaemon

LOG = logging.getLogger(__name__)

LUN = 1


class TgtTarget:
    """Exports raw volume files as iSCSI LUNs through a private ``tgtd``."""

    protocol = "iscsi"

    def __init__(self, settings: TgtSettings, runner: Runner | None = None) -> None:
        self.settings = settings
        self.runner: Runner = runner or SystemRunner()
        self.state = StateFile(settings.state_dir / "tgt-exports.json")
        self.daemon = TgtDaemon(settings, self.runner)
        self._lock = threading.RLock()

    # -- daemon ---------------------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            private_dir(self.settings.state_dir)
            if self.daemon.responding():
                LOG.info("Adopting tgtd on control port %d", self.settings.control_port)
                self.daemon.ensure_portal()
            else:
                self.daemon.start_daemon()
            self._reconcile()

    def stop(self) -> None:
        with self._lock:
            if self.daemon.responding():
                for info in self._our_targets().values():
                    self._adm(
                        "--op", "delete", "--mode", "target", "--tid", str(info.tid), "--force"
                    )
                for user in self._accounts():
                    self._adm("--op", "delete", "--mode", "account", "--user", user, check=False)
                self.daemon.system_delete()
            else:
                self.daemon.terminate()
            self.state.save({})
            self.daemon.pid_file.unlink(missing_ok=True)

    # -- exports --------------------------------------------------------------------------

    def export(
        self,
        volume_id: str,
        path: Path,
        fmt: str,
        attachment_id: str,
        connector: Mapping[str, Any],
        credentials: Credentials | None = None,
        readonly: bool = False,
        qos: Mapping[str, object] | None = None,
    ) -> Export:
        check_id("volume id", volume_id)
        check_id("attachment id", attachment_id)
        initiator = initiator_of(connector)
        if qos:
            # tgt has no per-LUN rate limits: back-end QoS is not enforced on iSCSI exports.
            LOG.warning("Volume %s: tgt applies no rate limits; QoS keys %s not enforced",
                        volume_id, ", ".join(sorted(qos)))  # fmt: skip
        if fmt not in ("raw", RBD_FORMAT):
            raise TargetError(
                f"Volume {volume_id} is a {fmt} file; the tgt iSCSI target serves raw files only "
                "(and RBD images; use target_protocol = nbd, or raw volumes)."
            )
        if credentials is not None:
            check_credentials(credentials)
        path = source_path(volume_id, path, fmt)
        with self._lock:
            data = self.state.load()
            record = data.setdefault(volume_id, {"path": str(path), "attachments": {}})
            attachments: dict[str, Any] = record["attachments"]
            if attachments and record["path"] != str(path):
                raise TargetError(f"Volume {volume_id} is already exported from another file.")
            record["path"] = str(path)
            previous = attachments.get(attachment_id)
            if credentials is None:
                credentials = (
                    Credentials(previous["username"], previous["password"])
                    if previous
                    else generate_credentials()
                )
            self._check_username_free(data, volume_id, attachment_id, credentials)
            renewed = previous is not None and (
                previous["username"],
                previous["password"],
            ) != (credentials.username, credentials.password)
            attachments[attachment_id] = {
                "initiator": initiator,
                "username": credentials.username,
                "password": credentials.password,
                "readonly": bool(readonly),
            }
            self.state.save(data)
            try:
                if renewed and previous:
                    self._drop_account(volume_id, previous["username"])
                self._converge(volume_id, record)
            except Exception:
                self._revert(volume_id, attachment_id, previous)
                raise
            LOG.info(
                "Exported volume %s to %s for attachment %s", volume_id, initiator, attachment_id
            )
            return Export(self._data(volume_id, credentials), credentials)

    def unexport(self, volume_id: str, attachment_id: str) -> None:
        check_id("volume id", volume_id)
        check_id("attachment id", attachment_id)
        with self._lock:
            data = self.state.load()
            record = data.get(volume_id)
            if record is not None:
                record["attachments"].pop(attachment_id, None)
            if record is None or not record["attachments"]:
                data.pop(volume_id, None)
                self.state.save(data)
                if self.daemon.responding():
                    self._remove_target(volume_id, record)
            else:
                self.state.save(data)
                if self.daemon.responding():
                    self._converge(volume_id, record)
            LOG.info("Unexported volume %s for attachment %s", volume_id, attachment_id)

    def exported(self) -> dict[str, set[str]]:
        with self._lock:
            data = self.state.load()
        return {vol: set(rec["attachments"]) for vol, rec in data.items() if rec["attachments"]}

    # -- internals ------------------------------------------------------------------------

    def _iqn(self, volume_id: str) -> str:
        return f"{self.settings.prefix}volume-{volume_id}"

    def _data(self, volume_id: str, credentials: Credentials) -> dict[str, Any]:
        return {
            "target_discovered": False,
            "target_iqn": self._iqn(volume_id),
            "target_portal": self.settings.portal,
            "target_lun": LUN,
            "volume_id": volume_id,
            "auth_method": "CHAP",
            "auth_username": credentials.username,
            "auth_password": credentials.password,
            "discard": False,
        }

    def _adm(self, *args: str, check: bool = True, secrets: Sequence[str] = ()) -> str:
        return self.daemon.adm(*args, check=check, secrets=secrets)

    def _targets(self) -> dict[str, TargetInfo]:
        return parse_targets(self._adm("--op", "show", "--mode", "target"))

    def _our_targets(self) -> dict[str, TargetInfo]:
        return {
            iqn: info
            for iqn, info in self._targets().items()
            if iqn.startswith(self.settings.prefix + "volume-")
        }

    def _accounts(self) -> set[str]:
        return parse_list(self._adm("--op", "show", "--mode", "account"), "Account list:")

    @staticmethod
    def _check_username_free(
        data: dict[str, Any], volume_id: str, attachment_id: str, credentials: Credentials
    ) -> None:
        for vol, record in data.items():
            for att, entry in record["attachments"].items():
                if (vol, att) != (volume_id, attachment_id) and (
                    entry["username"] == credentials.username
                ):
                    raise ValueError("The CHAP username is already used by another attachment.")

    def _revert(self, volume_id: str, attachment_id: str, previous: dict[str, Any] | None) -> None:
        """Reversion of a failed export: back to the attachment's previous entry (or none),
        best effort; the export's own error is the one that matters."""
        try:
            if previous is None:
                self.unexport(volume_id, attachment_id)
                return
            data = self.state.load()
            data[volume_id]["attachments"][attachment_id] = previous
            self.state.save(data)
            self._converge(volume_id, data[volume_id])
        except Exception as exc:
            LOG.warning("Could not revert the export of volume %s: %s", volume_id, exc)

    def _drop_account(self, volume_id: str, username: str) -> None:
        info = self._targets().get(self._iqn(volume_id))
        if info is not None and username in info.accounts:
            self._adm(
                "--op", "unbind", "--mode", "account", "--tid", str(info.tid), "--user", username
            )
        if username in self._accounts():
            self._adm("--op", "delete", "--mode", "account", "--user", username)

    def _remove_target(self, volume_id: str, record: dict[str, Any] | None) -> None:
        info = self._targets().get(self._iqn(volume_id))
        users = set(info.accounts if info else ())
        users |= {entry["username"] for entry in (record or {}).get("attachments", {}).values()}
        if info is not None:
            self._adm("--op", "delete", "--mode", "target", "--tid", str(info.tid), "--force")
        existing = self._accounts()
        for user in users & existing:
            self._adm("--op", "delete", "--mode", "account", "--user", user)

    def _converge(self, volume_id: str, record: dict[str, Any]) -> None:
        """Make tgtd's target for the volume match the record: LUN, accounts, ACL."""
        iqn = self._iqn(volume_id)
        targets = self._targets()
        info = targets.get(iqn)
        if info is None:
            new_tid = max((t.tid for t in targets.values()), default=0) + 1
            self._adm("--op", "new", "--mode", "target", "--tid", str(new_tid), "--targetname", iqn)
            info = TargetInfo(new_tid, iqn)
        tid = str(info.tid)
        attachments: dict[str, dict[str, Any]] = record["attachments"]
        readonly = all(entry["readonly"] for entry in attachments.values())
        lun = info.luns.get(LUN)
        store, bstype, bs_args = backing_store(record["path"])
        if lun is not None and lun.path != store:
            self._adm("--op", "delete", "--mode", "logicalunit", "--tid", tid, "--lun", str(LUN))
            lun = None
        if lun is None:
            self._adm(
                "--op", "new", "--mode", "logicalunit", "--tid", tid, "--lun", str(LUN),
                "--bstype", bstype, "--backing-store", store, *bs_args,
            )  # fmt: skip
            lun = LunInfo(store, readonly=False)
        if lun.readonly != readonly:
            self._adm(
                "--op", "update", "--mode", "logicalunit", "--tid", tid, "--lun", str(LUN),
                "--params", f"readonly={int(readonly)}",
            )  # fmt: skip
        wanted = {entry["username"]: entry["password"] for entry in attachments.values()}
        existing = self._accounts()
        for user, password in wanted.items():
            if user not in existing:
                self._adm(
                    "--op", "new", "--mode", "account", "--user", user, "--password", password,
                    secrets=[password],
                )  # fmt: skip
            if user not in info.accounts:
                self._adm("--op", "bind", "--mode", "account", "--tid", tid, "--user", user)
        for user in info.accounts - set(wanted):
            self._adm("--op", "unbind", "--mode", "account", "--tid", tid, "--user", user)
            if user in existing:
                self._adm("--op", "delete", "--mode", "account", "--user", user)
        initiators = {entry["initiator"] for entry in attachments.values()}
        for name in sorted(initiators - info.acls):
            self._adm("--op", "bind", "--mode", "target", "--tid", tid, "--initiator-name", name)
        for name in sorted(info.acls - initiators):
            option = "--initiator-name" if is_iqn(name) else "--initiator-address"
            self._adm("--op", "unbind", "--mode", "target", "--tid", tid, option, name)
        for sid, (initiator, cids) in info.sessions.items():
            if initiator not in initiators:  # an ACL change does not end a running session
                for cid in cids:
                    self._adm(
                        "--op", "delete", "--mode", "conn", "--tid", tid,
                        "--sid", str(sid), "--cid", str(cid), check=False,
                    )  # fmt: skip

    def _reconcile(self) -> None:
        """After start: tgtd holds exactly what the record says (files that vanished are
        dropped from the record; targets and accounts nobody records are removed)."""
        data = self.state.load()
        for volume_id in list(data):
            record = data[volume_id]
            if not record.get("attachments") or not source_exists(record["path"], None):
                LOG.warning("Dropping the export of volume %s: its file is gone", volume_id)
                del data[volume_id]
        self.state.save(data)
        wanted_iqns = {self._iqn(v) for v in data}
        for iqn, info in self._our_targets().items():
            if iqn not in wanted_iqns:
                self._adm("--op", "delete", "--mode", "target", "--tid", str(info.tid), "--force")
        users = {e["username"] for rec in data.values() for e in rec["attachments"].values()}
        for user in self._accounts() - users:
            self._adm("--op", "delete", "--mode", "account", "--user", user, check=False)
        for volume_id, record in data.items():
            self._converge(volume_id, record)


def backing_store(path: str) -> tuple[str, str, list[str]]:
    """tgt's (backing store, bstype, extra arguments) for a recorded source: a raw file
    (``rdwr``), or an RBD image through tgt's rbd backing store (Debian's ``tgt-rbd``):
    ``pool/image``, with the client's ``conf`` and ``id`` in ``--bsopts`` (from QEMU's
    ``rbd:`` name)."""
    if not path.startswith("rbd:"):
        return path, "rdwr", []
    image, *options = path.removeprefix("rbd:").split(":")
    wanted = {k: v for k, _, v in (o.partition("=") for o in options) if k in ("conf", "id")}
    extra = ["--bsopts", ";".join(f"{k}={v}" for k, v in wanted.items())] if wanted else []
    return image, "rbd", extra
