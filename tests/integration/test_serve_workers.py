"""``firebrick serve`` with API worker processes (``osapi_volume_workers``).

The supervisor keeps a roles' process (scheduler, volume, backup) and the API workers
running; the workers reach the roles over the local transport. Killed under load, a
worker is replaced and a killed roles' process picks its work up again, each request done
once; quotas stay exact with several workers taking requests at once.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from harness import Service, VolumeApi

WORKERS = {"osapi_volume_workers": "2", "report_interval": "1"}
UNLIMITED = {"quota_volumes": "-1", "quota_gigabytes": "-1"}


def children(service: Service) -> dict[int, str]:
    """pid → ``worker-api`` / ``worker-roles`` for the processes under the supervisor."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) != service.process.pid:
            continue
        kind = next((c.decode() for c in cmdline if c.startswith(b"worker-")), "?")
        found[int(entry)] = kind
    return found


def of_kind(service: Service, kind: str) -> list[int]:
    return sorted(pid for pid, k in children(service).items() if k == f"worker-{kind}")


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def wait_all_available(api: VolumeApi, ids: list[str]) -> None:
    for volume_id in ids:
        assert api.wait_for_volume(volume_id, "available", timeout=120)["status"] == "available"


def test_the_service_runs_a_roles_process_and_the_api_workers(start_service):
    svc = start_service(defaults={**WORKERS})
    kinds = Counter(children(svc).values())
    assert kinds == {"worker-roles": 1, "worker-api": 2}
    with svc.client() as api:
        volume = api.create_volume(1)
        assert api.wait_for_volume(volume["id"], "available")["status"] == "available"
        # One /metrics for the service: the roles' flows and the workers' requests.
        metrics = httpx.get(f"{svc.base_url}/metrics").text
    assert 'firebrick_flows_total{flow="volume_create_manager",outcome="success"} 1.0' in metrics
    assert 'firebrick_info{roles="volume,scheduler,backup"' in metrics
    assert 'firebrick_info{roles="api"' in metrics
    # SIGTERM to the supervisor stops every child.
    pids = list(children(svc))
    assert svc.stop() == 0
    time.sleep(0.5)
    assert not [pid for pid in pids if Path(f"/proc/{pid}").exists()]


def test_an_api_worker_killed_under_load_is_replaced_and_nothing_is_stuck(start_service):
    svc = start_service(defaults={**WORKERS, **UNLIMITED})
    project = svc.client().project
    accepted: list[str] = []
    errors: list[str] = []
    stop = threading.Event()

    def load() -> None:
        # A connection a request, so that both workers take requests.
        while not stop.is_set():
            try:
                resp = httpx.post(
                    f"{svc.endpoint(project)}/volumes", json={"volume": {"size": 1}},
                    headers={"X-Auth-Token": f"tester:{project}"}, timeout=30,
                )  # fmt: skip
            except httpx.TransportError as exc:  # the killed worker's connections
                errors.append(type(exc).__name__)
                continue
            assert resp.status_code == 202, resp.text
            accepted.append(resp.json()["volume"]["id"])

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.5)
        victim = of_kind(svc, "api")[0]
        before = len(accepted)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            workers = of_kind(svc, "api")
            if len(workers) == 2 and victim not in workers:
                break
            time.sleep(0.1)
        assert len(workers) == 2 and victim not in workers, children(svc)
        time.sleep(3)  # the replacement takes requests too
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert len(accepted) > before + 10
    assert "api process" in svc.log("api") and "exited with -9" in svc.log("api")
    with svc.client(project) as api:
        wait_all_available(api, accepted)
        # A create cut off with the worker may have been recorded: it is not stuck either.
        listed = api.get("/volumes/detail", params={"limit": 1000}).json()["volumes"]
        assert {v["status"] for v in listed} == {"available"}
        assert len(listed) >= len(accepted)


def test_a_quota_is_exact_with_several_api_workers(start_service):
    svc = start_service(defaults={**WORKERS, "quota_volumes": "50"})
    project = svc.client().project
    workers = of_kind(svc, "api")
    ticks = {pid: cpu_ticks(pid) for pid in workers}

    def create(_: int) -> tuple[int, str | None]:
        with svc.client(project) as api:  # its own connection
            resp = api.post("/volumes", json={"volume": {"size": 1}})
            return resp.status_code, resp.json()["volume"][
                "id"
            ] if resp.status_code == 202 else None

    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(create, range(200)))
    codes = Counter(code for code, _ in results)
    assert codes == {202: 50, 413: 150}
    # Both workers answered some of them.
    assert all(cpu_ticks(pid) > ticks[pid] for pid in workers)
    with svc.client(project) as api:
        wait_all_available(api, [vid for _, vid in results if vid])
        usage = api.get(f"/os-quota-sets/{project}", params={"usage": "true"}).json()
        assert usage["quota_set"]["volumes"]["in_use"] == 50
        assert usage["quota_set"]["volumes"]["reserved"] == 0


def test_a_killed_roles_process_is_restarted_and_does_each_request_once(start_service):
    svc = start_service(defaults={**WORKERS, **UNLIMITED})
    roles = of_kind(svc, "roles")[0]
    ids: list[str] = []
    with svc.client() as api:
        for n in range(30):
            if n == 10:
                os.kill(roles, signal.SIGKILL)
            # The API keeps taking requests while the roles' process is gone: the workers
            # hold their casts until it listens again.
            resp = api.post("/volumes", json={"volume": {"size": 1}})
            assert resp.status_code == 202, resp.text
            ids.append(resp.json()["volume"]["id"])
        assert of_kind(svc, "roles") != [roles]
        wait_all_available(api, ids)
    ends = Counter(
        n["payload"]["volume_id"] for n in svc.notifications()
        if n.get("event_type") == "volume.create.end"
    )  # fmt: skip
    assert {volume_id: ends[volume_id] for volume_id in ids} == dict.fromkeys(ids, 1)
    assert svc.volume_files() == {f"file-1/volume-{volume_id}" for volume_id in ids}
    assert "roles process 0" in svc.log("api")
