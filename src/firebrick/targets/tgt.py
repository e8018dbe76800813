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
import re
import secrets
import string
import threading
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firebrick.targets.base import (
    Credentials,
    Export,
    InvalidConnector,
    TargetError,
    check_id,
    hostport,
    option_int,
)
from firebrick.targets.runner import Runner, SystemRunner, read_pid, terminate, wait_gone
from firebrick.targets.state import StateFile, private_dir

LOG = logging.getLogger(__name__)

LUN = 1
MAX_CONTROL_PORT = 32767  # tgtadm -C accepts 0..32767
STARTUP_TIMEOUT = 10.0
_ALNUM = string.ascii_letters + string.digits
_CHAP_VALUE = re.compile(r"^[A-Za-z0-9._@:+=-]{1,255}$")
_IQN = re.compile(r"^(iqn\.|eui\.|naa\.)\S{1,220}$", re.IGNORECASE)


def default_control_port(backend: str) -> int:
    """Stable per backend name, so a restarted service finds its tgtd again."""
    return 1000 + zlib.crc32(backend.encode("utf-8")) % 31000


@dataclass(frozen=True)
class TgtSettings:
    state_dir: Path
    control_port: int
    ip: str = "127.0.0.1"
    port: int = 3260
    prefix: str = "iqn.2010-10.org.openstack:"

    @classmethod
    def from_options(
        cls, options: Mapping[str, str], *, state_dir: Path, backend: str
    ) -> TgtSettings:
        prefix = (options.get("target_prefix") or cls.prefix).strip()
        if not _IQN.match(prefix + "volume-x"):
            raise ValueError(
                f"target_prefix must start an IQN (iqn.YYYY-MM.domain:), not {prefix!r}"
            )
        return cls(
            state_dir=state_dir,
            control_port=option_int(
                options, "tgt_control_port", default_control_port(backend), 1, MAX_CONTROL_PORT
            ),
            ip=(options.get("target_ip_address") or cls.ip).strip(),
            port=option_int(options, "target_port", cls.port, 1, 65535),
            prefix=prefix,
        )

    @property
    def portal(self) -> str:
        return hostport(self.ip, self.port)


@dataclass
class LunInfo:
    path: str
    readonly: bool


@dataclass
class TargetInfo:
    tid: int
    iqn: str
    luns: dict[int, LunInfo] = field(default_factory=dict)
    accounts: set[str] = field(default_factory=set)
    acls: set[str] = field(default_factory=set)
    sessions: dict[int, tuple[str, list[int]]] = field(default_factory=dict)  # sid: ini, cids


def parse_targets(text: str) -> dict[str, TargetInfo]:
    """``tgtadm --op show --mode target`` output, by IQN."""
    targets: dict[str, TargetInfo] = {}
    current: TargetInfo | None = None
    section = ""
    lun: int | None = None
    sid: int | None = None
    for line in text.splitlines():
        stripped = line.strip()
        indent = len(line) - len(line.lstrip(" "))
        if match := re.match(r"^Target (\d+): (\S+)$", line):
            current = TargetInfo(int(match[1]), match[2])
            targets[current.iqn] = current
            section, lun, sid = "", None, None
        elif current is None or not stripped:
            continue
        elif indent == 4:
            section = stripped.rstrip(":")
        elif section == "LUN information":
            if match := re.match(r"^LUN: (\d+)$", stripped):
                lun = int(match[1])
                current.luns[lun] = LunInfo(path="", readonly=False)
            elif lun is not None and stripped.startswith("Backing store path:"):
                current.luns[lun].path = stripped.partition(":")[2].strip()
            elif lun is not None and stripped.startswith("Readonly:"):
                current.luns[lun].readonly = stripped.partition(":")[2].strip() == "Yes"
        elif section == "I_T nexus information":
            if match := re.match(r"^I_T nexus: (\d+)$", stripped):
                sid = int(match[1])
                current.sessions[sid] = ("", [])
            elif sid is not None and (match := re.match(r"^Initiator: (\S+)", stripped)):
                current.sessions[sid] = (match[1], current.sessions[sid][1])
            elif sid is not None and (match := re.match(r"^Connection: (\d+)$", stripped)):
                current.sessions[sid][1].append(int(match[1]))
        elif section == "Account information":
            if not stripped.endswith("(outgoing)"):
                current.accounts.add(stripped)
        elif section == "ACL information":
            current.acls.add(stripped)
    return targets


def parse_list(text: str, header: str) -> set[str]:
    """The indented lines under ``header`` (``Account list:``) or ``Portal:`` entries."""
    if header == "Portal":
        return {m[1] for m in re.finditer(r"^Portal: (\S+?),\d+$", text, re.MULTILINE)}
    lines = text.splitlines()
    if not lines or lines[0].strip() != header:
        return set()
    return {line.strip() for line in lines[1:] if line.strip()}


def generate_credentials() -> Credentials:
    username = "fb" + "".join(secrets.choice(_ALNUM) for _ in range(18))
    password = "".join(secrets.choice(_ALNUM) for _ in range(16))
    return Credentials(username, password)


def initiator_of(connector: Mapping[str, Any]) -> str:
    initiator = connector.get("initiator") if isinstance(connector, Mapping) else None
    if not initiator or not isinstance(initiator, str):
        raise InvalidConnector(
            "The connector has no 'initiator' (the iSCSI initiator IQN of the host); "
            "it is required to attach an iSCSI volume."
        )
    if not _IQN.match(initiator):
        raise InvalidConnector(f"The connector's initiator {initiator!r} is not an iSCSI name.")
    return initiator


def check_credentials(credentials: Credentials) -> Credentials:
    for label, value in (("username", credentials.username), ("password", credentials.password)):
        if not _CHAP_VALUE.match(value):
            raise ValueError(f"Invalid CHAP {label}: 1-255 letters, digits or ._@:+=- only.")
    if len(credentials.password) < 12:
        raise ValueError("Invalid CHAP password: at least 12 characters.")
    return credentials


class TgtTarget:
    """Exports raw volume files as iSCSI LUNs through a private ``tgtd``."""

    protocol = "iscsi"

    def __init__(self, settings: TgtSettings, runner: Runner | None = None) -> None:
        self.settings = settings
        self.runner: Runner = runner or SystemRunner()
        self.state = StateFile(settings.state_dir / "tgt-exports.json")
        self.pid_file = settings.state_dir / "tgtd.pid"
        self.log_file = settings.state_dir / "tgtd.log"
        self._lock = threading.RLock()

    # -- daemon ---------------------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            private_dir(self.settings.state_dir)
            if self._responding():
                LOG.info("Adopting tgtd on control port %d", self.settings.control_port)
                self._ensure_portal()
            else:
                self._start_daemon()
            self._reconcile()

    def stop(self) -> None:
        with self._lock:
            if self._responding():
                for info in self._our_targets().values():
                    self._adm(
                        "--op", "delete", "--mode", "target", "--tid", str(info.tid), "--force"
                    )
                for user in self._accounts():
                    self._adm("--op", "delete", "--mode", "account", "--user", user, check=False)
                self._system_delete()
            else:
                pid = read_pid(self.pid_file)
                if pid is not None:
                    terminate(self.runner, pid, "tgtd", self._tgtd_args(), timeout=1.0)
            self.state.save({})
            self.pid_file.unlink(missing_ok=True)

    def _tgtd_args(self) -> list[str]:
        return ["-C", str(self.settings.control_port)]

    def _responding(self) -> bool:
        result = self.runner.run(
            ["tgtadm", "-C", str(self.settings.control_port), "--op", "show", "--mode", "system"],
            check=False,
        )
        return result.returncode == 0

    def _start_daemon(self) -> None:
        pid = read_pid(self.pid_file)
        spawned = pid is None or not self.runner.is_running(pid, "tgtd", self._tgtd_args())
        if spawned:
            pid = self._spawn()
        else:
            LOG.info("tgtd (pid %s) is running but not answering yet; waiting", pid)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self._responding():
            assert pid is not None
            if not self.runner.is_running(pid, "tgtd", self._tgtd_args()):
                if spawned:
                    raise TargetError(f"tgtd exited at start: {self._log_tail()}")
                pid, spawned = self._spawn(), True
            if time.monotonic() > deadline:
                raise TargetError(f"tgtd did not answer within {STARTUP_TIMEOUT:.0f} s.")
            time.sleep(0.05)
        try:
            self._ensure_portal()
        except TargetError:
            if spawned:
                self._system_delete()
            raise

    def _spawn(self) -> int:
        argv = ["tgtd", "-f", *self._tgtd_args(), "--iscsi", f"portal={self.settings.portal}"]
        pid = self.runner.spawn(argv, log_path=self.log_file)
        self.pid_file.write_text(f"{pid}\n")
        LOG.info("Started tgtd (pid %d) on %s", pid, self.settings.portal)
        return pid

    def _ensure_portal(self) -> None:
        """Exactly our portal: a tgtd that cannot bind it falls back to a wildcard :3260."""
        portals = parse_list(self._adm("--op", "show", "--mode", "portal"), "Portal")
        if self.settings.portal not in portals:
            result = self.runner.run(
                [*self._adm_argv(), "--op", "new", "--mode", "portal",
                 "--param", f"portal={self.settings.portal}"],
                check=False,
            )  # fmt: skip
            if result.returncode != 0:
                raise TargetError(
                    f"tgtd cannot listen on portal {self.settings.portal} "
                    "(is target_port in use by another process?)"
                )
        for portal in portals - {self.settings.portal}:
            self._adm("--op", "delete", "--mode", "portal", "--param", f"portal={portal}")

    def _system_delete(self) -> None:
        """tgtd ignores SIGTERM: it leaves when told to over its control socket."""
        pid = read_pid(self.pid_file)
        argv = ["tgtadm", "-C", str(self.settings.control_port), "--op", "delete", "--mode"]
        self.runner.run([*argv, "system"], check=False)
        if pid is not None and not wait_gone(self.runner, pid, "tgtd", self._tgtd_args(), 5.0):
            terminate(self.runner, pid, "tgtd", self._tgtd_args())

    def _log_tail(self) -> str:
        try:
            lines = self.log_file.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        useful = [
            ln for ln in lines if "RDMA" not in ln and "oom" not in ln and "nr_open" not in ln
        ]
        return " / ".join(useful[-3:]) or "no log"

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
        if fmt != "raw":
            raise TargetError(
                f"Volume {volume_id} is a {fmt} file; the tgt iSCSI target serves raw files "
                "only (use target_protocol = nbd, or raw volumes)."
            )
        if credentials is not None:
            check_credentials(credentials)
        path = Path(path).absolute()
        if not path.is_file():
            raise TargetError(f"Volume {volume_id} has no file to export.")
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
                if self._responding():
                    self._remove_target(volume_id, record)
            else:
                self.state.save(data)
                if self._responding():
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

    def _adm_argv(self) -> list[str]:
        return ["tgtadm", "-C", str(self.settings.control_port), "--lld", "iscsi"]

    def _adm(self, *args: str, check: bool = True, secrets: Sequence[str] = ()) -> str:
        argv = [*self._adm_argv(), *args]
        return self.runner.run(argv, check=check, secrets=secrets).stdout

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
        if lun is not None and lun.path != record["path"]:
            self._adm("--op", "delete", "--mode", "logicalunit", "--tid", tid, "--lun", str(LUN))
            lun = None
        if lun is None:
            self._adm(
                "--op", "new", "--mode", "logicalunit", "--tid", tid, "--lun", str(LUN),
                "--bstype", "rdwr", "--backing-store", record["path"],
            )  # fmt: skip
            lun = LunInfo(record["path"], readonly=False)
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
            option = "--initiator-name" if _IQN.match(name) else "--initiator-address"
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
            if not record.get("attachments") or not Path(record["path"]).is_file():
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
