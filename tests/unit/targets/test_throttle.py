"""Back-end QoS specs as qemu throttle limits, and the NBD target serving through them."""

from __future__ import annotations

from pathlib import Path

from fakes import FakeRunner

from firebrick.targets.nbd import NbdSettings, NbdTarget
from firebrick.targets.throttle import group_object, image_opts, throttle

VOL = "0b6a5d3e-1111-4a4a-9b9b-123456789abc"


def test_rates_bursts_and_lengths_map_to_qemu_names() -> None:
    got = throttle({
        "read_bytes_sec": "1000", "write_bytes_sec": 2000, "read_iops_sec": "10",
        "read_iops_sec_max": "50", "read_iops_sec_max_length": "5", "size_iops_sec": "4096",
        "not_a_rate": "1",
    })  # fmt: skip
    assert got.limits == {
        "bps-read": 1000, "bps-write": 2000, "iops-read": 10, "iops-read-max": 50,
        "iops-read-max-length": 5, "iops-size": 4096,
    }  # fmt: skip
    assert got.ignored == {}


def test_what_qemu_would_refuse_is_left_out_with_a_reason() -> None:
    got = throttle({
        "total_bytes_sec": "100", "write_bytes_sec": "50", "write_bytes_sec_max": "70",
        "total_iops_sec_max": "10", "read_iops_sec": "20", "read_iops_sec_max": "5",
        "write_iops_sec_max_length": "3", "total_bytes_sec_max_length": "2",
        "size_iops_sec": "1", "read_bytes_sec": "0",
    })  # fmt: skip
    assert got.limits == {"bps-total": 100, "iops-read": 20, "iops-size": 1}
    assert set(got.ignored) == {
        "write_bytes_sec", "write_bytes_sec_max", "total_iops_sec_max", "read_iops_sec_max",
        "write_iops_sec_max_length", "total_bytes_sec_max_length", "read_bytes_sec",
    }  # fmt: skip
    assert "total_bytes_sec is set" in got.ignored["write_bytes_sec"]
    assert got.ignored["read_bytes_sec"] == "not a positive integer"
    assert throttle({"size_iops_sec": "4096"}).limits == {}
    assert throttle({"total_iops_sec": "abc", "write_iops_sec": True}).limits == {}


def test_command_line_pieces() -> None:
    assert group_object("g", {"bps-write": 5, "iops-total": 7}) == (
        "throttle-group,id=g,limits.bps-write=5,limits.iops-total=7"
    )
    assert image_opts("g", "qcow2", "/data/a,b/volume-x") == (
        "driver=throttle,throttle-group=g,file.driver=qcow2,file.file.driver=file,"
        "file.file.filename=/data/a,,b/volume-x"
    )


def test_nbd_serves_through_the_throttle_and_restarts_when_limits_change(
    tmp_path: Path,
) -> None:
    runner = FakeRunner()
    target = NbdTarget(NbdSettings(state_dir=tmp_path / "state", port_min=20000,
                                   port_max=20002), runner)  # fmt: skip
    target.start()
    path = tmp_path / f"volume-{VOL}"
    path.write_bytes(b"\0" * 4096)
    target.export(VOL, path, "raw", "att-1", {}, qos={"write_bytes_sec": "1048576"})
    (argv,) = [a for a in runner.processes.values() if a[0] == "qemu-nbd"]
    assert "--format=raw" not in argv
    assert argv[argv.index("--object") + 1] == "throttle-group,id=fb-qos,limits.bps-write=1048576"
    assert "--image-opts" in argv
    assert argv[-1] == image_opts("fb-qos", "raw", str(path))
    started = len(runner.commands)
    # Same limits: the running server is kept.
    target.export(VOL, path, "raw", "att-2", {}, qos={"write_bytes_sec": "1048576"})
    assert len(runner.commands) == started
    # No limits any more: restarted on a plain export of the file.
    target.export(VOL, path, "raw", "att-2", {}, qos={})
    (argv,) = [a for a in runner.processes.values() if a[0] == "qemu-nbd"]
    assert "--format=raw" in argv and argv[-1] == str(path)
    assert not any("throttle" in a for a in argv)
