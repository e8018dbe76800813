"""Scaled out: api, scheduler and volume services as separate processes over a real
RabbitMQ and PostgreSQL, with processes and servers killed and restarted under load.

Every test runs its own cluster on a fresh database and RabbitMQ vhost (see
``distributed.py``); the broker and the PostgreSQL server are shared by the tests of a
pytest worker, so the tests that restart them affect only themselves.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

# The helpers are imported here before pytest_plugins loads the module as a plugin.
pytest.register_assert_rewrite("distributed")

from distributed import Client, Cluster, StartCluster, backend_of, wait_for  # noqa: E402
from infra.postgres import PostgresServer  # noqa: E402
from infra.rabbitmq import RabbitMQServer  # noqa: E402

pytest_plugins = ["distributed"]
pytestmark = pytest.mark.integration

GiB = 1 << 30


def wait_all_final(api: Client, ids: list[str], timeout: float = 60.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    return [api.wait_for_final(v, max(deadline - time.monotonic(), 1.0)) for v in ids]


def wait_service_state(api: Client, binary: str, host: str, state: str, timeout: float) -> None:
    wait_for(
        lambda: api.service_state(binary, host) == state,
        f"{binary} {host} {state}",
        timeout,
    )


def concurrently(count: int, work: Any) -> list[Any]:
    """Run ``work(i)`` on ``count`` threads released at once; results (or exceptions)."""
    barrier = threading.Barrier(count)

    def run(i: int) -> Any:
        barrier.wait()
        try:
            return work(i)
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def assert_files_match(cluster: Cluster, backend: str, available: set[str]) -> None:
    files = cluster.volume_files(backend)
    assert sorted(files) == sorted(available), (
        f"{backend}: files of {sorted(set(files) - available)} have no available volume; "
        f"available volumes {sorted(available - set(files))} have no file"
    )


# ---------------------------------------------------------------------------------------
# roles as processes


def test_separate_roles_create_and_delete_a_volume(cluster_factory: StartCluster) -> None:
    cluster = cluster_factory(backends={"file-1": {"file_capacity_gb": "100"}})
    cluster.wait_for_pools("file-1")
    with cluster.client() as api:
        volume_id = api.create(name="separate")
        volume = api.wait_for_volume(volume_id)
        assert volume["os-vol-host-attr:host"].startswith(cluster.service_host("file-1") + "#")
        path = cluster.volume_dir("file-1") / f"volume-{volume_id}"
        assert path.is_file() and path.stat().st_size == GiB

        resp = api.delete(f"/volumes/{volume_id}")
        assert resp.status_code == 202, resp.text
        api.wait_for_gone(volume_id)
        assert not path.exists()
        assert cluster.volume_files("file-1") == []
    for name in ("api", "scheduler", "volume-file-1"):
        assert cluster.role(name).alive(), f"{name} exited"


def test_services_are_up_and_a_killed_volume_service_goes_down_and_gets_nothing(
    cluster_factory: StartCluster,
) -> None:
    # file-2 has far more room, so the capacity weigher prefers it while it is up.
    cluster = cluster_factory(
        backends={"file-1": {"file_capacity_gb": "100"}, "file-2": {"file_capacity_gb": "1000"}},
        defaults={"service_down_time": "4"},
    )
    cluster.wait_for_pools("file-1", "file-2")
    with cluster.client() as api:
        wait_service_state(api, "cinder-scheduler", cluster.host, "up", 10)
        for backend in ("file-1", "file-2"):
            wait_service_state(api, "cinder-volume", cluster.service_host(backend), "up", 10)

        first = api.wait_for_volume(api.create())
        assert backend_of(first) == "file-2"

        cluster.kill("volume-file-2")
        killed_at = time.monotonic()
        wait_service_state(api, "cinder-volume", cluster.service_host("file-2"), "down", 20)
        assert time.monotonic() - killed_at >= 2, "down before service_down_time passed"
        assert api.service_state("cinder-volume", cluster.service_host("file-1")) == "up"
        assert api.service_state("cinder-scheduler", cluster.host) == "up"

        ids = [api.create() for _ in range(4)]
        placed = [api.wait_for_volume(v, timeout=30) for v in ids]
        assert [backend_of(v) for v in placed] == ["file-1"] * 4
        assert sorted(cluster.volume_files("file-2")) == [first["id"]]


# ---------------------------------------------------------------------------------------
# crashes


def test_volume_service_killed_mid_create_leaves_no_stuck_volume_nor_orphan(
    cluster_factory: StartCluster,
) -> None:
    cluster = cluster_factory(backends={"file-1": {"file_create_delay": "3"}})
    cluster.wait_for_pools("file-1")
    with cluster.client() as api:
        ids = [api.create() for _ in range(3)]
        wait_for(lambda: cluster.volume_files("file-1"), "a volume file being made", 30)
        cluster.kill("volume-file-1")
        before = {v: (api.volume(v) or {}).get("status") for v in ids}
        assert "creating" in before.values(), before

        cluster.start("volume-file-1")
        finals = wait_all_final(api, ids, timeout=60)
        assert {v["status"] for v in finals} <= {"available", "error"}, finals
        available = {v["id"] for v in finals if v["status"] == "available"}
        assert_files_match(cluster, "file-1", available)


def test_requests_queued_while_the_scheduler_is_dead_are_placed_after_restart(
    cluster_factory: StartCluster,
) -> None:
    cluster = cluster_factory(backends={"file-1": {}})
    cluster.wait_for_pools("file-1")
    cluster.kill("scheduler")
    with cluster.client() as api:
        ids = [api.create() for _ in range(8)]
        time.sleep(1)
        assert {(api.volume(v) or {}).get("status") for v in ids} == {"creating"}

        cluster.start("scheduler")
        finals = wait_all_final(api, ids, timeout=60)
        assert [v["status"] for v in finals] == ["available"] * len(ids), finals
        assert_files_match(cluster, "file-1", set(ids))


def test_rabbitmq_restart_under_a_stream_of_creates_loses_and_duplicates_nothing(
    cluster_factory: StartCluster, rabbit_server: RabbitMQServer
) -> None:
    cluster = cluster_factory(backends={"file-1": {}, "file-2": {}})
    cluster.wait_for_pools("file-1", "file-2")
    accepted: list[str] = []
    refused: list[str] = []
    retries = Counter[str]()
    stop = threading.Event()
    project = cluster.client().project

    def stream() -> None:
        """A client creating volumes one after another, retrying as a client would."""
        with cluster.client(project) as api:
            while not stop.is_set():
                try:
                    resp = api.post("/volumes", json={"volume": {"size": 1}})
                except httpx.TransportError as exc:
                    retries[type(exc).__name__] += 1
                    time.sleep(0.2)
                    continue
                if resp.status_code == 202:
                    accepted.append(resp.json()["volume"]["id"])
                elif resp.status_code >= 500:
                    retries[str(resp.status_code)] += 1
                    time.sleep(0.2)
                else:
                    refused.append(f"{resp.status_code} {resp.text}")
                time.sleep(0.02)

    thread = threading.Thread(target=stream, daemon=True)
    thread.start()
    try:
        wait_for(lambda: len(accepted) >= 5, "creates accepted before the restart", 30)
        before_restart = len(accepted)
        rabbit_server.restart()
        after_restart = len(accepted)
        wait_for(lambda: len(accepted) >= after_restart + 5, "creates after the restart", 60)
    finally:
        stop.set()
        thread.join(60)
    assert not thread.is_alive()
    assert refused == []
    assert before_restart < len(accepted)

    with cluster.client(project) as api:
        finals = wait_all_final(api, accepted, timeout=90)
        not_available = [v for v in finals if v["status"] != "available"]
        assert not_available == [], not_available
        listed = [v["id"] for v in api.volumes()]
    files = cluster.all_volume_files()
    duplicated = [v for v, n in Counter(files).items() if n > 1]
    assert duplicated == [], f"volumes with a file on two backends: {duplicated}"
    assert len(accepted) == len(set(accepted))
    assert sorted(listed) == sorted(accepted), (
        f"listed but never accepted: {set(listed) - set(accepted)}; "
        f"accepted but not listed: {set(accepted) - set(listed)}; client retries: {retries}"
    )
    assert sorted(files) == sorted(accepted)
    for name in cluster.roles:
        assert cluster.role(name).alive(), f"{name} died with the broker"


def test_services_recover_from_a_postgresql_restart_by_themselves(
    cluster_factory: StartCluster, pg_server: PostgresServer
) -> None:
    cluster = cluster_factory(backends={"file-1": {}}, defaults={"service_down_time": "4"})
    cluster.wait_for_pools("file-1")
    with cluster.client() as api:
        api.wait_for_volume(api.create())
        pg_server.restart("fast")
        # Long enough for every service to have met the dropped connections at least once.
        time.sleep(3)
        for name in cluster.roles:
            assert cluster.role(name).alive(), f"{name} died with the database"

        volume_id = api.create()
        api.wait_for_volume(volume_id, timeout=30)
        wait_service_state(api, "cinder-scheduler", cluster.host, "up", 15)
        wait_service_state(api, "cinder-volume", cluster.service_host("file-1"), "up", 15)
        assert len(cluster.volume_files("file-1")) == 2


# ---------------------------------------------------------------------------------------
# concurrency


def test_200_concurrent_creates_against_a_quota_of_50(cluster_factory: StartCluster) -> None:
    cluster = cluster_factory(
        backends={"file-1": {"file_capacity_gb": "10000"}},
        defaults={"quota_volumes": "50", "quota_gigabytes": "-1"},
    )
    cluster.wait_for_pools("file-1")
    with cluster.client(timeout=120) as api:
        responses = concurrently(
            200, lambda i: api.post("/volumes", json={"volume": {"size": 1, "name": f"q{i}"}})
        )
        failed = [r for r in responses if not isinstance(r, httpx.Response)]
        assert failed == []
        codes = Counter(r.status_code for r in responses)
        assert codes == {202: 50, 413: 150}, codes
        for resp in responses:
            if resp.status_code == 413:
                assert list(resp.json()) == ["overLimit"], resp.text
        accepted = [r.json()["volume"]["id"] for r in responses if r.status_code == 202]
        listed = [v["id"] for v in api.volumes()]
        assert sorted(listed) == sorted(accepted)
        finals = wait_all_final(api, accepted, timeout=90)
        assert {v["status"] for v in finals} == {"available"}
    assert_files_match(cluster, "file-1", set(accepted))


# A thick pool's volumes are allocated in full on the test's disk: 3 GiB, not tens.
THICK_SLOTS = 3


def test_two_schedulers_never_overcommit_a_thick_pool(cluster_factory: StartCluster) -> None:
    cluster = cluster_factory(
        backends={
            "file-1": {
                "file_capacity_gb": str(THICK_SLOTS),
                "file_thin_provisioning": "false",
                "reserved_percentage": "0",
            }
        },
        roles=("api", "scheduler", "scheduler2", "volume-file-1"),
    )
    cluster.wait_for_pools("file-1")
    asks = 4 * THICK_SLOTS
    with cluster.client(timeout=120) as api:
        responses = concurrently(asks, lambda i: api.post("/volumes", json={"volume": {"size": 1}}))
        assert [getattr(r, "status_code", r) for r in responses] == [202] * asks
        ids = [r.json()["volume"]["id"] for r in responses]
        finals = wait_all_final(api, ids, timeout=90)
        by_status = Counter(v["status"] for v in finals)
        available = {v["id"] for v in finals if v["status"] == "available"}
        assert len(available) <= THICK_SLOTS, by_status
        assert set(by_status) <= {"available", "error"}, by_status
        assert len(available) == THICK_SLOTS, f"space left unused: {by_status}"
        for volume in finals:
            if volume["status"] != "error":
                continue
            messages = api.messages_for(volume["id"])
            assert len(messages) == 1, messages
            assert "CapacityFilter" in messages[0]["user_message"], messages[0]
    assert_files_match(cluster, "file-1", available)
    for name in ("scheduler", "scheduler2"):
        log = cluster.role(name).log()
        assert any(v in log for v in ids), f"{name} placed none of the volumes"
        # Never placed beyond the pool: no create went back to a scheduler for a second
        # attempt (the driver's own refusal of an overcommitted volume would end the same
        # way, as an error naming the CapacityFilter, after a reschedule).
        assert "(attempt 2" not in log, f"{name} placed a volume twice"


def test_cleanup_moves_a_dead_services_create_to_another_backend(
    cluster_factory: StartCluster,
) -> None:
    # file-1 is preferred (more room) and holds each create long enough to die in it.
    cluster = cluster_factory(
        backends={
            "file-1": {"file_capacity_gb": "1000", "file_create_delay": "30"},
            "file-2": {"file_capacity_gb": "100"},
        },
        defaults={"service_down_time": "3"},
    )
    cluster.wait_for_pools("file-1", "file-2")
    dead = cluster.service_host("file-1")
    with cluster.client(microversion="3.24") as api:
        volume_id = api.create()
        wait_for(lambda: cluster.volume_files("file-1"), "the create on file-1", 30)
        cluster.kill("volume-file-1")

        wait_service_state(api, "cinder-volume", dead, "down", 20)
        resp = api.post("/workers/cleanup", json={"host": dead})
        assert resp.status_code == 202, resp.text
        assert [s["host"] for s in resp.json()["cleaning"]] == [dead], resp.json()

        volume = api.wait_for_volume(volume_id, timeout=30)
        assert backend_of(volume) == "file-2"
        assert cluster.volume_files("file-2") == [volume_id]

    # When file-1 comes back it removes what it left behind.
    cluster.start("volume-file-1")
    wait_for(lambda: cluster.volume_files("file-1") == [], "the orphan removed", 30)
