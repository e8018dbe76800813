"""NBD through ``qemu-nbd``: one server process per exported volume.

Each exported volume gets a ``qemu-nbd --persistent --shared=0`` on a port from
``nbd_port_min``..``nbd_port_max`` bound to ``target_ip_address``, serving the export
``volume-<id>`` in the file's own format (raw or qcow2; a client always sees the raw
disk). With ``nbd_tls = true`` the server requires TLS with a pre-shared key: every
attachment gets its own PSK identity and key (``keys.psk``, 0600, under ``state_dir``),
read by the server at each handshake, so unexporting one attachment locks out that
identity without restarting the server. NBD itself has no initiator ACL, so without TLS
anyone who can reach the port can use the export until its last attachment is gone.
The server is read-only when every attachment of the volume is read-only (changing that
restarts it on the same port; clients reconnect). Back-end QoS specs (``export(qos=...)``)
put the file behind qemu's throttle filter (``throttle.py``); a change of limits restarts
the server the same way.

connection_info for ``driver_volume_type = "nbd"``; ``data`` holds:

* ``host``: the address the server listens on (``target_ip_address``).
* ``port``: its TCP port.
* ``export_name``: ``volume-<id>``.
* ``volume_id``: the volume's id.
* ``uri``: ``nbd://host:port/volume-<id>`` (NBD URI standard, as libnbd, nbdcopy, nbdinfo
  and qemu read it); with TLS ``nbds://<identity>@host:port/volume-<id>``.
* ``tls_psk_identity``, ``tls_psk_key`` (only with TLS): the PSK identity and its key in
  hex. A client writes ``<identity>:<key>`` to a PSK file and connects with e.g.
  ``nbdcopy 'nbds://<identity>@host:port/volume-<id>?tls-psk-file=FILE' ...``.

State: ``state_dir/nbd-exports.json`` (0600) records each export and its keys;
``state_dir/nbd/volume-<id>.pid`` is each server's pid file. ``start()`` adopts the
servers that are still running, restarts those that are not and stops any it has no
record of.
"""

from __future__ import annotations

import logging
import re
import secrets
import shutil
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from firebrick.targets.base import (
    RBD_FORMAT,
    Credentials,
    Export,
    TargetError,
    check_id,
    hostport,
    option_bool,
    option_int,
    source_exists,
    source_path,
)
from firebrick.targets.runner import Runner, SystemRunner, read_pid, terminate
from firebrick.targets.state import StateFile, private_dir, write_private
from firebrick.targets.throttle import group_object, image_opts, throttle

LOG = logging.getLogger(__name__)

FORMATS = ("raw", "qcow2", RBD_FORMAT)
THROTTLE_GROUP = "fb-qos"
_IDENTITY = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_HEX_KEY = re.compile(r"^[0-9a-fA-F]{32,256}$")


@dataclass(frozen=True)
class NbdSettings:
    state_dir: Path
    ip: str = "127.0.0.1"
    port_min: int = 10809
    port_max: int = 10909
    tls: bool = False

    @classmethod
    def from_options(cls, options: Mapping[str, str], *, state_dir: Path) -> NbdSettings:
        port_min = option_int(options, "nbd_port_min", cls.port_min, 1, 65535)
        port_max = option_int(options, "nbd_port_max", max(cls.port_max, port_min), 1, 65535)
        if port_max < port_min:
            raise ValueError(f"nbd_port_max ({port_max}) is below nbd_port_min ({port_min})")
        return cls(
            state_dir=state_dir,
            ip=(options.get("target_ip_address") or cls.ip).strip(),
            port_min=port_min,
            port_max=port_max,
            tls=option_bool(options, "nbd_tls", False),
        )


def generate_psk() -> Credentials:
    return Credentials(f"fb-{secrets.token_hex(8)}", secrets.token_hex(32))


def check_psk(credentials: Credentials) -> Credentials:
    if not _IDENTITY.match(credentials.username):
        raise ValueError("Invalid TLS-PSK identity: 1-64 letters, digits or ._- only.")
    if not _HEX_KEY.match(credentials.password):
        raise ValueError("Invalid TLS-PSK key: 32-256 hexadecimal digits.")
    return credentials


class NbdTarget:
    """Exports volume files over NBD, one ``qemu-nbd`` per volume."""

    protocol = "nbd"

    def __init__(self, settings: NbdSettings, runner: Runner | None = None) -> None:
        self.settings = settings
        self.runner: Runner = runner or SystemRunner()
        self.state = StateFile(settings.state_dir / "nbd-exports.json")
        self.run_dir = settings.state_dir / "nbd"
        self._lock = threading.RLock()

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            private_dir(self.run_dir)
            data = self.state.load()
            for volume_id in list(data):
                record = data[volume_id]
                if not record.get("attachments") or not source_exists(
                    record["path"], record.get("format")
                ):
                    LOG.warning(
                        "Dropping the NBD export of volume %s: no file or attachment", volume_id
                    )
                    self._stop_server(volume_id)
                    del data[volume_id]
            self.state.save(data)
            for pid_file in self.run_dir.glob("volume-*.pid"):
                volume_id = pid_file.name.removeprefix("volume-").removesuffix(".pid")
                if volume_id not in data:
                    self._stop_server(volume_id)
            for psk_dir in self.run_dir.glob("psk-*"):
                if psk_dir.name.removeprefix("psk-") not in data:
                    shutil.rmtree(psk_dir, ignore_errors=True)
            for volume_id, record in data.items():
                self._converge(volume_id, record, data)

    def stop(self) -> None:
        with self._lock:
            data = self.state.load()
            names = set(data)
            if self.run_dir.is_dir():
                names |= {
                    p.name.removeprefix("volume-").removesuffix(".pid")
                    for p in self.run_dir.glob("volume-*.pid")
                }
            for volume_id in names:
                self._stop_server(volume_id)
            self.state.save({})

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
        if fmt not in FORMATS:
            raise TargetError(
                f"Volume {volume_id}: NBD exports raw or qcow2 files or RBD images, not {fmt!r}."
            )
        if credentials is not None and self.settings.tls:
            check_psk(credentials)
        path = source_path(volume_id, path, fmt)
        with self._lock:
            private_dir(self.run_dir)
            data = self.state.load()
            record = data.setdefault(
                volume_id, {"path": str(path), "format": fmt, "attachments": {}}
            )
            if record["attachments"] and (record["path"], record["format"]) != (str(path), fmt):
                raise TargetError(f"Volume {volume_id} is already exported from another file.")
            record["path"], record["format"] = str(path), fmt
            record["throttle"] = self._throttle(volume_id, qos or {})
            previous = record["attachments"].get(attachment_id)
            entry: dict[str, Any] = {"readonly": bool(readonly)}
            if self.settings.tls:
                if credentials is None:
                    credentials = (
                        Credentials(previous["identity"], previous["key"])
                        if previous and "identity" in previous
                        else generate_psk()
                    )
                entry |= {"identity": credentials.username, "key": credentials.password}
            else:
                credentials = None
            record["attachments"][attachment_id] = entry
            self.state.save(data)
            try:
                self._converge(volume_id, record, data)
            except Exception:
                self._revert(volume_id, attachment_id, previous)
                raise
            LOG.info("Exported volume %s over NBD for attachment %s", volume_id, attachment_id)
            return Export(self._data(volume_id, record["port"], credentials), credentials)

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
                self._stop_server(volume_id)
            else:
                self.state.save(data)
                self._converge(volume_id, record, data)
            LOG.info("Unexported volume %s for attachment %s", volume_id, attachment_id)

    def exported(self) -> dict[str, set[str]]:
        with self._lock:
            data = self.state.load()
        return {vol: set(rec["attachments"]) for vol, rec in data.items() if rec["attachments"]}

    # -- internals ------------------------------------------------------------------------

    def _data(self, volume_id: str, port: int, credentials: Credentials | None) -> dict[str, Any]:
        name = f"volume-{volume_id}"
        address = hostport(self.settings.ip, port)
        data: dict[str, Any] = {
            "host": self.settings.ip,
            "port": port,
            "export_name": name,
            "volume_id": volume_id,
            "uri": f"nbd://{address}/{name}",
        }
        if credentials is not None:
            data["uri"] = f"nbds://{credentials.username}@{address}/{name}"
            data["tls_psk_identity"] = credentials.username
            data["tls_psk_key"] = credentials.password
        return data

    @staticmethod
    def _throttle(volume_id: str, qos: Mapping[str, object]) -> dict[str, int]:
        limits = throttle(qos)
        for key, why in limits.ignored.items():
            LOG.warning("Volume %s: QoS key %s not applied by the NBD export: %s",
                        volume_id, key, why)  # fmt: skip
        return limits.limits

    def _pid_file(self, volume_id: str) -> Path:
        return self.run_dir / f"volume-{volume_id}.pid"

    def _psk_dir(self, volume_id: str) -> Path:
        return self.run_dir / f"psk-{volume_id}"

    def _marker(self, volume_id: str) -> list[str]:
        return [f"--export-name=volume-{volume_id}"]

    def _running(self, volume_id: str) -> int | None:
        pid = read_pid(self._pid_file(volume_id))
        if pid is not None and self.runner.is_running(pid, "qemu-nbd", self._marker(volume_id)):
            return pid
        return None

    def _stop_server(self, volume_id: str) -> None:
        pid = self._running(volume_id)
        if pid is not None:
            terminate(self.runner, pid, "qemu-nbd", self._marker(volume_id))
            LOG.info("Stopped qemu-nbd (pid %d) of volume %s", pid, volume_id)
        self._pid_file(volume_id).unlink(missing_ok=True)
        shutil.rmtree(self._psk_dir(volume_id), ignore_errors=True)

    def _revert(self, volume_id: str, attachment_id: str, previous: dict[str, Any] | None) -> None:
        try:
            if previous is None:
                self.unexport(volume_id, attachment_id)
                return
            data = self.state.load()
            data[volume_id]["attachments"][attachment_id] = previous
            self.state.save(data)
            self._converge(volume_id, data[volume_id], data)
        except Exception as exc:
            LOG.warning("Could not revert the NBD export of volume %s: %s", volume_id, exc)

    def _converge(self, volume_id: str, record: dict[str, Any], data: dict[str, Any]) -> None:
        """A server for the record runs: adopted if its settings match, else (re)started."""
        attachments: dict[str, dict[str, Any]] = record["attachments"]
        readonly = all(entry["readonly"] for entry in attachments.values())
        if self.settings.tls:
            keys = "".join(f"{e['identity']}:{e['key']}\n" for e in attachments.values())
            write_private(private_dir(self._psk_dir(volume_id)) / "keys.psk", keys)
        limits = record.get("throttle") or {}
        served: tuple[Any, ...] = (record["path"], record["format"], readonly, self.settings.tls)
        if limits:  # (servers started before QoS existed keep matching their record)
            served += (sorted(limits.items()),)
        pid = self._running(volume_id)
        if pid is not None and record.get("served") == _json_shape(served) and "port" in record:
            return
        if pid is not None:
            self._stop_server(volume_id)
            if self.settings.tls:
                write_private(private_dir(self._psk_dir(volume_id)) / "keys.psk", keys)
        taken = {rec.get("port") for vol, rec in data.items() if vol != volume_id}
        ports = [p for p in range(self.settings.port_min, self.settings.port_max + 1)]
        if record.get("port") in ports:
            ports.remove(record["port"])
            ports.insert(0, record["port"])
        for port in ports:
            if port in taken:
                continue
            result = self.runner.run(self._argv(volume_id, record, port, readonly), check=False)
            if result.returncode == 0:
                record["port"], record["served"] = port, _json_shape(served)
                self.state.save(data)
                LOG.info("Started qemu-nbd for volume %s on port %d", volume_id, port)
                return
            if "in use" not in result.stderr:
                detail = (result.stderr.strip().splitlines() or ["exit status"])[-1]
                raise TargetError(f"qemu-nbd failed for volume {volume_id}: {detail}")
        raise TargetError(
            f"No free NBD port in {self.settings.port_min}-{self.settings.port_max} "
            f"for volume {volume_id}."
        )

    def _argv(self, volume_id: str, record: dict[str, Any], port: int, readonly: bool) -> list[str]:
        limits = record.get("throttle") or {}
        image = record["path"]
        # An RBD image is raw data reached through QEMU's rbd protocol (``rbd:pool/image``).
        fmt = "raw" if record["format"] == RBD_FORMAT else record["format"]
        opened = [f"--format={fmt}"]
        if limits:
            # Back-end QoS: the file is served through qemu's throttle filter.
            image = image_opts(THROTTLE_GROUP, fmt, record["path"])
            opened = ["--object", group_object(THROTTLE_GROUP, limits), "--image-opts"]
        argv = [
            "qemu-nbd",
            "--fork",
            f"--pid-file={self._pid_file(volume_id)}",
            f"--bind={self.settings.ip}",
            f"--port={port}",
            f"--export-name=volume-{volume_id}",
            *opened,
            "--persistent",
            "--shared=0",
        ]
        if readonly:
            argv.append("--read-only")
        if self.settings.tls:
            argv += [
                "--object",
                f"tls-creds-psk,id=tls0,endpoint=server,dir={self._psk_dir(volume_id)}",
                "--tls-creds=tls0",
            ]
        return [*argv, image]


def _json_shape(value: Any) -> Any:
    """``value`` as it reads back from the JSON state file (tuples become lists)."""
    if isinstance(value, (list, tuple)):
        return [_json_shape(v) for v in value]
    return value
