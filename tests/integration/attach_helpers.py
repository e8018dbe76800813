"""Helpers for the attach tests: services exporting through real targets, and the
userspace initiators a host would use (qemu's libiscsi driver, libnbd's nbdcopy/nbdinfo).

CHAP passwords and TLS-PSK keys reach the initiators through files (``--object
secret,file=`` and ``tls-psk-file=``), never argv.
"""

from __future__ import annotations

import glob
import os
import random
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from harness import STATUS_TIMEOUT, Service, VolumeApi, free_port

TOOLS = ("tgtd", "tgtadm", "qemu-img", "qemu-io", "qemu-nbd", "nbdcopy", "nbdinfo")
MiB = 1 << 20
MV = "3.71"
HOST1_IQN = "iqn.1993-08.org.debian:01:attach-host1"
HOST2_IQN = "iqn.1993-08.org.debian:01:attach-host2"
STRANGER_IQN = "iqn.1993-08.org.debian:01:attach-stranger"

# Cinder's _usage_from_volume keys (the payload of volume.attach.* / volume.detach.*).
USAGE_KEYS = {
    "tenant_id", "user_id", "host", "availability_zone", "volume_id", "volume_type",
    "display_name", "launched_at", "created_at", "status", "snapshot_id", "size",
    "replication_status", "replication_extended_status", "replication_driver_data",
    "metadata", "volume_attachment",
}  # fmt: skip
ENVELOPE_KEYS = {"message_id", "publisher_id", "event_type", "priority", "payload", "timestamp"}


def missing_tools() -> list[str]:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if not glob.glob("/usr/lib/*/qemu/block-iscsi.so"):
        missing.append("qemu-block-extra (block-iscsi.so)")
    return missing


def require_tools() -> None:
    missing = missing_tools()
    if missing:
        message = f"target tools missing: {', '.join(missing)} (apt-get install tgt "
        message += "libiscsi-bin qemu-utils qemu-block-extra libnbd-bin nbdkit)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def free_control_port() -> int:
    """A tgtd control port (``tgtd -C N``) no running tgtd uses."""
    while True:
        port = random.randint(20000, 32767)
        if not any(Path(d, f"socket.{port}").exists() for d in ("/run/tgtd", "/var/run/tgtd")):
            return port


def connector(initiator: str = HOST1_IQN, host: str = "compute-1", **extra: Any) -> dict[str, Any]:
    """What os-brick sends for a Linux host."""
    return {
        "initiator": initiator, "host": host, "ip": "127.0.0.1", "platform": "x86_64",
        "os_type": "linux", "multipath": False, "do_local_attach": False, **extra,
    }  # fmt: skip


def pattern(seed: int, size: int = 4 * MiB) -> bytes:
    """A recognizable, position-dependent data pattern."""
    block = (f"firebrick-{seed:08d}-".encode() * 32)[:256]
    return bytes(b ^ (i & 0xFF) for i, b in enumerate(block)) * (size // 256)


def run(argv: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


# -- services with targets -------------------------------------------------------------------


def target_backend(protocol: str = "iscsi", **options: str) -> dict[str, str]:
    """A file backend exporting over ``protocol`` on private loopback ports."""
    opts = {"target_protocol": protocol, "target_ip_address": "127.0.0.1"}
    if protocol == "iscsi":
        opts |= {"target_port": str(free_port()), "tgt_control_port": str(free_control_port())}
    else:
        low = free_port_run(NBD_PORTS)
        opts |= {"nbd_port_min": str(low), "nbd_port_max": str(low + NBD_PORTS - 1)}
    opts.update(options)
    return opts


NBD_PORTS = 8


def free_port_run(count: int) -> int:
    """The first of ``count`` consecutive loopback ports free now, below the kernel's
    ephemeral range: NBD exports bind theirs long after the test chose them, and a port
    from the ephemeral range may meanwhile be any outgoing connection's (one backup export
    found its only port taken that way)."""
    low_ephemeral = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for _ in range(200):
        base = random.randrange(10000, low_ephemeral - count)
        if all(_bindable(port) for port in range(base, base + count)):
            return base
    raise RuntimeError(f"no run of {count} free ports below {low_ephemeral}")


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _wait_dead(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return not _alive(pid)


def stop_targets(svc: Service) -> None:
    """Stop the tgtd and qemu-nbd processes the service started (it leaves them running)."""
    for name, backend in svc.backends.items():
        state = svc.state_path / "targets" / name
        control = backend.options.get("tgt_control_port")
        tgtd = _pid(state / "tgtd.pid")
        if control and tgtd is not None and _alive(tgtd):
            run(["tgtadm", "-C", control, "--op", "delete", "--mode", "system"], timeout=10)
            if not _wait_dead(tgtd):
                os.kill(tgtd, signal.SIGKILL)
                _wait_dead(tgtd)
        for pid_file in state.rglob("*.pid"):
            pid = _pid(pid_file)
            if pid is None or pid_file.name == "tgtd.pid" or not _alive(pid):
                continue
            os.kill(pid, signal.SIGTERM)
            if not _wait_dead(pid):
                os.kill(pid, signal.SIGKILL)
                _wait_dead(pid)


def backend_options(svc: Service) -> dict[str, str]:
    return svc.backends["file-1"].options


# -- the API ---------------------------------------------------------------------------------


OPEN_CLIENTS: list[VolumeApi] = []


def api_client(svc: Service, project: str | None = None, microversion: str = MV) -> VolumeApi:
    """An httpx client at ``microversion``; closed by ``close_clients`` at teardown."""
    client = svc.client(project, microversion=microversion)
    OPEN_CLIENTS.append(client)
    return client


def close_clients() -> None:
    while OPEN_CLIENTS:
        OPEN_CLIENTS.pop().close()


def check(resp: httpx.Response, status: int) -> Any:
    assert resp.status_code == status, (
        f"{resp.request.method} {resp.request.url} -> {resp.status_code} {resp.text}"
    )
    return resp.json() if resp.content else None


def create_attachment(
    api: VolumeApi,
    volume_id: str,
    conn: Mapping[str, Any] | None = None,
    instance_uuid: str | None = None,
    mode: str | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {"volume_uuid": volume_id}
    if instance_uuid is not None:
        body["instance_uuid"] = instance_uuid
    if conn is not None:
        body["connector"] = dict(conn)
    if mode is not None:
        body["mode"] = mode
    return api.post("/attachments", json={"attachment": body})


def attach(
    api: VolumeApi,
    volume_id: str,
    conn: Mapping[str, Any] | None = None,
    instance_uuid: str | None = None,
    complete: bool = True,
) -> dict[str, Any]:
    """Create (with a connector) and complete an attachment; its detail."""
    conn = conn if conn is not None else connector()
    instance_uuid = instance_uuid or str(uuid.uuid4())
    attachment: dict[str, Any] = check(create_attachment(api, volume_id, conn, instance_uuid), 200)[
        "attachment"
    ]
    if complete:
        resp = api.post(f"/attachments/{attachment['id']}/action", json={"os-complete": None})
        assert resp.status_code == 204, resp.text
    return attachment


def detach(api: VolumeApi, attachment_id: str) -> list[dict[str, Any]]:
    left: list[dict[str, Any]] = check(api.delete(f"/attachments/{attachment_id}"), 200)[
        "attachments"
    ]
    return left


def volume(api: VolumeApi, volume_id: str) -> dict[str, Any]:
    found: dict[str, Any] = check(api.get(f"/volumes/{volume_id}"), 200)["volume"]
    return found


def wait_status(api: VolumeApi, volume_id: str, status: str) -> dict[str, Any]:
    """Poll until the volume has ``status`` (any status may come in between)."""
    last: dict[str, Any] = {}

    def reached() -> bool:
        nonlocal last
        last = volume(api, volume_id)
        return last["status"] == status

    try:
        VolumeApi.wait_for(reached, f"volume {volume_id} {status}", timeout=STATUS_TIMEOUT)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last: {last}") from None
    return last


def action(api: VolumeApi, volume_id: str, name: str, body: Any = None) -> httpx.Response:
    return api.post(f"/volumes/{volume_id}/action", json={name: body})


# -- initiators ------------------------------------------------------------------------------


class Iscsi:
    """qemu's userspace iSCSI initiator logging in with a connection_info's CHAP account."""

    def __init__(
        self, directory: Path, info: Mapping[str, Any], initiator: str = HOST1_IQN
    ) -> None:
        self.info, self.initiator = dict(info), initiator
        self.directory = directory

    def _opts(self, password: str | None) -> tuple[list[str], str]:
        secret = self.directory / f"chap-{uuid.uuid4().hex}"
        secret.touch(mode=0o600)
        secret.write_text(password if password is not None else self.info["auth_password"])
        obj = ["--object", f"secret,id=chap0,file={secret}"]
        image = (
            f"driver=iscsi,transport=tcp,portal={self.info['target_portal']},"
            f"target={self.info['target_iqn']},lun={self.info['target_lun']},"
            f"user={self.info['auth_username']},password-secret=chap0,"
            f"initiator-name={self.initiator}"
        )
        return obj, image

    def io(self, command: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
        obj, image = self._opts(password)
        return run(["qemu-io", *obj, "--image-opts", image, "-c", command])

    def write(self, data: bytes) -> None:
        """Write ``data`` at offset 0 (qemu-img convert -n onto the LUN)."""
        source = self.directory / f"src-{uuid.uuid4().hex}"
        source.write_bytes(data)
        obj, image = self._opts(None)
        done = run(["qemu-img", "convert", "-n", "-f", "raw", *obj, "--target-image-opts",
                    str(source), image])  # fmt: skip
        assert done.returncode == 0, f"write through the iSCSI target failed: {done.stderr}"

    def read(self, length: int, offset: int = 0) -> bytes:
        out = self.directory / f"out-{uuid.uuid4().hex}"
        obj, image = self._opts(None)
        done = run(["qemu-img", "convert", *obj, "--image-opts", image, "-O", "raw", str(out)])
        assert done.returncode == 0, f"read through the iSCSI target failed: {done.stderr}"
        with out.open("rb") as fh:
            fh.seek(offset)
            return fh.read(length)

    def refused(self, password: str | None = None) -> str:
        """Assert a login is refused; qemu's error text."""
        done = self.io("read 0 4k", password)
        assert done.returncode != 0, "the target let this initiator in"
        return done.stderr


class Nbd:
    """libnbd's tools on a connection_info's ``uri`` (TLS-PSK from its identity and key)."""

    def __init__(self, directory: Path, info: Mapping[str, Any]) -> None:
        self.info, self.directory = dict(info), directory

    def uri(self) -> str:
        uri = str(self.info["uri"])
        if self.info.get("tls_psk_identity"):
            psk = self.directory / f"psk-{uuid.uuid4().hex}"
            psk.touch(mode=0o600)
            psk.write_text(f"{self.info['tls_psk_identity']}:{self.info['tls_psk_key']}\n")
            uri += f"?tls-psk-file={psk}"
        return uri

    def plain_uri(self) -> str:
        return f"nbd://{self.info['host']}:{self.info['port']}/{self.info['export_name']}"

    def write(self, data: bytes) -> None:
        source = self.directory / f"src-{uuid.uuid4().hex}"
        source.write_bytes(data)
        done = run(["nbdcopy", str(source), self.uri()])
        assert done.returncode == 0, f"nbdcopy to the export failed: {done.stderr}"

    def read(self, length: int) -> bytes:
        out = self.directory / f"out-{uuid.uuid4().hex}"
        done = run(["nbdcopy", self.uri(), str(out)])
        assert done.returncode == 0, f"nbdcopy from the export failed: {done.stderr}"
        return out.read_bytes()[:length]

    def info_ok(self, uri: str | None = None) -> subprocess.CompletedProcess[str]:
        return run(["nbdinfo", "--size", uri or self.uri()], timeout=30)


# -- secrecy ---------------------------------------------------------------------------------


def assert_secret_hidden(svc: Service, *secrets: str) -> None:
    """No log file under state_path/log, no notification, no console output shows them."""
    places = {p: p.read_text(errors="replace") for p in svc.log_dir.rglob("*") if p.is_file()}
    notifications = svc.state_path / "notifications.jsonl"
    if notifications.exists():
        places[notifications] = notifications.read_text(errors="replace")
    places[svc.output_path] = svc.output()
    assert svc.log("volume"), "volume.log is empty: nothing was checked"
    for secret in secrets:
        assert secret and len(secret) >= 8, f"not a real secret: {secret!r}"
        for path, text in places.items():
            assert secret not in text, f"a secret appears in {path}"
