"""What tgt's tools take and say: the backend's tgt settings, ``tgtadm``'s listings
parsed, and the CHAP credentials and initiator names an export needs."""

from __future__ import annotations

import re
import secrets
import string
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firebrick.targets.base import Credentials, InvalidConnector, hostport, option_int

MAX_CONTROL_PORT = 32767  # tgtadm -C accepts 0..32767
_ALNUM = string.ascii_letters + string.digits
_CHAP_VALUE = re.compile(r"^[A-Za-z0-9._@:+=-]{1,255}$")
IQN = re.compile(r"^(iqn\.|eui\.|naa\.)\S{1,220}$", re.IGNORECASE)


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
        if not IQN.match(prefix + "volume-x"):
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


def is_iqn(name: str) -> bool:
    return IQN.match(name) is not None


def initiator_of(connector: Mapping[str, Any]) -> str:
    initiator = connector.get("initiator") if isinstance(connector, Mapping) else None
    if not initiator or not isinstance(initiator, str):
        raise InvalidConnector(
            "The connector has no 'initiator' (the iSCSI initiator IQN of the host); "
            "it is required to attach an iSCSI volume."
        )
    if not IQN.match(initiator):
        raise InvalidConnector(f"The connector's initiator {initiator!r} is not an iSCSI name.")
    return initiator


def check_credentials(credentials: Credentials) -> Credentials:
    for label, value in (("username", credentials.username), ("password", credentials.password)):
        if not _CHAP_VALUE.match(value):
            raise ValueError(f"Invalid CHAP {label}: 1-255 letters, digits or ._@:+=- only.")
    if len(credentials.password) < 12:
        raise ValueError("Invalid CHAP password: at least 12 characters.")
    return credentials
