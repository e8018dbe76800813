"""Targets against real daemons: tgtd and qemu-nbd on loopback high ports, driven by the
userspace initiators a host would use (qemu's libiscsi driver, libnbd's nbdcopy/nbdinfo).

CHAP secrets reach the initiator through a ``--object secret,file=`` file, never argv.
"""

from __future__ import annotations

import glob
import os
import random
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from firebrick.targets import Credentials, Export, InvalidConnector, TargetError, build_target
from firebrick.targets.nbd import NbdSettings, NbdTarget
from firebrick.targets.runner import read_pid
from firebrick.targets.tgt import TgtTarget
from firebrick.targets.tgt_admin import TgtSettings

pytestmark = pytest.mark.integration

TOOLS = ("tgtd", "tgtadm", "qemu-img", "qemu-io", "qemu-nbd", "nbdcopy", "nbdinfo")
MiB = 1 << 20
HOST1 = "iqn.1993-08.org.debian:01:host1"
HOST2 = "iqn.1993-08.org.debian:01:host2"


def _missing() -> list[str]:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if not glob.glob("/usr/lib/*/qemu/block-iscsi.so"):
        missing.append("qemu-block-extra (block-iscsi.so)")
    return missing


@pytest.fixture(autouse=True)
def _tools() -> None:
    missing = _missing()
    if missing:
        message = f"target tools missing: {', '.join(missing)} (apt-get install tgt libiscsi-bin "
        message += "qemu-utils qemu-block-extra libnbd-bin nbdkit)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_control_port() -> int:
    while True:
        port = random.randint(20000, 32767)
        if (
            not Path(f"/run/tgtd/socket.{port}").exists()
            and not Path(f"/var/run/tgtd/socket.{port}").exists()
        ):
            return port


def make_volume(directory: Path, size: int = 8 * MiB, fmt: str = "raw") -> tuple[str, Path]:
    volume_id = str(uuid.uuid4())
    path = directory / f"volume-{volume_id}"
    subprocess.run(["qemu-img", "create", "-q", "-f", fmt, str(path), str(size)], check=True)
    return volume_id, path


def process_alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


# -- iSCSI -----------------------------------------------------------------------------------


@pytest.fixture
def tgt(tmp_path: Path) -> Iterator[TgtTarget]:
    settings = TgtSettings(
        state_dir=tmp_path / "tgt-state", control_port=free_control_port(), port=free_port()
    )
    target = TgtTarget(settings)
    target.start()
    yield target
    target.stop()


class Initiator:
    """qemu's userspace iSCSI initiator with the CHAP secret in a file."""

    def __init__(self, directory: Path, data: dict[str, Any], initiator: str) -> None:
        self.data, self.initiator = data, initiator
        self.secret = directory / f"chap-{uuid.uuid4().hex}"

    def opts(self, password: str | None = None) -> list[str]:
        self.secret.write_text(password if password is not None else self.data["auth_password"])
        self.secret.chmod(0o600)
        return [
            "--object",
            f"secret,id=chap0,file={self.secret}",
            "--image-opts",
            f"driver=iscsi,transport=tcp,portal={self.data['target_portal']},"
            f"target={self.data['target_iqn']},lun={self.data['target_lun']},"
            f"user={self.data['auth_username']},password-secret=chap0,"
            f"initiator-name={self.initiator}",
        ]

    def io(self, command: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
        argv = ["qemu-io", *self.opts(password), "-c", command]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60)

    def write_file(self, source: Path) -> subprocess.CompletedProcess[str]:
        opts = self.opts()
        argv = ["qemu-img", "convert", "-n", "-f", "raw", opts[0], opts[1], "--target-image-opts"]
        return subprocess.run(
            [*argv, str(source), opts[3]], capture_output=True, text=True, timeout=60
        )


def test_iscsi_export_write_and_access_control(tgt: TgtTarget, tmp_path: Path) -> None:
    volume_id, path = make_volume(tmp_path)
    export = tgt.export(volume_id, path, "raw", "att-1", {"initiator": HOST1, "host": "h1"})
    data = export.data
    assert export.credentials is not None
    assert data["target_iqn"] == f"iqn.2010-10.org.openstack:volume-{volume_id}"
    assert data["target_portal"] == f"127.0.0.1:{tgt.settings.port}"
    assert (data["target_lun"], data["auth_method"], data["discard"]) == (1, "CHAP", False)
    assert data["auth_password"] == export.credentials.password
    assert data["auth_password"] not in repr(export)

    pattern = tmp_path / "pattern"
    pattern.write_bytes(bytes(range(256)) * (4 * MiB // 256))
    host1 = Initiator(tmp_path, data, HOST1)
    done = host1.write_file(pattern)
    assert done.returncode == 0, done.stderr
    assert path.read_bytes()[: 4 * MiB] == pattern.read_bytes()
    done = host1.io("write -P 0x5a 6M 64k")
    assert done.returncode == 0, done.stderr
    assert path.read_bytes()[6 * MiB : 6 * MiB + 65536] == b"\x5a" * 65536
    assert host1.io("read -P 0x5a 6M 64k").returncode == 0

    wrong = host1.io("read 0 4k", password="not-the-password")
    assert wrong.returncode != 0 and "Authentication failure" in wrong.stderr
    stranger = Initiator(tmp_path, data, HOST2).io("read 0 4k")
    assert stranger.returncode != 0 and "Target not found" in stranger.stderr

    again = tgt.export(volume_id, path, "raw", "att-1", {"initiator": HOST1})
    assert again.data == data and again.credentials == export.credentials
    assert tgt.exported() == {volume_id: {"att-1"}}

    tgt.unexport(volume_id, "att-1")
    tgt.unexport(volume_id, "att-1")
    assert tgt.exported() == {}
    gone = host1.io("read 0 4k")
    assert gone.returncode != 0


def test_iscsi_per_attachment_access(tgt: TgtTarget, tmp_path: Path) -> None:
    volume_id, path = make_volume(tmp_path)
    first = tgt.export(volume_id, path, "raw", "att-1", {"initiator": HOST1})
    second = tgt.export(volume_id, path, "raw", "att-2", {"initiator": HOST2}, readonly=True)
    assert first.credentials != second.credentials
    assert first.data["target_iqn"] == second.data["target_iqn"]
    host2 = Initiator(tmp_path, second.data, HOST2)
    assert host2.io("read 0 4k").returncode == 0
    assert tgt.exported() == {volume_id: {"att-1", "att-2"}}

    tgt.unexport(volume_id, "att-2")
    refused = host2.io("read 0 4k")
    assert refused.returncode != 0
    host1 = Initiator(tmp_path, first.data, HOST1)
    done = host1.io("write -P 0x11 0 4k")
    assert done.returncode == 0, done.stderr
    assert tgt.exported() == {volume_id: {"att-1"}}


def test_iscsi_refusals_and_given_credentials(tgt: TgtTarget, tmp_path: Path) -> None:
    volume_id, path = make_volume(tmp_path)
    with pytest.raises(InvalidConnector, match="initiator"):
        tgt.export(volume_id, path, "raw", "att-1", {"host": "h1"})
    qcow_id, qcow = make_volume(tmp_path, fmt="qcow2")
    with pytest.raises(TargetError, match="raw files only"):
        tgt.export(qcow_id, qcow, "qcow2", "att-1", {"initiator": HOST1})
    given = Credentials("chapuser01", "chapsecret0123")
    export = tgt.export(volume_id, path, "raw", "att-1", {"initiator": HOST1}, given)
    assert export.credentials == given
    assert Initiator(tmp_path, export.data, HOST1).io("read 0 4k").returncode == 0
    renewed = Credentials("chapuser02", "chapsecret4567")
    export = tgt.export(volume_id, path, "raw", "att-1", {"initiator": HOST1}, renewed)
    assert export.data["auth_username"] == "chapuser02"
    assert Initiator(tmp_path, export.data, HOST1).io("read 0 4k").returncode == 0
    assert tgt.exported() == {volume_id: {"att-1"}}


def test_iscsi_restart_adopts_and_stop_leaves_no_daemon(tmp_path: Path) -> None:
    options = {"tgt_control_port": str(free_control_port()), "target_port": str(free_port())}
    state_dir = tmp_path / "state"
    first = build_target(options, state_dir=state_dir, backend="file-1")
    assert isinstance(first, TgtTarget) and first.protocol == "iscsi"
    first.start()
    try:
        volume_id, path = make_volume(tmp_path)
        export: Export = first.export(volume_id, path, "raw", "att-1", {"initiator": HOST1})
        pid = read_pid(state_dir / "tgtd.pid")

        # The volume service "crashes": a new object adopts the running tgtd.
        second = build_target(options, state_dir=state_dir, backend="file-1")
        second.start()
        second.start()
        assert read_pid(state_dir / "tgtd.pid") == pid and process_alive(pid)
        assert second.exported() == {volume_id: {"att-1"}}
        assert Initiator(tmp_path, export.data, HOST1).io("read 0 4k").returncode == 0

        # tgtd itself dies too: start() runs a new one and puts the exports back.
        assert pid is not None
        os.kill(pid, 9)
        while process_alive(pid):
            time.sleep(0.05)
        third = build_target(options, state_dir=state_dir, backend="file-1")
        third.start()
        new_pid = read_pid(state_dir / "tgtd.pid")
        assert new_pid != pid and process_alive(new_pid)
        assert third.exported() == {volume_id: {"att-1"}}
        done = Initiator(tmp_path, export.data, HOST1).io("write -P 0x22 0 4k")
        assert done.returncode == 0, done.stderr
    finally:
        last = build_target(options, state_dir=state_dir, backend="file-1")
        last.stop()
    assert not process_alive(new_pid)
    assert last.exported() == {}
    probe = subprocess.run(
        ["tgtadm", "-C", options["tgt_control_port"], "--op", "show", "--mode", "system"],
        capture_output=True,
    )
    assert probe.returncode != 0


# -- NBD -------------------------------------------------------------------------------------


def nbd_target(tmp_path: Path, tls: bool = False) -> NbdTarget:
    low = free_port()
    settings = NbdSettings(state_dir=tmp_path / "nbd-state", port_min=low, port_max=low, tls=tls)
    return NbdTarget(settings)


def nbd(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=60)


def test_nbd_export_write_restart_and_stop(tmp_path: Path) -> None:
    target = nbd_target(tmp_path)
    target.start()
    try:
        volume_id, path = make_volume(tmp_path)
        export = target.export(volume_id, path, "raw", "att-1", {"host": "h1"})
        data = export.data
        port = target.settings.port_min
        assert export.credentials is None
        assert data == {
            "host": "127.0.0.1",
            "port": port,
            "export_name": f"volume-{volume_id}",
            "volume_id": volume_id,
            "uri": f"nbd://127.0.0.1:{port}/volume-{volume_id}",
        }
        pattern = tmp_path / "pattern"
        pattern.write_bytes(os.urandom(8 * MiB))
        done = nbd("nbdcopy", str(pattern), data["uri"])
        assert done.returncode == 0, done.stderr
        assert path.read_bytes() == pattern.read_bytes()
        assert nbd("nbdinfo", "--size", data["uri"]).stdout.strip() == str(8 * MiB)
        assert target.export(volume_id, path, "raw", "att-1", {}).data == data

        pid_file = tmp_path / "nbd-state" / "nbd" / f"volume-{volume_id}.pid"
        pid = read_pid(pid_file)
        restarted = nbd_target(tmp_path)
        restarted.start()
        assert read_pid(pid_file) == pid and process_alive(pid)
        assert restarted.exported() == {volume_id: {"att-1"}}
        assert nbd("nbdinfo", "--size", data["uri"]).returncode == 0

        restarted.unexport(volume_id, "att-1")
        assert not process_alive(pid)
        assert nbd("nbdinfo", "--size", data["uri"]).returncode != 0
        restarted.export(volume_id, path, "raw", "att-2", {})
    finally:
        target.stop()
    assert target.exported() == {}
    assert not list((tmp_path / "nbd-state" / "nbd").glob("*.pid"))
    assert nbd("nbdinfo", "--size", data["uri"]).returncode != 0


def test_nbd_qcow2_and_readonly(tmp_path: Path) -> None:
    target = nbd_target(tmp_path)
    target.start()
    try:
        volume_id, path = make_volume(tmp_path, fmt="qcow2")
        export = target.export(volume_id, path, "qcow2", "att-1", {}, readonly=True)
        assert nbd("nbdinfo", "--size", export.data["uri"]).stdout.strip() == str(8 * MiB)
        pattern = tmp_path / "pattern"
        pattern.write_bytes(b"\xa5" * (8 * MiB))
        assert nbd("nbdcopy", str(pattern), export.data["uri"]).returncode != 0
        target.export(volume_id, path, "qcow2", "att-2", {})  # a writer: server restarts rw
        done = nbd("nbdcopy", str(pattern), export.data["uri"])
        assert done.returncode == 0, done.stderr
        through = tmp_path / "through.raw"
        assert nbd("nbdcopy", export.data["uri"], str(through)).returncode == 0
        assert through.read_bytes() == pattern.read_bytes()
    finally:
        target.stop()
    back = tmp_path / "back.raw"  # qemu-nbd caches qcow2 metadata: read the file once it is gone
    subprocess.run(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", str(path), str(back)])
    assert back.read_bytes() == pattern.read_bytes()


def test_nbd_tls_psk_per_attachment(tmp_path: Path) -> None:
    target = nbd_target(tmp_path, tls=True)
    target.start()
    try:
        volume_id, path = make_volume(tmp_path)
        first = target.export(volume_id, path, "raw", "att-1", {})
        second = target.export(volume_id, path, "raw", "att-2", {})
        assert first.credentials and second.credentials
        assert first.data["tls_psk_identity"] == first.credentials.username
        assert first.data["tls_psk_key"] not in repr(first)
        psk = oct((tmp_path / "nbd-state" / "nbd" / f"psk-{volume_id}" / "keys.psk").stat().st_mode)
        assert psk.endswith("600")

        def uri(export: Export) -> str:
            key_file = tmp_path / f"{export.data['tls_psk_identity']}.psk"
            key_file.write_text(f"{export.data['tls_psk_identity']}:{export.data['tls_psk_key']}")
            return f"{export.data['uri']}?tls-psk-file={key_file}"

        assert first.data["uri"].startswith("nbds://")
        for export in (first, second):
            done = nbd("nbdinfo", "--size", uri(export))
            assert done.returncode == 0, done.stderr
        plain = first.data["uri"].replace("nbds://", "nbd://").split("@")[0]
        plain = f"nbd://{first.data['host']}:{first.data['port']}/volume-{volume_id}"
        assert nbd("nbdinfo", "--size", plain).returncode != 0

        target.unexport(volume_id, "att-2")
        assert nbd("nbdinfo", "--size", uri(second)).returncode != 0
        assert nbd("nbdinfo", "--size", uri(first)).returncode == 0
        assert target.exported() == {volume_id: {"att-1"}}
    finally:
        target.stop()
