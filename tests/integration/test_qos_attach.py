"""Where QoS takes effect: front-end specs reach the hypervisor in connection_info
``qos_specs`` (per-GB rates resolved for the volume's size), back-end specs are enforced
by the NBD export through qemu's throttle filter, measured with libnbd's nbdcopy.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from attach_helpers import (
    MiB,
    Nbd,
    action,
    api_client,
    attach,
    check,
    close_clients,
    connector,
    detach,
    require_tools,
    stop_targets,
    target_backend,
)
from attach_helpers import pattern as make_pattern
from harness import Service, VolumeApi, launch

pytestmark = pytest.mark.integration


@pytest.fixture
def nbd_service(tmp_path: Path) -> Iterator[Service]:
    """A private service whose backend ``file-1`` exports over NBD on one private port."""
    require_tools()
    backends = {"file-1": {"file_capacity_gb": "100", **target_backend("nbd")}}
    svc = launch(tmp_path / "svc", backends=backends)
    yield svc
    close_clients()
    svc.stop()
    stop_targets(svc)


def typed(api: VolumeApi, qos: dict[str, str] | None, encryption: bool = False) -> str:
    """A new type, associated with new QoS specs ``qos`` (consumer among them); its id."""
    name = f"qos-type-{uuid.uuid4().hex[:8]}"
    type_id: str = check(api.post("/types", json={"volume_type": {"name": name}}), 200)[
        "volume_type"]["id"]  # fmt: skip
    if qos is not None:
        body = {"qos_specs": {"name": f"qos-{uuid.uuid4().hex[:8]}", **qos}}
        specs_id = check(api.post("/qos-specs", json=body), 200)["qos_specs"]["id"]
        check(api.get(f"/qos-specs/{specs_id}/associate", params={"vol_type_id": type_id}), 202)
    if encryption:
        spec = {"provider": "luks", "cipher": "aes-xts-plain64", "key_size": 256,
                "control_location": "front-end"}  # fmt: skip
        check(api.post(f"/types/{type_id}/encryption", json={"encryption": spec}), 200)
    return type_id


def test_front_end_specs_in_connection_info(nbd_service: Service) -> None:
    api = api_client(nbd_service)
    front = typed(
        api,
        {"consumer": "front-end", "read_iops_sec": "2000", "total_bytes_sec_per_gb": "1048576",
         "total_bytes_sec_max": "3145728", "write_iops_sec_per_gb": "10",
         "write_iops_sec_per_gb_min": "50"},
        encryption=True,
    )  # fmt: skip
    volume = api.create_volume(2, volume_type=front)
    attachment = attach(api, volume["id"], connector(host="compute-qos"))
    info: dict[str, Any] = attachment["connection_info"]
    # Cinder's arithmetic: total 1 MiB/s per GiB of a 2 GiB volume, under the 3 MiB/s
    # ceiling; write IOPS 10 per GiB but at least 50.
    assert info["qos_specs"] == {
        "read_iops_sec": "2000", "total_bytes_sec": 2 * MiB, "write_iops_sec": 50,
    }  # fmt: skip
    assert info["encrypted"] is True
    shown = check(api.get(f"/attachments/{attachment['id']}"), 200)["attachment"]
    assert shown["connection_info"]["qos_specs"] == info["qos_specs"]
    detach(api, attachment["id"])

    # The legacy os-initialize_connection carries the same.
    legacy = action(api, volume["id"], "os-initialize_connection",
                    {"connector": connector(host="compute-legacy")})  # fmt: skip
    data = check(legacy, 200)["connection_info"]["data"]
    assert (data["qos_specs"], data["encrypted"]) == (info["qos_specs"], True)
    check(action(api, volume["id"], "os-terminate_connection",
                 {"connector": connector(host="compute-legacy")}), 202)  # fmt: skip


@pytest.mark.parametrize(
    ("qos", "expected"),
    [
        (None, None),
        ({"consumer": "back-end", "read_iops_sec": "100"}, None),
        ({"consumer": "both", "read_iops_sec": "100"}, {"read_iops_sec": "100"}),
    ],
)
def test_only_front_end_consumers_reach_the_hypervisor(
    nbd_service: Service, qos: dict[str, str] | None, expected: dict[str, str] | None
) -> None:
    api = api_client(nbd_service)
    volume = api.create_volume(1, volume_type=typed(api, qos))
    attachment = attach(api, volume["id"], connector(host="compute-qos"))
    assert attachment["connection_info"]["qos_specs"] == expected
    assert attachment["connection_info"]["encrypted"] is False
    detach(api, attachment["id"])


def timed_write(directory: Path, info: dict[str, Any], data: bytes) -> float:
    start = time.monotonic()
    Nbd(directory, info).write(data)
    return time.monotonic() - start


def server_argv(svc: Service, volume_id: str) -> list[str]:
    pid_file = svc.state_path / "targets" / "file-1" / "nbd" / f"volume-{volume_id}.pid"
    pid = int(pid_file.read_text().strip())
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")


def test_nbd_export_enforces_back_end_write_limit(nbd_service: Service, tmp_path: Path) -> None:
    """1 MiB/s of writes: 4 MiB take at least ~3 s through the export, and far less
    without the spec (both measured here, one after the other, on the same port)."""
    api = api_client(nbd_service)
    limited = api.create_volume(1, volume_type=typed(
        api, {"consumer": "back-end", "write_bytes_sec": str(MiB)}))  # fmt: skip
    free = api.create_volume(1, volume_type=typed(api, None))
    data = make_pattern(11, 4 * MiB)

    attachment = attach(api, limited["id"], connector(host="compute-qos"))
    info = attachment["connection_info"]
    assert info["qos_specs"] is None  # back-end specs are not the hypervisor's business
    argv = server_argv(nbd_service, limited["id"])
    assert "throttle-group,id=fb-qos,limits.bps-write=1048576" in argv, argv
    slow = timed_write(tmp_path, info, data)
    assert Nbd(tmp_path, info).read(len(data)) == data
    detach(api, attachment["id"])

    attachment = attach(api, free["id"], connector(host="compute-qos"))
    assert not any("throttle" in arg for arg in server_argv(nbd_service, free["id"]))
    fast = timed_write(tmp_path, attachment["connection_info"], data)
    detach(api, attachment["id"])

    assert slow >= 2.0, f"4 MiB at 1 MiB/s took only {slow:.2f} s"
    assert fast < slow / 2, f"unthrottled {fast:.2f} s vs throttled {slow:.2f} s"


def test_limits_qemu_refuses_are_dropped_not_fatal(nbd_service: Service, tmp_path: Path) -> None:
    """A total rate beside a read/write rate (qemu takes one or the other) and a
    non-numeric value: the export still works, applying what it can, and the volume log
    says what was left out."""
    api = api_client(nbd_service)
    volume = api.create_volume(1, volume_type=typed(
        api, {"consumer": "back-end", "total_iops_sec": "5000", "write_iops_sec": "100",
              "read_bytes_sec": "lots"}))  # fmt: skip
    attachment = attach(api, volume["id"], connector(host="compute-qos"))
    argv = server_argv(nbd_service, volume["id"])
    assert "throttle-group,id=fb-qos,limits.iops-total=5000" in argv, argv
    assert Nbd(tmp_path, attachment["connection_info"]).info_ok().returncode == 0
    log = nbd_service.log("volume")
    assert "QoS key write_iops_sec not applied" in log
    assert "QoS key read_bytes_sec not applied" in log
    detach(api, attachment["id"])


def test_in_use_volume_keeps_its_front_end_specs_on_retype(nbd_service: Service) -> None:
    api = api_client(nbd_service)
    first = typed(api, {"consumer": "front-end", "read_iops_sec": "100"})
    second = typed(api, {"consumer": "both", "read_iops_sec": "200"})
    back_only = typed(api, {"consumer": "back-end", "read_iops_sec": "300"})
    volume = api.create_volume(1, volume_type=first)
    attachment = attach(api, volume["id"], connector(host="compute-qos"))
    assert api.wait_for_volume(volume["id"], "in-use")
    message = api.assert_fault(action(api, volume["id"], "os-retype", {"new_type": second}), 400)
    assert message.startswith("Invalid volume: Retype needs volume to be in available")
    assert message.endswith("for in-use volumes front-end qos specs cannot change.")
    assert api.wait_for_volume(volume["id"], "in-use")["volume_type_id"] == first
    detach(api, attachment["id"])

    # Detached, it may change them; attached, between back-end-only specs, too.
    check(action(api, volume["id"], "os-retype", {"new_type": back_only}), 202)
    assert api.wait_for_volume(volume["id"])["volume_type_id"] == back_only
    other_back = typed(api, {"consumer": "back-end", "read_iops_sec": "400"})
    attachment = attach(api, volume["id"], connector(host="compute-qos"))
    check(action(api, volume["id"], "os-retype", {"new_type": other_back}), 202)
    assert api.wait_for_volume(volume["id"], "in-use")["volume_type_id"] == other_back
    detach(api, attachment["id"])
