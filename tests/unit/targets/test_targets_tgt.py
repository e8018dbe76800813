"""TgtTarget against a fake tgtd: commands, ACL and account bookkeeping, masking."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest
from fakes import FakeRunner

from firebrick.targets import Credentials, Export, InvalidConnector, TargetError, build_target
from firebrick.targets.runner import SystemRunner, mask
from firebrick.targets.tgt import TgtTarget
from firebrick.targets.tgt_admin import (
    TgtSettings,
    default_control_port,
    parse_list,
    parse_targets,
)

HOST1 = "iqn.1993-08.org.debian:01:host1"
HOST2 = "iqn.1993-08.org.debian:01:host2"
VOL = "0b6a5d3e-1111-4a4a-9b9b-123456789abc"


@pytest.fixture
def runner() -> FakeRunner:
    return FakeRunner()


@pytest.fixture
def volume(tmp_path: Path) -> Path:
    path = tmp_path / f"volume-{VOL}"
    path.write_bytes(b"\0" * 4096)
    return path


def make(tmp_path: Path, runner: FakeRunner) -> TgtTarget:
    settings = TgtSettings(state_dir=tmp_path / "state", control_port=4242, port=13260)
    target = TgtTarget(settings, runner)
    target.start()
    return target


def test_start_spawns_tgtd_with_its_own_control_port_and_portal(
    tmp_path: Path, runner: FakeRunner
) -> None:
    make(tmp_path, runner)
    spawned = [c for c in runner.commands if c[0] == "tgtd"]
    assert spawned == [["tgtd", "-f", "-C", "4242", "--iscsi", "portal=127.0.0.1:13260"]]
    assert (tmp_path / "state" / "tgtd.pid").read_text().strip().isdigit()
    assert oct((tmp_path / "state").stat().st_mode).endswith("700")


def test_export_builds_target_lun_acl_and_chap(
    tmp_path: Path, runner: FakeRunner, volume: Path
) -> None:
    target = make(tmp_path, runner)
    export = target.export(VOL, volume, "raw", "att-1", {"initiator": HOST1})
    assert export.credentials is not None
    user, password = export.credentials.username, export.credentials.password
    assert export.data == {
        "target_discovered": False,
        "target_iqn": f"iqn.2010-10.org.openstack:volume-{VOL}",
        "target_portal": "127.0.0.1:13260",
        "target_lun": 1,
        "volume_id": VOL,
        "auth_method": "CHAP",
        "auth_username": user,
        "auth_password": password,
        "discard": False,
    }
    (_tid, fake), *_ = runner.targets.items()
    assert fake.iqn == f"iqn.2010-10.org.openstack:volume-{VOL}"
    assert fake.luns[1].path == str(volume) and not fake.luns[1].readonly
    assert fake.acls == [HOST1] and fake.accounts == [user]
    assert runner.accounts[user] == password
    new_account = next(c for c in runner.commands if "account" in c and "new" in c)
    assert runner.secrets_seen[runner.commands.index(new_account)] == [password]
    lun = next(c for c in runner.commands if "logicalunit" in c and "new" in c)
    assert lun[-4:] == ["--bstype", "rdwr", "--backing-store", str(volume)]
    assert all(password not in c for c in runner.commands if c is not new_account)
    assert len(password) >= 12 and user != password


def test_export_is_idempotent_and_adds_attachments(
    tmp_path: Path, runner: FakeRunner, volume: Path
) -> None:
    target = make(tmp_path, runner)
    first = target.export(VOL, volume, "raw", "att-1", {"initiator": HOST1})
    assert target.export(VOL, volume, "raw", "att-1", {"initiator": HOST1}) == first
    second = target.export(VOL, volume, "raw", "att-2", {"initiator": HOST2}, readonly=True)
    assert second.credentials != first.credentials
    assert len(runner.targets) == 1
    fake = next(iter(runner.targets.values()))
    assert sorted(fake.acls) == [HOST1, HOST2] and len(fake.accounts) == 2
    assert not fake.luns[1].readonly  # att-1 still writes
    assert target.exported() == {VOL: {"att-1", "att-2"}}

    target.unexport(VOL, "att-1")
    assert fake.acls == [HOST2] and fake.accounts == [second.data["auth_username"]]
    assert fake.luns[1].readonly  # only a read-only attachment is left
    assert first.data["auth_username"] not in runner.accounts
    target.unexport(VOL, "att-2")
    target.unexport(VOL, "att-2")
    assert runner.targets == {} and runner.accounts == {}
    assert target.exported() == {}


def test_one_initiator_two_attachments_keeps_acl_until_last(
    tmp_path: Path, runner: FakeRunner, volume: Path
) -> None:
    target = make(tmp_path, runner)
    target.export(VOL, volume, "raw", "att-1", {"initiator": HOST1})
    target.export(VOL, volume, "raw", "att-2", {"initiator": HOST1})
    target.unexport(VOL, "att-1")
    assert next(iter(runner.targets.values())).acls == [HOST1]


def test_given_credentials_are_used_and_renewed(
    tmp_path: Path, runner: FakeRunner, volume: Path
) -> None:
    target = make(tmp_path, runner)
    given = Credentials("chapuser01", "chapsecret0123")
    export = target.export(VOL, volume, "raw", "att-1", {"initiator": HOST1}, given)
    assert export.credentials == given and runner.accounts == {"chapuser01": "chapsecret0123"}
    renewed = Credentials("chapuser01", "othersecret456")
    target.export(VOL, volume, "raw", "att-1", {"initiator": HOST1}, renewed)
    assert runner.accounts == {"chapuser01": "othersecret456"}
    with pytest.raises(ValueError, match="username is already used"):
        target.export(VOL, volume, "raw", "att-2", {"initiator": HOST2}, renewed)
    with pytest.raises(ValueError, match="at least 12"):
        target.export(VOL, volume, "raw", "att-3", {"initiator": HOST2}, Credentials("u", "short"))


@pytest.mark.parametrize("connector", [{}, {"host": "h1"}, {"initiator": ""}, {"initiator": 5}])
def test_connector_without_initiator_is_invalid(
    tmp_path: Path, runner: FakeRunner, volume: Path, connector: dict[str, object]
) -> None:
    target = make(tmp_path, runner)
    with pytest.raises(InvalidConnector, match="initiator") as info:
        target.export(VOL, volume, "raw", "att-1", connector)
    assert isinstance(info.value, ValueError)
    assert target.exported() == {}


def test_qcow2_and_bad_ids_are_refused(tmp_path: Path, runner: FakeRunner, volume: Path) -> None:
    target = make(tmp_path, runner)
    with pytest.raises(TargetError, match="raw files only"):
        target.export(VOL, volume, "qcow2", "att-1", {"initiator": HOST1})
    with pytest.raises(ValueError, match="volume id"):
        target.export("../etc", volume, "raw", "att-1", {"initiator": HOST1})
    with pytest.raises(TargetError, match="no file"):
        target.export(VOL, volume.with_name("missing"), "raw", "att-1", {"initiator": HOST1})
    assert runner.targets == {}


def test_restart_adopts_running_tgtd_and_reconciles(
    tmp_path: Path, runner: FakeRunner, volume: Path
) -> None:
    first = make(tmp_path, runner)
    export = first.export(VOL, volume, "raw", "att-1", {"initiator": HOST1})
    runner.targets[99] = type(runner.targets[1])("iqn.2010-10.org.openstack:volume-orphan")
    runner.accounts["stray"] = "straypassword"
    spawned = sum(c[0] == "tgtd" for c in runner.commands)

    second = make(tmp_path, runner)
    assert sum(c[0] == "tgtd" for c in runner.commands) == spawned  # adopted
    assert second.exported() == {VOL: {"att-1"}}
    assert [t.iqn for t in runner.targets.values()] == [export.data["target_iqn"]]
    assert "stray" not in runner.accounts
    assert second.export(VOL, volume, "raw", "att-1", {"initiator": HOST1}) == export


def test_restart_after_tgtd_died_refills_it(
    tmp_path: Path, runner: FakeRunner, volume: Path
) -> None:
    first = make(tmp_path, runner)
    export = first.export(VOL, volume, "raw", "att-1", {"initiator": HOST1})
    runner.up, runner.targets, runner.accounts, runner.processes = False, {}, {}, {}
    second = make(tmp_path, runner)
    fake = next(iter(runner.targets.values()))
    assert fake.acls == [HOST1] and fake.accounts == [export.data["auth_username"]]
    assert runner.accounts[export.data["auth_username"]] == export.data["auth_password"]
    assert second.exported() == {VOL: {"att-1"}}


def test_stop_removes_exports_and_stops_tgtd_over_its_socket(
    tmp_path: Path, runner: FakeRunner, volume: Path
) -> None:
    target = make(tmp_path, runner)
    target.export(VOL, volume, "raw", "att-1", {"initiator": HOST1})
    target.stop()
    assert ["tgtadm", "-C", "4242", "--op", "delete", "--mode", "system"] in runner.commands
    assert not runner.up and runner.processes == {} and target.exported() == {}
    assert not (tmp_path / "state" / "tgtd.pid").exists()


def test_failed_export_is_reverted(tmp_path: Path, runner: FakeRunner, volume: Path) -> None:
    target = make(tmp_path, runner)
    original = runner._tgtadm

    def failing(argv: list[str]) -> object:
        if "--initiator-name" in argv and "bind" in argv:
            from firebrick.targets.runner import Result

            return Result(22, "", "tgtadm: out of memory")
        return original(argv)

    runner._tgtadm = failing  # type: ignore[method-assign,assignment]
    with pytest.raises(TargetError, match="out of memory"):
        target.export(VOL, volume, "raw", "att-1", {"initiator": HOST1})
    assert target.exported() == {} and runner.targets == {} and runner.accounts == {}


def test_secrets_are_masked_in_errors_logs_and_reprs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "s3cretpassw0rd"
    creds = Credentials("user", secret)
    assert secret not in repr(creds) and secret not in str(creds)
    export = Export({"auth_password": secret, "tls_psk_key": "abcd" * 8}, creds)
    assert secret not in repr(export) and "abcd" * 8 not in repr(export)
    assert mask(f"--password {secret} x", [secret]) == "--password *** x"

    caplog.set_level(logging.DEBUG, logger="firebrick.targets")
    runner = SystemRunner()
    with pytest.raises(TargetError) as info:
        runner.run(["sh", "-c", f"echo 'bad password {secret}' >&2; exit 3"], secrets=[secret])
    assert secret not in str(info.value) and "***" in str(info.value)
    assert info.value.__cause__ is None
    assert secret not in caplog.text

    slow = SystemRunner(timeout=0.2)
    with pytest.raises(TargetError, match="timed out") as timeout:
        slow.run(["sh", "-c", "sleep 5", secret], secrets=[secret])
    assert secret not in str(timeout.value)
    assert timeout.value.__suppress_context__ and timeout.value.__cause__ is None
    assert not isinstance(timeout.value.__cause__, subprocess.TimeoutExpired)


def test_parse_real_tgtadm_output() -> None:
    text = """Target 1: iqn.2010-10.org.openstack:volume-x
    System information:
        Driver: iscsi
        State: ready
    I_T nexus information:
        I_T nexus: 3
            Initiator: iqn.1993-08.org.debian:01:host1 alias: none
            Connection: 0
                IP Address: 127.0.0.1
    LUN information:
        LUN: 0
            Type: controller
            Readonly: No
            Backing store path: None
        LUN: 1
            Type: disk
            Readonly: Yes
            Backing store type: rdwr
            Backing store path: /tmp/tgtx/lun.img
            Backing store flags:
    Account information:
        u1
        u2
        out (outgoing)
    ACL information:
        iqn.1993-08.org.debian:01:host1
"""
    info = parse_targets(text)["iqn.2010-10.org.openstack:volume-x"]
    assert info.tid == 1 and info.luns[1].path == "/tmp/tgtx/lun.img" and info.luns[1].readonly
    assert info.accounts == {"u1", "u2"} and info.acls == {HOST1}
    assert info.sessions == {3: (HOST1, [0])}
    assert parse_list("Account list:\n    u2\n    u1\n", "Account list:") == {"u1", "u2"}
    assert parse_list("Portal: 127.0.0.1:3260,1\nPortal: [::1]:3261,1\n", "Portal") == {
        "127.0.0.1:3260",
        "[::1]:3261",
    }


def test_build_target_options(tmp_path: Path) -> None:
    target = build_target({}, state_dir=tmp_path, backend="file-1")
    assert isinstance(target, TgtTarget) and target.protocol == "iscsi"
    assert target.settings.control_port == default_control_port("file-1")
    assert 1 <= default_control_port("x") <= 32767
    assert default_control_port("file-1") == default_control_port("file-1")
    assert default_control_port("file-1") != default_control_port("file-2")
    assert (target.settings.ip, target.settings.port) == ("127.0.0.1", 3260)
    custom = build_target(
        {"tgt_control_port": "77", "target_ip_address": "10.0.0.5", "target_port": "13260",
         "target_prefix": "iqn.2024-01.org.example:"},
        state_dir=tmp_path, backend="b",
    )  # fmt: skip
    assert isinstance(custom, TgtTarget) and custom.settings.portal == "10.0.0.5:13260"
    for bad in ({"tgt_control_port": "40000"}, {"target_port": "x"}, {"target_protocol": "fc"}):
        with pytest.raises(ValueError):
            build_target(bad, state_dir=tmp_path, backend="b")
