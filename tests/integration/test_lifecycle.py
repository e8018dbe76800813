"""The process itself: readiness line, log files, signals, and state kept across restarts."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest


def test_logs_where_it_listens_and_writes_its_logs(service):
    line = f"Firebrick API listening on {service.base_url}"
    log = service.output() + service.log("api")
    assert line in log, log[-2000:]
    for name in ("api", "scheduler", "volume"):
        assert (service.log_dir / f"{name}.log").exists(), list(service.log_dir.iterdir())


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_exits_on_signal(start_service, sig):
    svc = start_service()
    with svc.client() as api:
        api.create_volume()
    svc.process.send_signal(sig)
    try:
        code = svc.process.wait(10)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"firebrick serve did not exit on {sig.name}: {exc}")
    assert code in (0, -sig, 128 + sig), f"exit code {code} on {sig.name}"


def test_state_survives_a_restart(start_service):
    svc = start_service(backends={"file-1": {}, "file-2": {}})
    with svc.client() as api:
        created = api.post(
            "/types",
            json={
                "volume_type": {"name": "kept", "extra_specs": {"volume_backend_name": "file-2"}}
            },
        )
        assert created.status_code == 200, created.text
        volume = api.create_volume(
            size=2, name="persistent", volume_type="kept", metadata={"a": "1"}
        )
        project = api.project
    svc.restart()
    with svc.client(project) as api:
        shown = api.wait_for_volume(volume["id"])
        assert (shown["name"], shown["size"], shown["metadata"]) == ("persistent", 2, {"a": "1"})
        assert shown["volume_type"] == "kept"
        assert shown["os-vol-host-attr:host"] == volume["os-vol-host-attr:host"]
        path = svc.backends["file-2"].volume_path(volume["id"])
        assert os.stat(path).st_size == 2 * 2**30
        # The restarted service keeps working: a new volume, then deletes.
        other = api.create_volume(volume_type="kept")
        assert "@file-2#" in other["os-vol-host-attr:host"]
        api.delete_volume(volume["id"])
        api.delete_volume(other["id"])
        assert not path.exists()


def pool_free(api, backend):
    pools = api.get("/scheduler-stats/get_pools", params={"detail": "true"}).json()["pools"]
    (pool,) = [p for p in pools if p["capabilities"]["volume_backend_name"] == backend]
    return pool["capabilities"]["free_capacity_gb"]


def test_allocations_survive_a_restart(start_service):
    svc = start_service(
        backends={"small": {"file_thin_provisioning": "false", "file_capacity_gb": "2"}}
    )
    with svc.client() as api:
        first = api.create_volume(size=2)
        project = api.project
    svc.restart()
    with svc.client(project) as api:
        # The pool is full; a restart must not forget what is allocated on it.
        over = api.create_volume(size=1, wait="error")
        api.delete_volume(over["id"])
        api.delete_volume(first["id"])
        # Freed space is usable once the pool reports it (thick pools trust reported free).
        api.wait_for(lambda: pool_free(api, "small") >= 2, "the pool to report its space back")
        again = api.create_volume(size=2)
        api.delete_volume(again["id"])
