"""The contract between the volume service and a target: export a volume file to a host.

A target turns (volume file, attachment, connector) into Cinder's connection_info ``data``
and keeps the daemons that serve it. Every call is idempotent and every target keeps its
own record under ``state_dir``, so a volume service that restarts calls ``start()`` and
finds the exports (and the daemons) it left behind.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from firebrick.domain.errors import DriverError

PROTOCOLS = ("iscsi", "nbd", "rbd")
# The pools' ``storage_protocol`` capability for each target, in Cinder's canonical spelling
# (what volume types match with ``storage_protocol`` extra specs).
STORAGE_PROTOCOLS = {"iscsi": "iSCSI", "nbd": "NBD", "rbd": "ceph"}
# The "file" of an RBD volume is QEMU's ``rbd:pool/image[:opt=value…]`` name, format "rbd".
RBD_FORMAT = "rbd"
SECRET_KEYS = frozenset({"auth_password", "tls_psk_key"})
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")


class TargetError(DriverError):
    """A target daemon or tool failed; the message never contains a secret."""


class InvalidConnector(ValueError):
    """The connector cannot be used with this target (the API answers 400)."""


@dataclass(frozen=True)
class Credentials:
    """CHAP user and secret (iSCSI) or TLS-PSK identity and hex key (NBD)."""

    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class Export:
    """connection_info ``data`` in Cinder's shape, and the credentials to persist."""

    data: dict[str, Any]
    credentials: Credentials | None

    def __repr__(self) -> str:
        shown = {k: ("***" if k in SECRET_KEYS else v) for k, v in self.data.items()}
        return f"Export(data={shown!r}, credentials={self.credentials!r})"


class Target(Protocol):
    protocol: str  # Cinder's driver_volume_type: "iscsi" or "nbd"

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def export(
        self,
        volume_id: str,
        path: Path,
        fmt: str,
        attachment_id: str,
        connector: Mapping[str, Any],
        credentials: Credentials | None = None,
        readonly: bool = False,
        qos: Mapping[str, object] | None = None,  # back-end QoS specs, per-GB resolved
    ) -> Export: ...

    def unexport(self, volume_id: str, attachment_id: str) -> None: ...

    def exported(self) -> dict[str, set[str]]: ...


def check_id(kind: str, value: str) -> str:
    """Ids end up in IQNs, export names and file names: only UUID-like strings pass."""
    if not isinstance(value, str) or not _ID.match(value):
        raise ValueError(f"Invalid {kind} {value!r}: expected letters, digits, '-' or '_'.")
    return value


def option_int(options: Mapping[str, str], key: str, default: int, low: int, high: int) -> int:
    raw = options.get(key)
    if raw is None or not str(raw).strip():
        return default
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ValueError(f"{key} must be an integer, not {raw!r}") from None
    if not low <= value <= high:
        raise ValueError(f"{key} must be between {low} and {high}, not {value}")
    return value


def option_bool(options: Mapping[str, str], key: str, default: bool) -> bool:
    raw = options.get(key)
    if raw is None or not str(raw).strip():
        return default
    value = str(raw).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{key} must be true or false, not {raw!r}")


def source_path(volume_id: str, path: Path, fmt: str) -> Path:
    """The export's source: an absolute path to an existing file, or an RBD image name."""
    if fmt == RBD_FORMAT:
        if not str(path).startswith("rbd:"):
            raise TargetError(f"Volume {volume_id}: {path} is not an rbd: image name.")
        return path
    path = Path(path).absolute()
    if not path.is_file():
        raise TargetError(f"Volume {volume_id} has no file to export.")
    return path


def source_exists(path: str, fmt: str | None) -> bool:
    """Whether a recorded export's source is still there (RBD images are taken as there:
    a volume service deletes no image that is still exported)."""
    return fmt == RBD_FORMAT or str(path).startswith("rbd:") or Path(path).is_file()


def hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def build_target(options: Mapping[str, str], *, state_dir: Path, backend: str) -> Target:
    """The target a backend's config section asks for (``target_protocol``, default iscsi)."""
    protocol = (options.get("target_protocol") or "iscsi").strip().lower()
    if protocol == "iscsi":
        from firebrick.targets.tgt import TgtTarget
        from firebrick.targets.tgt_admin import TgtSettings

        return TgtTarget(TgtSettings.from_options(options, state_dir=state_dir, backend=backend))
    if protocol == "nbd":
        from firebrick.targets.nbd import NbdSettings, NbdTarget

        return NbdTarget(NbdSettings.from_options(options, state_dir=state_dir))
    if protocol == "rbd":
        from firebrick.targets.rbd import RbdTarget

        return RbdTarget(options)
    raise ValueError(
        f"Backend {backend}: target_protocol must be one of {', '.join(PROTOCOLS)}, "
        f"not {protocol!r}"
    )
