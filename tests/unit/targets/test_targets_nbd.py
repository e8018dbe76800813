"""NbdTarget against a fake qemu-nbd: argv, ports, PSK files, adoption."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import FakeRunner

from firebrick.targets import Credentials, TargetError, build_target
from firebrick.targets.nbd import NbdSettings, NbdTarget

VOL = "0b6a5d3e-1111-4a4a-9b9b-123456789abc"
VOL2 = "0b6a5d3e-2222-4a4a-9b9b-123456789abc"


@pytest.fixture
def runner() -> FakeRunner:
    return FakeRunner()


def volume(tmp_path: Path, volume_id: str = VOL) -> Path:
    path = tmp_path / f"volume-{volume_id}"
    path.write_bytes(b"\0" * 4096)
    return path


def make(tmp_path: Path, runner: FakeRunner, tls: bool = False, ports: int = 3) -> NbdTarget:
    settings = NbdSettings(
        state_dir=tmp_path / "state", port_min=20000, port_max=20000 + ports - 1, tls=tls
    )
    target = NbdTarget(settings, runner)
    target.start()
    return target


def servers(runner: FakeRunner) -> list[list[str]]:
    return [argv for argv in runner.processes.values() if argv[0] == "qemu-nbd"]


def test_export_runs_one_qemu_nbd_per_volume(tmp_path: Path, runner: FakeRunner) -> None:
    target = make(tmp_path, runner)
    path = volume(tmp_path)
    export = target.export(VOL, path, "qcow2", "att-1", {})
    assert export.credentials is None
    assert export.data == {
        "host": "127.0.0.1",
        "port": 20000,
        "export_name": f"volume-{VOL}",
        "volume_id": VOL,
        "uri": f"nbd://127.0.0.1:20000/volume-{VOL}",
    }
    (argv,) = servers(runner)
    pid_file = tmp_path / "state" / "nbd" / f"volume-{VOL}.pid"
    assert argv == [
        "qemu-nbd", "--fork", f"--pid-file={pid_file}", "--bind=127.0.0.1", "--port=20000",
        f"--export-name=volume-{VOL}", "--format=qcow2", "--persistent", "--shared=0", str(path),
    ]  # fmt: skip
    assert target.export(VOL, path, "qcow2", "att-2", {}).data == export.data
    assert target.export(VOL, path, "qcow2", "att-1", {}).data == export.data
    assert len(servers(runner)) == 1
    assert target.exported() == {VOL: {"att-1", "att-2"}}
    target.unexport(VOL, "att-1")
    assert len(servers(runner)) == 1
    target.unexport(VOL, "att-2")
    target.unexport(VOL, "att-2")
    assert servers(runner) == [] and not pid_file.exists() and target.exported() == {}


def test_ports_skip_busy_and_run_out(tmp_path: Path, runner: FakeRunner) -> None:
    runner.busy_ports = {20000}
    target = make(tmp_path, runner, ports=2)
    assert target.export(VOL, volume(tmp_path), "raw", "a", {}).data["port"] == 20001
    with pytest.raises(TargetError, match="No free NBD port"):
        target.export(VOL2, volume(tmp_path, VOL2), "raw", "a", {})
    assert target.exported() == {VOL: {"a"}}


def test_readonly_only_when_every_attachment_is(tmp_path: Path, runner: FakeRunner) -> None:
    target = make(tmp_path, runner)
    path = volume(tmp_path)
    target.export(VOL, path, "raw", "ro", {}, readonly=True)
    assert "--read-only" in servers(runner)[0]
    port = target.export(VOL, path, "raw", "rw", {}).data["port"]
    (argv,) = servers(runner)
    assert "--read-only" not in argv and f"--port={port}" in argv


def test_tls_psk_per_attachment(tmp_path: Path, runner: FakeRunner) -> None:
    target = make(tmp_path, runner, tls=True)
    path = volume(tmp_path)
    first = target.export(VOL, path, "raw", "att-1", {})
    given = Credentials("client-2", "ab" * 32)
    second = target.export(VOL, path, "raw", "att-2", {}, given)
    assert first.credentials is not None and second.credentials == given
    assert first.data["uri"] == f"nbds://{first.credentials.username}@127.0.0.1:20000/volume-{VOL}"
    assert first.data["tls_psk_identity"] == first.credentials.username
    assert first.data["tls_psk_key"] == first.credentials.password
    psk = tmp_path / "state" / "nbd" / f"psk-{VOL}" / "keys.psk"
    assert oct(psk.stat().st_mode).endswith("600")
    assert psk.read_text().splitlines() == [
        f"{first.credentials.username}:{first.credentials.password}",
        f"client-2:{'ab' * 32}",
    ]
    (argv,) = servers(runner)
    assert f"tls-creds-psk,id=tls0,endpoint=server,dir={psk.parent}" in argv
    assert "--tls-creds=tls0" in argv
    assert all(first.credentials.password not in a for a in argv)
    assert target.export(VOL, path, "raw", "att-1", {}) == first
    target.unexport(VOL, "att-1")
    assert psk.read_text().splitlines() == [f"client-2:{'ab' * 32}"]
    with pytest.raises(ValueError, match="hexadecimal"):
        target.export(VOL, path, "raw", "att-3", {}, Credentials("x", "not-hex"))


def test_restart_adopts_running_servers_and_cleans_orphans(
    tmp_path: Path, runner: FakeRunner
) -> None:
    first = make(tmp_path, runner)
    export = first.export(VOL, volume(tmp_path), "raw", "att-1", {})
    (pid,) = runner.processes
    orphan = runner._new_process(["qemu-nbd", f"--export-name=volume-{VOL2}"])
    (tmp_path / "state" / "nbd" / f"volume-{VOL2}.pid").write_text(f"{orphan}\n")

    second = make(tmp_path, runner)
    assert list(runner.processes) == [pid]
    assert second.exported() == {VOL: {"att-1"}}
    assert second.export(VOL, volume(tmp_path), "raw", "att-1", {}) == export

    runner.processes.clear()  # the server died with the host
    third = make(tmp_path, runner)
    (argv,) = servers(runner)
    assert f"--port={export.data['port']}" in argv
    assert third.exported() == {VOL: {"att-1"}}


def test_restart_drops_exports_whose_file_is_gone(tmp_path: Path, runner: FakeRunner) -> None:
    first = make(tmp_path, runner)
    path = volume(tmp_path)
    first.export(VOL, path, "raw", "att-1", {})
    path.unlink()
    second = make(tmp_path, runner)
    assert second.exported() == {} and servers(runner) == []


def test_stop_leaves_nothing(tmp_path: Path, runner: FakeRunner) -> None:
    target = make(tmp_path, runner, tls=True)
    target.export(VOL, volume(tmp_path), "raw", "a", {})
    target.export(VOL2, volume(tmp_path, VOL2), "raw", "a", {})
    target.stop()
    assert servers(runner) == [] and target.exported() == {}
    assert list((tmp_path / "state" / "nbd").iterdir()) == []


def test_build_target_nbd_options(tmp_path: Path) -> None:
    target = build_target(
        {"target_protocol": "nbd", "nbd_port_min": "30000", "nbd_port_max": "30010",
         "nbd_tls": "true", "target_ip_address": "10.0.0.5"},
        state_dir=tmp_path, backend="b",
    )  # fmt: skip
    assert isinstance(target, NbdTarget) and target.protocol == "nbd"
    assert target.settings == NbdSettings(tmp_path, "10.0.0.5", 30000, 30010, True)
    default = build_target({"target_protocol": "NBD"}, state_dir=tmp_path, backend="b")
    assert isinstance(default, NbdTarget)
    assert (default.settings.port_min, default.settings.port_max) == (10809, 10909)
    with pytest.raises(ValueError, match="nbd_port_max"):
        build_target(
            {"target_protocol": "nbd", "nbd_port_min": "5", "nbd_port_max": "4"},
            state_dir=tmp_path, backend="b",
        )  # fmt: skip
    with pytest.raises(ValueError, match="nbd_tls"):
        build_target(
            {"target_protocol": "nbd", "nbd_tls": "maybe"}, state_dir=tmp_path, backend="b"
        )
